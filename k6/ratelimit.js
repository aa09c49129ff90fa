// ratelimit: the limits, tested as clients meet them. Every other scenario reaches the edge on
// the loadgen network, which the per-client limits exempt; this one goes to http://haproxy:8080
// on the default network, where they apply. A client is an address, so run.sh runs it as two
// k6 containers at once, two addresses (ROLE):
//   above  asks ABOVE_RATE (default 1.5 × EDGE_RATE_LIMIT) requests/s for DURATION (default 20s):
//          the excess must get 429 with Retry-After, and it must still get about its share
//   below  asks BELOW_RATE (default half of EDGE_RATE_LIMIT): no 429 at all; meanwhile one
//          session of its own checks out CHECKOUT_RATE times a second through both gateway
//          instances, and the gateway's shared limit (CHECKOUT_LIMIT_PER_SESSION per minute, a
//          burst of as many) must admit no more than the limit plus what refills meanwhile
//   make k6 SCENARIO=ratelimit        (ROLE, DURATION, ABOVE_RATE, BELOW_RATE, CHECKOUT_RATE)
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
import { envDuration, envInt } from './lib/config.js';
import { metric, summaryHandler } from './lib/summary.js';
import { SYSTEM_TAGS, TREND_STATS } from './lib/thresholds.js';

const URL = (__ENV.LIMITED_URL || 'http://haproxy:8080').replace(/\/+$/, '');
const ROLE = __ENV.ROLE || 'above';
if (ROLE !== 'above' && ROLE !== 'below') throw new Error(`ROLE must be above or below, got "${ROLE}"`);
const LIMIT = envInt('EDGE_RATE_LIMIT', 100);
const BURST = envInt('EDGE_RATE_BURST', 200);
const CHECKOUT_LIMIT = envInt('CHECKOUT_LIMIT_PER_SESSION', 10);
const DURATION = envDuration('DURATION', '20s');
const RATE = ROLE === 'above' ? envInt('ABOVE_RATE', Math.ceil(LIMIT * 1.5)) : envInt('BELOW_RATE', Math.floor(LIMIT / 2));
const CHECKOUT_RATE = envInt('CHECKOUT_RATE', 2);

const admitted = new Counter('ratelimit_admitted');
const refused = new Counter('ratelimit_refused');
const refusedBadly = new Counter('ratelimit_refused_without_retry_after');
const serverErrors = new Counter('ratelimit_5xx');
const checkoutsAdmitted = new Counter('ratelimit_checkouts_admitted');
const checkoutsRefused = new Counter('ratelimit_checkouts_refused');
const gatewaysSeen = new Counter('ratelimit_checkout_gateways');

// What a client may get in DURATION: the burst at once, then the rate (the edge's 10-s average).
const edgeAllowance = BURST + LIMIT * DURATION.secs;
// The gateway's GCRA: the burst (as many as the limit), then one per 60/limit s.
const checkoutAllowance = CHECKOUT_LIMIT + Math.ceil((CHECKOUT_LIMIT * DURATION.secs) / 60);

const scenarios = {
  requests: {
    executor: 'constant-arrival-rate', exec: 'ask', rate: RATE, timeUnit: '1s', duration: DURATION.text,
    preAllocatedVUs: Math.ceil(RATE / 5), maxVUs: RATE,
  },
};
const thresholds = {
  ratelimit_5xx: ['count==0'],
  ratelimit_refused_without_retry_after: ['count==0'],
  dropped_iterations: ['count==0'],
};
if (ROLE === 'above') {
  thresholds.ratelimit_refused = ['count>0'];
  // Never more than the allowance, and not much less: only the excess is refused.
  thresholds.ratelimit_admitted = [`count<=${edgeAllowance}`, `count>=${Math.floor(0.8 * LIMIT * DURATION.secs)}`];
} else {
  thresholds.ratelimit_refused = ['count==0'];
  scenarios.checkouts = {
    executor: 'constant-arrival-rate', exec: 'checkout', rate: CHECKOUT_RATE, timeUnit: '1s', duration: DURATION.text,
    preAllocatedVUs: 1, maxVUs: 1,
  };
  thresholds.ratelimit_checkouts_refused = ['count>0'];
  thresholds.ratelimit_checkouts_admitted = [`count<=${checkoutAllowance}`];
  thresholds.ratelimit_checkout_gateways = ['count>=2']; // the limit is shared, not per instance
}

