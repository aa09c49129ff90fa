// The end of every run: handleSummary writes k6's full summary data as JSON to
// <RESULTS_DIR>/<scenario>-<mode>-<UTC stamp>.json, plus a `flashcrowd` key with the run's labels
// and whatever the scenario derived (the breakpoint's max sustainable RPS, the soak's drift), and
// prints a short text summary grouped by endpoint. The HTML report beside it is the web
// dashboard's export, which run.sh switches on (K6_WEB_DASHBOARD_EXPORT) under the same name.
import { BASE_URL, MODE, RESULTS_DIR } from './config.js';
import { REPORT_ONLY } from './thresholds.js';

// The stamp run.sh also gives the HTML report; a run without run.sh makes its own.
const STAMP = __ENV.RUN_STAMP || new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

// summaryHandler returns a scenario's handleSummary. `derive(data)`, if given, returns
// { json, text }: figures the scenario computes from the data, stored under flashcrowd.derived
// and printed after the table.
export function summaryHandler(scenario, derive) {
  return function handleSummary(data) {
    const derived = derive ? derive(data) : null;
    const base = `${RESULTS_DIR}/${scenario}-${MODE}-${STAMP}`;
    const flashcrowd = { scenario, mode: MODE, base_url: BASE_URL, stamp: STAMP, derived: derived ? derived.json : null };
    return {
      [`${base}.json`]: JSON.stringify(Object.assign({}, data, { flashcrowd }), null, 2),
      stdout: text(data, scenario, derived ? derived.text : '', base),
    };
  };
}

// metric returns a metric's values, or null when the run never produced it.
export function metric(data, name) {
  const m = data.metrics[name];
  return m ? m.values : null;
}

// latencyRow is one row of a per-endpoint (or per-step, per-window) table: request count, failure
// rate and latency percentiles of the sub-metrics tagged tag:value ('' for the whole run).
export function latencyRow(data, tag, value) {
  const sel = tag ? `{${tag}:${value}}` : '';
  const d = metric(data, `http_req_duration${sel}`);
  const f = metric(data, `http_req_failed${sel}`);
  if (!d || !d.count) return null;
  return { reqs: d.count, failRate: f ? f.rate : 0, p50: d.med, p95: d['p(95)'], p99: d['p(99)'], max: d.max };
}

export function ms(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return '-';
  return v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v.toFixed(1)}ms`;
}

export function pct(v) {
  return `${(100 * v).toFixed(2)}%`;
}

export function pad(s, n, left) {
  s = String(s);
  return left ? s.padEnd(n) : s.padStart(n);
}

// table renders latency rows under a first column called `label`; `secs` (a number, or a function
// of the row's name) is the time the rows' requests were spread over, for the req/s column.
export function table(label, rows, secs) {
  const over = typeof secs === 'function' ? secs : () => secs;
  const head = `  ${pad(label, 18, true)}${pad('reqs', 9)}${pad('req/s', 9)}${pad('failed', 9)}${pad('p50', 10)}${pad('p95', 10)}${pad('p99', 10)}${pad('max', 10)}`;
  const lines = rows.map(
    ([name, r]) =>
      `  ${pad(name, 18, true)}${pad(r.reqs, 9)}${pad(over(name) ? (r.reqs / over(name)).toFixed(1) : '-', 9)}${pad(pct(r.failRate), 9)}` +
      `${pad(ms(r.p50), 10)}${pad(ms(r.p95), 10)}${pad(ms(r.p99), 10)}${pad(ms(r.max), 10)}`,
  );
  return [head, ...lines].join('\n');
}

function text(data, scenario, extra, base) {
  const secs = data.state.testRunDurationMs / 1000;
  const out = [`\nflashcrowd ${scenario} · mode ${MODE} · ${BASE_URL} · ${secs.toFixed(1)} s`];

  const reqs = metric(data, 'http_reqs');
  const dropped = metric(data, 'dropped_iterations');
  const checks = metric(data, 'checks');
  const failed = metric(data, 'http_req_failed'); // a rate: its passes are the failed requests
  out.push(
    `  requests ${reqs ? reqs.count : 0} (${reqs ? reqs.rate.toFixed(1) : 0}/s)` +
      `   failed ${failed ? failed.passes : 0}` +
      `   dropped iterations ${dropped ? dropped.count : 0}` +
      (checks ? `   checks ${pct(checks.rate)} (${checks.passes}/${checks.passes + checks.fails})` : ''),
  );

  // Endpoints are the values of the `endpoint` tag that have thresholds (see thresholds.js).
  const rows = [];
  const all = latencyRow(data, '', '');
  if (all) rows.push(['all', all]);
  for (const name of Object.keys(data.metrics).sort()) {
    const m = name.match(/^http_req_duration\{endpoint:(.+)\}$/);
    const r = m && latencyRow(data, 'endpoint', m[1]);
    if (r) rows.push([m[1], r]);
  }
  if (rows.length) out.push(table('endpoint', rows, secs));

  const failedChecks = (data.root_group.checks || []).filter((c) => c.fails > 0);
  for (const c of failedChecks) out.push(`  ✗ check "${c.name}": ${c.fails} of ${c.passes + c.fails} failed`);

  if (extra) out.push(extra);

  out.push('  thresholds');
  const reportOnly = Object.values(REPORT_ONLY);
  let crossed = 0;
  for (const name of Object.keys(data.metrics).sort()) {
    const th = data.metrics[name].thresholds || {};
    // A rule on a sub-metric that took no sample (a step the run did not reach) judges nothing.
    if (name.includes('{') && !sampled(data.metrics[name])) continue;
    for (const expr of Object.keys(th)) {
      if (reportOnly.includes(expr)) continue;
      if (!th[expr].ok) crossed++;
      out.push(`    ${th[expr].ok ? '✓' : '✗'} ${name} ${expr}${observed(data.metrics[name], expr)}`);
    }
  }
  out.push(crossed ? `  ${crossed} threshold(s) crossed: the run fails` : '  all thresholds hold');
  out.push(`  summary: ${base}.json   report: ${base}.html (web dashboard export)\n`);
  return out.join('\n') + '\n';
}

// sampled: whether a metric took any sample (a trend's or a counter's count, a rate's passes
// and fails).
function sampled(m) {
  const v = m.values || {};
  return (v.count || 0) + (v.passes || 0) + (v.fails || 0) > 0;
}

// observed shows the value a threshold expression was judged on.
function observed(m, expr) {
  const agg = expr.match(/^\s*([a-z]+(?:\(\d+(?:\.\d+)?\))?)/);
  if (!agg || !(agg[1] in m.values)) return '';
  const v = m.values[agg[1]];
  if (agg[1] === 'rate') return `  (${pct(v)})`;
  if (m.contains === 'time') return `  (${ms(v)})`;
  return `  (${v})`;
}
