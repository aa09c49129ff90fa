// hpa: the load `make k8s-lab` puts on the kind cluster, to watch its autoscalers work. A quiet
// shop, a surge that holds for minutes (long enough for the HorizontalPodAutoscalers to add Pods),
// then a long lull at the quiet rate, through which the scale-down must wait out its 300 s
// stabilization window. Each request is tagged with its time window (window:00, 01, ...) so that
// the summary carries req/s, p95 and failures per window, which k6/lab lines up with the replica
// counts it sampled from the cluster over the same minutes.
//   make k8s-lab                      BASE_RATE (default 5/s), SPIKE_RATE (default 250/s),
//                                     IDLE (30s), RISE (20s), HOLD (3m), FALL (10s), AFTER (9m),
//                                     WINDOW (15s), MAX_VUS, PRE_VUS (see vusFor)
// About 13 min in all. Reads only (the browse mix), through the edge: the edge answers most of
// them, the misses reach the gateway and catalog Pods, whose CPU the autoscalers watch.
import exec from 'k6/execution';
import { envDuration, envInt, slo, vusFor } from './lib/config.js';
import { browse, browseEndpoints, preflight } from './lib/catalog.js';
import { reportByTag, sloThresholds, SYSTEM_TAGS, TREND_STATS } from './lib/thresholds.js';
import { summaryHandler, table } from './lib/summary.js';
import { timeWindows } from './lib/windows.js';

const BASE_RATE = envInt('BASE_RATE', 5);
const SPIKE_RATE = envInt('SPIKE_RATE', 250);
const IDLE = envDuration('IDLE', '30s');
const RISE = envDuration('RISE', '20s');
const HOLD = envDuration('HOLD', '3m');
const FALL = envDuration('FALL', '10s');
const AFTER = envDuration('AFTER', '9m');
const WINDOW = envDuration('WINDOW', '15s');
// Reported, not judged: the lab judges the autoscalers, and prints the failed-request rate itself.
const SLO = slo({ p95: 1000, p99: 3000, failRate: 0.01 });

const total = IDLE.secs + RISE.secs + HOLD.secs + FALL.secs + AFTER.secs;
const windows = timeWindows(total, WINDOW.secs);

export const options = {
  scenarios: {
    hpa: Object.assign(
      {
        executor: 'ramping-arrival-rate',
        startRate: BASE_RATE,
        timeUnit: '1s',
        stages: [
          { duration: IDLE.text, target: BASE_RATE },
          { duration: RISE.text, target: SPIKE_RATE },
          { duration: HOLD.text, target: SPIKE_RATE },
          { duration: FALL.text, target: BASE_RATE },
          { duration: AFTER.text, target: BASE_RATE },
        ],
      },
      vusFor(SPIKE_RATE),
    ),
  },
  thresholds: Object.assign(sloThresholds(SLO, browseEndpoints(0)), reportByTag('window', windows.names)),
  summaryTrendStats: TREND_STATS,
  systemTags: SYSTEM_TAGS,
};

// The windows count from the scenario's start, right after setup; its wall-clock time lets the lab
// line them up with the replica counts it sampled.
export function setup() {
  preflight(0);
  return { startedMs: Date.now() };
}

export default function () {
  const t = (Date.now() - exec.scenario.startTime) / 1000;
  browse({ window: windows.at(t) }, 0);
}

export const handleSummary = summaryHandler('hpa', (data) => {
  const series = windows.series(data);
  const rows = series.map((s) => [`${s.window} (+${s.start_s}s)`, s]);
  return {
    json: {
      base_rate: BASE_RATE,
      spike_rate: SPIKE_RATE,
      window_s: WINDOW.secs,
      phases_s: { idle: IDLE.secs, rise: RISE.secs, hold: HOLD.secs, fall: FALL.secs, after: AFTER.secs },
      started_unix_ms: data.setup_data ? data.setup_data.startedMs : null,
      windows: series,
    },
    text: table('window', rows, WINDOW.secs),
  };
});
