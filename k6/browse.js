// browse: the storefront's read-heavy mix (product pages, home page, deeper listing pages; see
// BROWSE_MIX in lib/catalog.js) at a constant arrival rate. The figures to compare between modes:
// p50/p95/p99 and the failure rate at the same offered load.
//   make k6 SCENARIO=browse           RATE (requests/s, default 200), DURATION (default 60s),
//                                     WRITE_PCT (admin writes, % of requests, default 0)
//
// Why an arrival rate: a closed model (N VUs in a loop) sends the next request only when the
// previous one returns, so a slow server receives less load and its slowness hides itself
// (coordinated omission). constant-arrival-rate starts RATE iterations per second whatever the
// latency; each iteration is one request, so RATE is the request rate. When every VU is busy,
// k6 drops iterations and counts them: the dropped_iterations threshold fails the run, because
// the stack was then not given the load the report claims.
import { envDuration, envInt, envNumber, slo, vusFor } from './lib/config.js';
import { browse, browseEndpoints, preflight } from './lib/catalog.js';
import { sloThresholds, SYSTEM_TAGS, TREND_STATS } from './lib/thresholds.js';
import { summaryHandler } from './lib/summary.js';

const RATE = envInt('RATE', 200);
const DURATION = envDuration('DURATION', '60s');
const WRITE_PCT = envNumber('WRITE_PCT', 0);
const SLO = slo({ p95: 250, p99: 500, failRate: 0.01 });

export const options = {
  scenarios: {
    browse: Object.assign(
      { executor: 'constant-arrival-rate', rate: RATE, timeUnit: '1s', duration: DURATION.text },
      vusFor(RATE),
    ),
  },
  thresholds: Object.assign(sloThresholds(SLO, browseEndpoints(WRITE_PCT)), {
    // Up to 1% of the planned iterations may be dropped (VU start-up), no more.
    dropped_iterations: [`count<${Math.max(1, Math.ceil(RATE * DURATION.secs * 0.01))}`],
  }),
  summaryTrendStats: TREND_STATS,
  systemTags: SYSTEM_TAGS,
};

export function setup() {
  preflight(WRITE_PCT);
}

export default function () {
  browse({}, WRITE_PCT);
}

export const handleSummary = summaryHandler('browse');
