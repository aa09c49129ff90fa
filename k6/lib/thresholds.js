// Thresholds: the pass/fail rules of a run. A crossed threshold makes k6 exit non-zero (99), which
// is what fails CI. k6 also reports a tagged sub-metric such as http_req_duration{endpoint:x}
// only when a threshold names it, so the summary's per-endpoint (and per-step) rows come from here.

// The trend statistics every summary carries, for the thresholds below and for the lab's tables.
export const TREND_STATS = ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max', 'count'];

// The tags k6 puts on every sample, for the scenarios' options (systemTags). Without `url`, which
// k6 adds by default: every product id is another URL, so every product page was a time series
// of its own for k6 to make and keep, on the cores the stack is measured on. Requests carry
// `name` (the URL's pattern) instead.
export const SYSTEM_TAGS = ['status', 'method', 'name', 'group', 'check', 'error', 'error_code', 'scenario', 'expected_response'];

// sloThresholds holds the whole run and each endpoint to the service level `s` (see slo() in
// config.js). With `abort`, a breach stops the run, after `delay` so the first seconds' few
// samples cannot decide it.
export function sloThresholds(s, endpoints, { abort = false, delay = '10s' } = {}) {
  const t = sloRules(s, '', { abort, delay });
  for (const e of endpoints) Object.assign(t, sloRules(s, `{endpoint:${e}}`, { abort, delay }));
  return t;
}

// sloRules holds the requests that `selector` picks (empty: all of them, or e.g.
// '{step:400}') to the service level `s`, with sloThresholds's `abort` and `delay`.
export function sloRules(s, selector, { abort = false, delay = '10s' } = {}) {
  const rule = (threshold) => (abort ? abortRule(threshold, delay) : threshold);
  return {
    [`http_req_duration${selector}`]: [rule(`p(95)<${s.p95}`), rule(`p(99)<${s.p99}`)],
    [`http_req_failed${selector}`]: [rule(`rate<${s.failRate}`)],
  };
}

// abortRule is a threshold whose breach stops the run, judged from `delay` into it.
export function abortRule(threshold, delay) {
  return { threshold, abortOnFail: true, delayAbortEval: delay };
}

// Rules that always hold: they make k6 report a sub-metric without judging it. The summary
// printer leaves them out of the threshold list.
export const REPORT_ONLY = { trend: 'max>=0', rate: 'rate>=0', counter: 'count>=0' };

// reportByTag makes the summary carry latency and failure rate for each value of a tag (the
// breakpoint's rate steps, the soak's time windows, the spike's phases).
export function reportByTag(tag, values) {
  const t = {};
  for (const v of values) {
    t[`http_req_duration{${tag}:${v}}`] = [REPORT_ONLY.trend];
    t[`http_req_failed{${tag}:${v}}`] = [REPORT_ONLY.rate];
  }
  return t;
}
