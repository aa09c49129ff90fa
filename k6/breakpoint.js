// breakpoint: how many requests per second can this stack hold within its service level? The
// arrival rate climbs a staircase with the browse mix: START_RATE, then STEP more every STEP_TIME,
// up to MAX_RATE. Each step is judged on its own, after a settling time.
//   make k6 SCENARIO=breakpoint       START_RATE (default 25/s), STEP (default 25/s), or
//                                     STEP_FACTOR (each step this many times the one below,
//                                     e.g. 1.5: a few steps cover a wide range; make lab does),
//                                     STEP_TIME (how long each rate is held, default 20s),
//                                     SETTLE (the start of a step left unjudged, default 5s),
//                                     MAX_RATE (default 1000/s), MAX_VUS (default
//                                     MAX_RATE × the p95 limit, 600 to 1,000),
//                                     WRITE_PCT (admin writes, % of requests, default 0),
//                                     ABORT_DROPPED (dropped iterations that stop the run, default
//                                     500; off: the run climbs to MAX_RATE whatever it drops),
//                                     ABORT_FIRST_STEP (on: the run stops when its first step
//                                     breaks the latency or failure limits; default off),
//                                     ABORT_SENT (the run stops after a step that sent under
//                                     this share of its planned requests; default 0: never),
//                                     LEAD_IN (default 4s; off)
//
// Why a staircase and not a ramp: on a ramp, every rate is offered for a few seconds only, which
// measures burst capacity. A stack a little past its limit queues the excess and answers late; a
// short band ends before the queue shows in the percentiles, and the next band inherits it. A
// rate held for STEP_TIME, and judged only after SETTLE (the backlog of the step below drains,
// pools and caches adjust), says whether the stack can hold that rate: past the limit the queue
// grows for the whole step, and so does latency.
//
// How the maximum sustainable RPS is derived (handleSummary below does it, and stores it under
// flashcrowd.derived.max_sustainable_rps in the JSON summary):
//   1. Each iteration (one request) knows the step it starts in from the clock. Past a step's
//      SETTLE it is tagged step=<that step's rate>; reportByTag makes the summary carry p95, p99,
//      failure rate and request count per step for those judged seconds.
//   2. A step is sustained when p95 < P95_MS, p99 < P99_MS, failures < MAX_FAIL_RATE, and at
//      least 95% of its planned requests were sent in the judged window (fewer means k6 ran out
//      of VUs because responses queued: dropped iterations).
//   3. The highest sustained step gives the answer: its requests divided by its judged seconds,
//      the throughput measured there. A failing step below it was a stall (caches still warming,
//      a checkpoint, a noisy neighbour on a laptop), not the limit: the stack went on to hold a
//      higher rate. A rate past the limit cannot pass a step by luck, because its queue grows
//      for the whole step.
// When to stop: k6 thresholds judge the whole run so far, never one step, so an abort on p95 or
// p99 would let a stall at a low rate end the run long before the limit. The run stops only on
// what happens past the limit: iterations k6 had to drop (every VU waiting on a slow response) or
// failures piling up. The latency rules still judge the run and the steps; they do not cut it short.
// The dropped iterations are counted over the whole run, so a few stalls below the limit add up
// to a stop too: make lab's fine staircase, short and bounded, turns that stop off.
import exec from 'k6/execution';
import { envDuration, envInt, envNumber, slo } from './lib/config.js';
import { browse, browseEndpoints, preflight } from './lib/catalog.js';
import { SYSTEM_TAGS, TREND_STATS, abortRule, reportByTag, sloRules, sloThresholds } from './lib/thresholds.js';
import { latencyRow, ms, pad, pct, summaryHandler } from './lib/summary.js';

