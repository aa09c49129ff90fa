// drill: the load every fault drill runs under (make drill-primary, drill-switchover, ... see
// gateway/e2e/faults_drill_test.go): shoppers browsing (the browse mix, RATE requests/s) and buying
// (CHECKOUT_RATE checkouts/s, each a new guest: an item into the cart, then a checkout with an
// Idempotency-Key). A buyer behaves as a well-written client does: every request it sends is
// safe to repeat (a PUT of a quantity; a POST with an Idempotency-Key, whose repeat answers the
// same order), so on a 503 it waits Retry-After and sends the same request again, and on a lost
// answer (no response, 502, 504) it waits a second and does the same, for up to RETRY_FOR; any
// other answer is a failure. The drill script counts what it logs: "ACK <order id> <ms>" for each order the API
// acknowledged (201), "W <ms> <status> <duration ms>" for each write attempt that was not.
//   make drill-… (k6/run.sh SCENARIO=drill)   RATE (20), CHECKOUT_RATE (2), DURATION (90s),
//                                             RETRY_FOR (60s)
import http from 'k6/http';
import { sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Rate, Trend } from 'k6/metrics';
import { ADMIN_TOKEN, BASE_URL, envDuration, envInt } from './lib/config.js';
import { browse, preflight } from './lib/catalog.js';
import { metric, ms, pct, summaryHandler } from './lib/summary.js';
import { REPORT_ONLY, SYSTEM_TAGS, TREND_STATS } from './lib/thresholds.js';

const RATE = envInt('RATE', 20);
const CHECKOUT_RATE = envInt('CHECKOUT_RATE', 2);
const DURATION = envDuration('DURATION', '90s');
const RETRY_FOR = envDuration('RETRY_FOR', '60s');

const buyFailed = new Rate('drill_buy_failed'); // a buyer whose order was never acknowledged
const acked = new Counter('drill_orders_acknowledged');
const unavailable = new Counter('drill_503');
const unavailableTime = new Trend('drill_503_duration', true);
const retried = new Counter('drill_retries');

export const options = {
  scenarios: {
    // Readers are made before the run too, enough for 5 s of answers held up by a fault (a killed
    // catalog's requests wait for their retry): k6 dropped reads making more in the middle of it.
    browse: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION.text,
      exec: 'read',
      preAllocatedVUs: RATE * 5,
      maxVUs: RATE * 5,
    },
    // A buyer may wait out a whole failover twice (the cart, then the checkout): up to
    // 2 × RETRY_FOR, CHECKOUT_RATE a second. A buyer k6 could not start is a dropped
    // iteration, which the drill counts as a failure of its own.
    buy: {
      executor: 'constant-arrival-rate',
      rate: CHECKOUT_RATE,
      timeUnit: '1s',
      duration: DURATION.text,
      exec: 'buy',
      // A buyer waits out a failover's pause (up to half a minute of 503s and Retry-After):
      // enough shoppers made before the run that k6 need not make them in the middle of it, on
      // cores the failover keeps busy (it dropped iterations then).
      preAllocatedVUs: CHECKOUT_RATE * 30,
      maxVUs: CHECKOUT_RATE * (2 * RETRY_FOR.secs + 10),
    },
  },
  // The drill script judges the figures; these only make k6 report them.
  thresholds: {
    'http_req_failed{kind:read}': [REPORT_ONLY.rate],
    drill_buy_failed: [REPORT_ONLY.rate],
    drill_503_duration: [REPORT_ONLY.trend],
    drill_orders_acknowledged: [REPORT_ONLY.counter],
  },
  summaryTrendStats: TREND_STATS,
  systemTags: SYSTEM_TAGS,
};

