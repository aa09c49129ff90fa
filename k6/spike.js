// spike: the 2:47 am story. The shop idles at a few requests per second; a push notification
// goes out, and within seconds the arrival rate jumps to SPIKE_RATE; it holds briefly, then falls
// back. Does the stack absorb the surge (errors, p99 during it) and recover once it passes (p95
// after it)? The summary has one row per phase: before, surge, after.
//   make k6 SCENARIO=spike            BASE_RATE (default 5/s), SPIKE_RATE (default 800/s),
//                                     RISE (default 5s), HOLD (default 30s), MAX_VUS (default 500),
//                                     WRITE_PCT (admin writes, % of requests, default 0)
// About 70 s in all. Arrival-rate, not VUs: a surge of shoppers does not wait for the shop to
// answer the previous one, so neither does k6 (see browse.js). MAX_VUS bounds k6's own memory on
// a laptop; iterations k6 cannot start for lack of VUs are counted as dropped.
import exec from 'k6/execution';
import { envDuration, envInt, envNumber, slo } from './lib/config.js';
import { browse, browseEndpoints, preflight } from './lib/catalog.js';
import { reportByTag, sloThresholds, SYSTEM_TAGS, TREND_STATS } from './lib/thresholds.js';
import { latencyRow, summaryHandler, table } from './lib/summary.js';

const BASE_RATE = envInt('BASE_RATE', 5);
const SPIKE_RATE = envInt('SPIKE_RATE', 800);
const RISE = envDuration('RISE', '5s');
const HOLD = envDuration('HOLD', '30s');
const WRITE_PCT = envNumber('WRITE_PCT', 0);
const IDLE = { text: '10s', secs: 10 };
const FALL = { text: '5s', secs: 5 };
const RECOVER = { text: '20s', secs: 20 };
// Under a spike some slowness is expected; errors are not, and the stack must recover after it.
const SLO = slo({ p95: 500, p99: 1500, failRate: 0.01 });
const AFTER_P95 = envInt('AFTER_P95_MS', 250);

const surgeStart = IDLE.secs;
const surgeEnd = IDLE.secs + RISE.secs + HOLD.secs;
const phaseSecs = { before: IDLE.secs, surge: RISE.secs + HOLD.secs, after: FALL.secs + RECOVER.secs };

export const options = {
  scenarios: {
    spike: {
      executor: 'ramping-arrival-rate',
      startRate: BASE_RATE,
      timeUnit: '1s',
      stages: [
        { duration: IDLE.text, target: BASE_RATE },
        { duration: RISE.text, target: SPIKE_RATE },
        { duration: HOLD.text, target: SPIKE_RATE },
        { duration: FALL.text, target: BASE_RATE },
        { duration: RECOVER.text, target: BASE_RATE },
      ],
      preAllocatedVUs: 50,
      maxVUs: envInt('MAX_VUS', 500),
    },
  },
  thresholds: Object.assign(sloThresholds(SLO, browseEndpoints(WRITE_PCT)), reportByTag('phase', ['before', 'surge']), {
    // Recovered: once the surge has passed, latency is back to normal.
    'http_req_duration{phase:after}': [`p(95)<${AFTER_P95}`],
    'http_req_failed{phase:after}': [`rate<${SLO.failRate}`],
  }),
  summaryTrendStats: TREND_STATS,
  systemTags: SYSTEM_TAGS,
};

export function setup() {
  preflight(WRITE_PCT);
}

export default function () {
  const t = (Date.now() - exec.scenario.startTime) / 1000;
  browse({ phase: t < surgeStart ? 'before' : t < surgeEnd ? 'surge' : 'after' }, WRITE_PCT);
}

export const handleSummary = summaryHandler('spike', (data) => {
  const phases = {};
  const rows = [];
  for (const p of ['before', 'surge', 'after']) {
    const r = latencyRow(data, 'phase', p);
    if (!r) continue;
    phases[p] = r;
    rows.push([p, r]);
  }
  return {
    json: { base_rate: BASE_RATE, spike_rate: SPIKE_RATE, phases },
    text: rows.length ? table('phase', rows, (p) => phaseSecs[p]) : '',
  };
});