// 25/s steps: a mode without caches may not hold 50/s here (its typo searches alone saturate
// the replicas), and on a 2-core laptop the limits lie between a few dozen and a few hundred.
const START_RATE = envInt('START_RATE', 25);
const STEP = envInt('STEP', 25);
const STEP_FACTOR = envNumber('STEP_FACTOR', 1);
const MAX_RATE = envInt('MAX_RATE', 1000);
const STEP_TIME = envDuration('STEP_TIME', '20s');
const SETTLE = envDuration('SETTLE', '5s');
// Before the first step the rate climbs from a tenth of START_RATE over LEAD_IN, unjudged. k6
// hands iterations to its VUs in turn, and a VU's first one opens a connection and warms its
// script: started at full rate, the first second of a run cost k6 more than a core, taken from a
// server near its limit, whose queue then outlived the step (naive failed 575/s from a cold start
// at a p50 of 1.7 s, a rate it held at 53 ms when climbing to it).
const LEAD_IN = __ENV.LEAD_IN === 'off' ? { text: 'off', secs: 0 } : envDuration('LEAD_IN', '4s');
const WRITE_PCT = envNumber('WRITE_PCT', 0);
const ABORT_DROPPED = __ENV.ABORT_DROPPED === 'off' ? 0 : envInt('ABORT_DROPPED', 500);
// make lab's fine staircase starts a little below the limit and must hold its first step: one
// that failed it would climb on for two minutes past the limit, finding nothing.
const ABORT_FIRST_STEP = __ENV.ABORT_FIRST_STEP === 'on';
// make lab's coarse staircase also stops once a step sent under this share of its planned
// requests (0: never): the steps above fail too. Where k6 is the bottleneck (the full stack, the
// ceiling) it falls behind its schedule without dropping iterations, which it counts only when
// every VU is busy: one coarse staircase climbed on to 49,815/s for a minute, sending about
// 3,000/s at every step.
const ABORT_SENT = envNumber('ABORT_SENT', 0);
const SLO = slo({ p95: 250, p99: 500, failRate: 0.01 });
// Enough VUs to go on sending the top step's rate while every answer takes the p95 limit, 600 to
// 1,000 (about 550 MiB of k6's 1 GiB). A request that waits for a VU is not sent, and a step that
// sends under 95 % of its plan fails: with 600 VUs at 3,500/s a hiccup of 170 ms, well inside the
// latency limits, used them all, and k6, not the server, failed the step.
const MAX_VUS = envInt('MAX_VUS', Math.min(1000, Math.max(600, Math.ceil((MAX_RATE * SLO.p95) / 1000))));
const DELIVERED_MIN = 0.95;
// The first second of a step climbs from the rate below: arrival-rate stages ramp linearly.
const CLIMB_SECS = 1;
if (MAX_RATE < START_RATE) throw new Error(`MAX_RATE (${MAX_RATE}) must not be below START_RATE (${START_RATE})`);
if (SETTLE.secs < CLIMB_SECS || SETTLE.secs + 5 > STEP_TIME.secs) {
  throw new Error(`SETTLE (${SETTLE.text}) must be at least ${CLIMB_SECS}s and leave at least 5s of STEP_TIME (${STEP_TIME.text}) to judge`);
}

const rates = [];
for (let r = START_RATE; r <= MAX_RATE; r = STEP_FACTOR > 1 ? Math.max(r + 1, Math.round(r * STEP_FACTOR)) : r + STEP) {
  rates.push(r);
}
const judgeSecs = STEP_TIME.secs - SETTLE.secs;

const stages = LEAD_IN.secs > 0 ? [{ duration: `${LEAD_IN.secs}s`, target: START_RATE }] : [];
for (const r of rates) {
  stages.push({ duration: `${CLIMB_SECS}s`, target: r }, { duration: `${STEP_TIME.secs - CLIMB_SECS}s`, target: r });
}

export const options = {
  scenarios: {
    breakpoint: {
      executor: 'ramping-arrival-rate',
      startRate: LEAD_IN.secs > 0 ? Math.max(1, Math.round(START_RATE / 10)) : START_RATE,
      timeUnit: '1s',
      stages,
      // Every VU is made before the first step: a VU made mid-run runs the scripts' init code,
      // and under load k6 would make them in bursts, on the CPUs the stack is being measured on.
      preAllocatedVUs: MAX_VUS,
      maxVUs: MAX_VUS,
    },
  },
  thresholds: Object.assign(sloThresholds(SLO, browseEndpoints(WRITE_PCT)), reportByTag('step', rates), {
    'http_req_failed{scenario:breakpoint}': [abortRule('rate<0.05', '10s')],
  }, ABORT_DROPPED > 0 ? {
    dropped_iterations: [abortRule(`count<${ABORT_DROPPED}`, '10s')],
  } : {}, ABORT_FIRST_STEP ? firstStepAbort() : {}, ABORT_SENT > 0 ? sentAbort() : {}),
  summaryTrendStats: TREND_STATS,
  systemTags: SYSTEM_TAGS,
};

// firstStepAbort: the first step's own limits, judged once it is over (its sub-metrics take no
// samples after it, so a verdict then stands for the rest of the run). A step that sent too few
// requests is not caught: k6 has no per-step count of what it dropped.
function firstStepAbort() {
  return sloRules(SLO, `{step:${rates[0]}}`, { abort: true, delay: stepOver(0) });
}

// sentAbort: each step's request count, judged once the step is over.
function sentAbort() {
  const t = {};
  rates.forEach((r, i) => {
    t[`http_reqs{step:${r}}`] = [abortRule(`count>=${Math.floor(ABORT_SENT * r * judgeSecs)}`, stepOver(i))];
  });
  return t;
}