export function setup() {
  preflight(0);
  if (!ADMIN_TOKEN) exec.test.abort('drill needs ADMIN_TOKEN (compose passes it from .env)');
  // One product with stock for every buyer of the drill: a refusal is then never "sold out".
  const res = http.post(
    `${BASE_URL}/api/v1/admin/products`,
    JSON.stringify({ sku: `DRILL-${Date.now()}`, name: 'Drill kettle', price_cents: 2500, currency: 'EUR', stock: 1000000 }),
    { headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' }, tags: { endpoint: 'setup' } },
  );
  if (res.status !== 201) exec.test.abort(`could not create the drill's product: ${res.status} ${res.body}`);
  return { id: res.json('id'), run: `${Date.now()}` };
}

// A read fails on anything but a 2xx or 3xx (k6's http_req_failed, tagged kind:read).
export function read() {
  browse({ kind: 'read' });
}

// Answers after which the request may have been lost on the way: sent again after a second.
const LOST = [0, 502, 504];

// retrying sends a request until it is answered with something other than a 503 or a lost
// answer, waiting Retry-After (or a second) in between, for at most RETRY_FOR. It logs each
// attempt that was not `ok`.
function retrying(send, ok) {
  const deadline = Date.now() + RETRY_FOR.secs * 1000;
  for (;;) {
    const start = Date.now();
    const res = send();
    if (res.status === ok) return res;
    console.log(`W ${start} ${res.status} ${Math.round(res.timings.duration)}`);
    if (res.status !== 503 && !LOST.includes(res.status)) return res;
    let wait = 1;
    if (res.status === 503) {
      unavailable.add(1);
      unavailableTime.add(res.timings.duration);
      wait = Math.max(1, parseInt(res.headers['Retry-After'] || '1', 10) || 1);
    }
    if (Date.now() + wait * 1000 > deadline) return res;
    retried.add(1);
    sleep(wait);
  }
}

export function buy(data) {
  const jar = new http.CookieJar();
  const json = { 'Content-Type': 'application/json' };
  const n = exec.scenario.iterationInTest;
  const add = retrying(
    () => http.put(`${BASE_URL}/api/v1/cart/items/${data.id}`, JSON.stringify({ quantity: 1 }), {
      jar, headers: json, tags: { kind: 'write', endpoint: 'cart_put', name: 'PUT /api/v1/cart/items/{id}' },
    }),
    200,
  );
  if (add.status !== 200) {
    buyFailed.add(1);
    return;
  }
  const start = Date.now();
  const order = retrying(
    () => http.post(`${BASE_URL}/api/v1/orders`, JSON.stringify({ email: `drill-${data.run}-${n}@drill.test` }), {
      jar,
      headers: Object.assign({ 'Idempotency-Key': `drill-${data.run}-${n}` }, json),
      tags: { kind: 'write', endpoint: 'checkout', name: 'POST /api/v1/orders' },
    }),
    201,
  );
  if (order.status !== 201) {
    buyFailed.add(1);
    return;
  }
  buyFailed.add(0);
  acked.add(1);
  console.log(`ACK ${order.json('id')} ${start}`);
}

export const handleSummary = summaryHandler('drill', (data) => {
  const v = (name, key) => {
    const m = metric(data, name);
    return m ? m[key] : 0;
  };
  const json = {
    reads: v('http_req_failed{kind:read}', 'passes') + v('http_req_failed{kind:read}', 'fails'),
    reads_failed_rate: v('http_req_failed{kind:read}', 'rate'),
    buyers: v('drill_buy_failed', 'passes') + v('drill_buy_failed', 'fails'),
    buyers_failed_rate: v('drill_buy_failed', 'rate'),
    orders_acknowledged: v('drill_orders_acknowledged', 'count'),
    answers_503: v('drill_503', 'count'),
    answer_503_p50_ms: v('drill_503_duration', 'med'),
    answer_503_p99_ms: v('drill_503_duration', 'p(99)'),
    retries: v('drill_retries', 'count'),
  };
  const text = [
    `  drill: reads ${json.reads}, failed ${pct(json.reads_failed_rate)}; buyers ${json.buyers}, failed ${pct(json.buyers_failed_rate)}` +
      ` (each retried on 503 and lost answers for up to ${RETRY_FOR.text}); orders acknowledged ${json.orders_acknowledged}`,
    `  503 answers ${json.answers_503} (p50 ${ms(json.answer_503_p50_ms)}, p99 ${ms(json.answer_503_p99_ms)}), retries ${json.retries}`,
  ].join('\n');
  return { json, text };
});
