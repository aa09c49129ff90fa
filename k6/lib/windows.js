// Time windows: a run of `secs` seconds in windows of `windowSecs`, named 00, 01, ... Each request
// carries its window's name as a tag (window:NN), so that the summary has latency and failures
// per window (thresholds that name each window make k6 report it: see reportByTag).
import { latencyRow } from './summary.js';

export function timeWindows(secs, windowSecs) {
  const count = Math.ceil(secs / windowSecs);
  const name = (i) => String(i).padStart(2, '0');
  const names = Array.from({ length: count }, (_, i) => name(i));
  return {
    names,
    // at is the window of a request made t seconds into the scenario (past the end: the last one).
    at: (t) => name(Math.min(count - 1, Math.floor(t / windowSecs))),
    // series is each window that saw requests: its name, its start (s) and its latency row.
    series: (data) =>
      names
        .map((w) => [w, latencyRow(data, 'window', w)])
        .filter(([, r]) => r)
        .map(([w, r]) => Object.assign({ window: w, start_s: Number(w) * windowSecs }, r)),
  };
}