// stepOver is when step i's sub-metrics take no more samples: a second after it ends.
function stepOver(i) {
  return `${LEAD_IN.secs + (i + 1) * STEP_TIME.secs + 1}s`;
}

export function setup() {
  preflight(WRITE_PCT);
}

export default function () {
  const t = (Date.now() - exec.scenario.startTime) / 1000 - LEAD_IN.secs;
  const i = Math.min(Math.floor(t / STEP_TIME.secs), rates.length - 1);
  // Neither the lead-in (t < 0) nor a step's first SETTLE seconds is judged.
  const judged = t >= 0 && t - i * STEP_TIME.secs >= SETTLE.secs;
  browse(judged ? { step: String(rates[i]) } : {}, WRITE_PCT);
}

// analyse applies steps 2 and 3 above to the steps the run reached.
function analyse(data) {
  const elapsed = data.state.testRunDurationMs / 1000 - LEAD_IN.secs;
  const rows = [];
  for (const [i, rate] of rates.entries()) {
    // The judged seconds of this step that the run lived through (an abort cuts the last one).
    const secs = Math.min(judgeSecs, elapsed - i * STEP_TIME.secs - SETTLE.secs);
    if (secs < 5) break;
    const r = latencyRow(data, 'step', rate) || { reqs: 0, failRate: 0, p50: NaN, p95: NaN, p99: NaN, max: NaN };
    const delivered = r.reqs / (rate * secs);
    const why = [];
    if (!(r.p95 < SLO.p95)) why.push(`p95 ${ms(r.p95)}`);
    if (!(r.p99 < SLO.p99)) why.push(`p99 ${ms(r.p99)}`);
    if (!(r.failRate < SLO.failRate)) why.push(`failed ${pct(r.failRate)}`);
    // in_time: answered within the service level, whatever k6 managed to send (make lab's
    // fine-start reads it).
    const inTime = why.length === 0;
    if (delivered < DELIVERED_MIN) why.push(`only ${pct(delivered)} sent`);
    rows.push(Object.assign({ rate, secs, planned: Math.round(rate * secs), achieved_rps: r.reqs / secs }, r, {
      in_time: inTime,
      sustained: why.length === 0,
      why: why.join(', '),
    }));
  }
  let best = -1;
  rows.forEach((r, i) => {
    if (r.sustained) best = i;
  });
  const max = best < 0 ? 0 : rows[best].achieved_rps;
  // brokeAt: the step above the best one, which failed or during which the run stopped itself.
  // null when the whole staircase ran and its top step held: max is then only a lower bound.
  const aborted = elapsed < rates.length * STEP_TIME.secs;
  let brokeAt = null;
  if (best + 1 < rows.length) brokeAt = rows[best + 1].rate;
  else if (aborted) brokeAt = rates[Math.min(Math.floor(elapsed / STEP_TIME.secs), rates.length - 1)];
  return { reached: rows.length ? rows[rows.length - 1].rate : 0, rows, max, brokeAt };
}

export const handleSummary = summaryHandler('breakpoint', (data) => {
  const a = analyse(data);
  const lines = [`  judged: the last ${judgeSecs}s of each ${STEP_TIME.text} step`,
    `  ${pad('target req/s', 14, true)}${pad('sent/s', 9)}${pad('failed', 9)}${pad('p50', 10)}${pad('p95', 10)}${pad('p99', 10)}  verdict`];
  for (const r of a.rows) {
    lines.push(
      `  ${pad(r.rate, 14, true)}${pad(r.achieved_rps.toFixed(0), 9)}${pad(pct(r.failRate), 9)}` +
        `${pad(ms(r.p50), 10)}${pad(ms(r.p95), 10)}${pad(ms(r.p99), 10)}  ${r.sustained ? 'ok' : `✗ ${r.why}`}`,
    );
  }
  const rule = `SLO p95<${SLO.p95}ms p99<${SLO.p99}ms failed<${pct(SLO.failRate)}`;
  lines.push(
    a.brokeAt !== null
      ? `  max sustainable: ${a.max.toFixed(0)} req/s (${rule}), the highest step held; the ${a.brokeAt}/s step above it failed`
      : `  max sustainable: at least ${a.max.toFixed(0)} req/s (${rule}): the run ended at the ${a.reached}/s step without breaking; raise MAX_RATE`,
  );
  return {
    json: {
      max_sustainable_rps: a.max,
      broke: a.brokeAt !== null,
      broke_at_rps: a.brokeAt,
      target_rps_reached: a.reached,
      slo: SLO,
      staircase: { start_rate: START_RATE, step: STEP, step_factor: STEP_FACTOR, max_rate: MAX_RATE, step_s: STEP_TIME.secs, settle_s: SETTLE.secs },
      steps: a.rows,
    },
    text: lines.join('\n'),
  };
});