export const options = { scenarios, thresholds, summaryTrendStats: TREND_STATS, systemTags: SYSTEM_TAGS };

// ask is one request of the client: a category list, which the edge answers from its cache, so
// the run measures the edge's limits and not the stack's capacity.
export function ask() {
  const res = http.get(`${URL}/api/v1/categories`, { tags: { endpoint: 'categories' } });
  record(res, admitted, refused);
}

function record(res, ok, no) {
  if (res.status >= 500 || res.status === 0) serverErrors.add(1);
  if (res.status === 429) {
    no.add(1);
    if (!(Number(res.headers['Retry-After']) >= 1)) refusedBadly.add(1);
  } else {
    ok.add(1);
  }
}

// checkout is the one session's next checkout. Its cart is empty, so an admitted checkout is a
// 422 from the orders service; a refused one is the gateway's 429. The session starts with a
// cart write (a session is stored on a first write), undone at once. Module state is per VU, and
// this scenario has one.
let session = false;
const gateways = new Set();
export function checkout() {
  if (!session) {
    const json = { headers: { 'Content-Type': 'application/json' }, tags: { endpoint: 'session' } };
    http.put(`${URL}/api/v1/cart/items/1`, JSON.stringify({ quantity: 1 }), json);
    http.del(`${URL}/api/v1/cart/items/1`, null, json);
    session = true;
  }
  const res = http.post(`${URL}/api/v1/orders`, JSON.stringify({ email: 'ratelimit@k6.test' }), {
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `ratelimit-${exec.scenario.iterationInTest}` },
    tags: { endpoint: 'checkout' },
  });
  record(res, checkoutsAdmitted, checkoutsRefused);
  check(res, { 'checkout admitted (422: the cart is empty) or refused (429)': (r) => r.status === 422 || r.status === 429 });
  const gw = res.headers['X-Gateway'];
  if (gw && !gateways.has(gw)) {
    gateways.add(gw);
    gatewaysSeen.add(1);
  }
}

export const handleSummary = summaryHandler('ratelimit', (data) => {
  const n = (name) => {
    const m = metric(data, name);
    return m ? m.count : 0;
  };
  const json = {
    role: ROLE, rate: RATE, duration_s: DURATION.secs, limit: LIMIT, burst: BURST,
    admitted: n('ratelimit_admitted'), refused: n('ratelimit_refused'),
    refused_without_retry_after: n('ratelimit_refused_without_retry_after'), server_errors: n('ratelimit_5xx'),
    edge_allowance: edgeAllowance,
  };
  const lines = [
    `  ${ROLE} the limit: ${RATE} requests/s for ${DURATION.text} (limit ${LIMIT}/s, burst ${BURST}: at most ${edgeAllowance})`,
    `    admitted ${json.admitted} (${(json.admitted / DURATION.secs).toFixed(1)}/s)   refused 429 ${json.refused}` +
      `   without Retry-After ${json.refused_without_retry_after}   5xx ${json.server_errors}`,
  ];
  if (ROLE === 'below') {
    json.checkouts_admitted = n('ratelimit_checkouts_admitted');
    json.checkouts_refused = n('ratelimit_checkouts_refused');
    json.checkout_allowance = checkoutAllowance;
    json.checkout_gateways = n('ratelimit_checkout_gateways');
    lines.push(`    one session's checkouts, ${CHECKOUT_RATE}/s through the gateways: admitted ${json.checkouts_admitted}` +
      ` (at most ${checkoutAllowance}: limit ${CHECKOUT_LIMIT}/min)   refused 429 ${json.checkouts_refused}` +
      `   gateway instances ${json.checkout_gateways}`);
  }
  return { json, text: lines.join('\n') };
});
