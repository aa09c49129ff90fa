// soak: a moderate, constant arrival rate for a bounded time, watching for drift: latency that
// creeps up as caches churn, pools leak, queues or tables grow. Each request is tagged with its
// time window (window:00, 01, ...), every window is held to the SLO on its own, and the summary
// shows one row per window with the p95 trend from first to last.
//   make k6 SCENARIO=soak             RATE (default 100/s), DURATION (default 10m),
//                                     WINDOW (default 1m), WRITE_PCT (admin writes, default 1%)
// The restocks (1% by default) keep cache invalidation and the write path busy while reads run.
// Memory drift of the services is read from the stack (docker stats; Prometheus once it is in
// the stack) over the same interval: k6 sees only what the edge answers.
import exec from 'k6/execution';
import { envDuration, envInt, envNumber, slo, vusFor } from './lib/config.js';
import { browse, browseEndpoints, preflight } from './lib/catalog.js';
import { sloThresholds, SYSTEM_TAGS, TREND_STATS } from './lib/thresholds.js';
import { ms, summaryHandler, table } from './lib/summary.js';
import { timeWindows } from './lib/windows.js';

const RATE = envInt('RATE', 100);
const DURATION = envDuration('DURATION', '10m');
const WINDOW = envDuration('WINDOW', '1m');
const WRITE_PCT = envNumber('WRITE_PCT', 1);
const SLO = slo({ p95: 250, p99: 500, failRate: 0.01 });

const windows = timeWindows(DURATION.secs, WINDOW.secs);

// Every window must meet the SLO by itself: a late drift cannot hide in a good average.
const windowThresholds = {};
for (const w of windows.names) {
  windowThresholds[`http_req_duration{window:${w}}`] = [`p(95)<${SLO.p95}`, `p(99)<${SLO.p99}`];
  windowThresholds[`http_req_failed{window:${w}}`] = [`rate<${SLO.failRate}`];
}

export const options = {
  scenarios: {
    soak: Object.assign(
      { executor: 'constant-arrival-rate', rate: RATE, timeUnit: '1s', duration: DURATION.text },
      vusFor(RATE),
    ),
  },
  thresholds: Object.assign(sloThresholds(SLO, browseEndpoints(WRITE_PCT)), windowThresholds, {
    dropped_iterations: [`count<${Math.max(1, Math.ceil(RATE * DURATION.secs * 0.01))}`],
  }),
  summaryTrendStats: TREND_STATS,
  systemTags: SYSTEM_TAGS,
};

export function setup() {
  preflight(WRITE_PCT);
}

export default function () {
  const t = (Date.now() - exec.scenario.startTime) / 1000;
  browse({ window: windows.at(t) }, WRITE_PCT);
}

// since labels a window by its start: +90s, +2m.
function since(secs) {
  return secs % 60 === 0 ? `${secs / 60}m` : `${secs}s`;
}

// slope is the least-squares slope of ys over their index.
function slope(ys) {
  const n = ys.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) * (x - mx);
  });
  return num / den;
}

export const handleSummary = summaryHandler('soak', (data) => {
  const series = windows.series(data);
  const rows = series.map((s) => [`${s.window} (+${since(s.start_s)})`, s]);
  const p95s = series.map((s) => s.p95);
  const drift = {
    p95_first_ms: p95s.length ? p95s[0] : null,
    p95_last_ms: p95s.length ? p95s[p95s.length - 1] : null,
    p95_last_over_first: p95s.length > 1 && p95s[0] > 0 ? p95s[p95s.length - 1] / p95s[0] : null,
    p95_slope_ms_per_window: slope(p95s),
  };
  const text = [
    table('window', rows, WINDOW.secs),
    `  p95 drift: ${ms(drift.p95_first_ms)} → ${ms(drift.p95_last_ms)}` +
      (drift.p95_last_over_first ? ` (×${drift.p95_last_over_first.toFixed(2)})` : '') +
      `, trend ${drift.p95_slope_ms_per_window >= 0 ? '+' : ''}${drift.p95_slope_ms_per_window.toFixed(2)} ms per ${WINDOW.text}`,
  ].join('\n');
  return { json: { rate: RATE, window_s: WINDOW.secs, windows: series, drift }, text };
});
