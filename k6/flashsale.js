// flashsale: the classic flash-sale failure, tested. One product with K units (K, default 100);
// BUYERS buyers (default 2000) arrive within ARRIVAL (default 10s), each with a session of its
// own (its own cookie jar): add the product to the cart, then check out as a guest with an
// Idempotency-Key. Afterwards the product must show stock 0, exactly K orders must exist, none
// oversold, no 5xx, sold-out answers fast (p95 under SOLD_OUT_P95_MS, default 100), and once
// the queue drains (EMAIL_WAIT, default 90s) the mail catcher must hold K confirmation emails.
//   make k6 SCENARIO=flashsale            K, BUYERS, ARRIVAL, SOLD_OUT_P95_MS, EMAIL_WAIT
import http from 'k6/http';
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Gauge, Trend } from 'k6/metrics';
import { ADMIN_TOKEN, BASE_URL, envDuration, envInt } from './lib/config.js';
import { metric, ms } from './lib/summary.js';
import { summaryHandler } from './lib/summary.js';
import { SYSTEM_TAGS, TREND_STATS } from './lib/thresholds.js';

const K = envInt('K', 100);
const BUYERS = envInt('BUYERS', 2000);
const ARRIVAL = envDuration('ARRIVAL', '10s');
const SOLD_OUT_P95_MS = envInt('SOLD_OUT_P95_MS', 100);
const EMAIL_WAIT = envDuration('EMAIL_WAIT', '90s');
// The mail catcher's API, on the compose network.
const MAILPIT_URL = (__ENV.MAILPIT_URL || 'http://mailpit:8025').replace(/\/+$/, '');

const orders = new Counter('flashsale_orders');
const soldOut = new Counter('flashsale_sold_out');
const serverErrors = new Counter('flashsale_5xx');
const unexpected = new Counter('flashsale_unexpected');
const soldOutTime = new Trend('flashsale_sold_out_duration', true);
const checkoutTime = new Trend('flashsale_checkout_duration', true);
const stockAfter = new Gauge('flashsale_stock_after');
const sold = new Gauge('flashsale_sold');
const emails = new Gauge('flashsale_emails');

// One iteration per buyer, spread evenly over ARRIVAL. Every VU is made before the start (three
// seconds of buyers): one that k6 makes during the run costs a JavaScript runtime's start-up on
// the cores the stack is measured on, so load from k6 would grow just as the stack slows. A
// buyer k6 could not start is a dropped iteration, and the run fails: fewer buyers came than
// were asked for.
const rate = Math.ceil(BUYERS / ARRIVAL.secs);
export const options = {
  scenarios: {
    buyers: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration: ARRIVAL.text,
      preAllocatedVUs: Math.min(BUYERS, 3 * rate),
      maxVUs: Math.min(BUYERS, 3 * rate),
    },
  },
  thresholds: {
    flashsale_orders: [`count==${K}`],
    flashsale_5xx: ['count==0'],
    flashsale_unexpected: ['count==0'],
    flashsale_stock_after: ['value==0'],
    flashsale_sold: [`value==${K}`],
    flashsale_emails: [`value==${K}`],
    flashsale_sold_out_duration: [`p(95)<${SOLD_OUT_P95_MS}`],
    dropped_iterations: ['count==0'],
  },
  summaryTrendStats: TREND_STATS,
  systemTags: SYSTEM_TAGS,
  // The teardown waits for the queue to drain.
  teardownTimeout: `${EMAIL_WAIT.secs + 30}s`,
};

function adminParams(tags) {
  return { headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' }, tags };
}

export function setup() {
  if (!ADMIN_TOKEN) exec.test.abort('flashsale needs ADMIN_TOKEN (compose passes it from .env)');
  // A word no other product or email holds, to find this sale's emails in the mail catcher.
  const token = `FLASH${Date.now()}`;
  const res = http.post(
    `${BASE_URL}/api/v1/admin/products`,
    JSON.stringify({ sku: token, name: `Flash sale ${token}`, price_cents: 1999, currency: 'EUR', stock: K }),
    adminParams({ endpoint: 'setup' }),
  );
  if (res.status !== 201) exec.test.abort(`could not create the sale's product: ${res.status} ${res.body}`);
  return { id: res.json('id'), token };
}

function record(res, okStatus) {
  if (res.status >= 500 || res.status === 0) serverErrors.add(1);
  if (res.status === 409) {
    soldOut.add(1);
    soldOutTime.add(res.timings.duration);
    return false;
  }
  if (res.status !== okStatus) {
    unexpected.add(1);
    console.warn(`unexpected ${res.request.method} ${res.url}: ${res.status} ${String(res.body).slice(0, 200)}`);
    return false;
  }
  return true;
}

// One buyer: a fresh session (cookie jar), the product into the cart, then checkout.
export default function (sale) {
  const jar = new http.CookieJar();
  const json = { 'Content-Type': 'application/json' };
  const add = http.put(`${BASE_URL}/api/v1/cart/items/${sale.id}`, JSON.stringify({ quantity: 1 }), {
    jar, headers: json, tags: { endpoint: 'cart_put', name: 'PUT /api/v1/cart/items/{id}' },
  });
  if (!record(add, 200)) return;
  const buy = http.post(`${BASE_URL}/api/v1/orders`, JSON.stringify({ email: `buyer-${exec.scenario.iterationInTest}@flashsale.test` }), {
    jar,
    headers: Object.assign({ 'Idempotency-Key': `flashsale-${sale.token}-${exec.scenario.iterationInTest}` }, json),
    tags: { endpoint: 'checkout', name: 'POST /api/v1/orders' },
  });
  checkoutTime.add(buy.timings.duration);
  if (record(buy, 201)) orders.add(1);
  check(buy, { 'checkout answered 201 or 409': (r) => r.status === 201 || r.status === 409 });
}

// mailCount asks the mail catcher how many messages mention the sale's word.
function mailCount(token) {
  const res = http.get(`${MAILPIT_URL}/api/v1/search?query=${token}&limit=1`, { tags: { endpoint: 'mailpit' } });
  if (res.status !== 200) return -1;
  const b = res.json();
  return b.messages_count !== undefined ? b.messages_count : b.total;
}

export function teardown(sale) {
  // Past the edge cache (it never answers a request with credentials): the primary's truth.
  const res = http.get(`${BASE_URL}/api/v1/products/${sale.id}`, adminParams({ endpoint: 'teardown' }));
  const stock = res.status === 200 ? res.json('stock') : -1;
  stockAfter.add(stock);
  sold.add(K - stock);
  // Every committed order's email, once the queue has drained (or the wait is over).
  const deadline = Date.now() + EMAIL_WAIT.secs * 1000;
  let n = mailCount(sale.token);
  while (n < K - stock && Date.now() < deadline) {
    sleep(1);
    n = mailCount(sale.token);
  }
  sleep(2); // late duplicates, if any, arrive too
  emails.add(mailCount(sale.token));
}

export const handleSummary = summaryHandler('flashsale', (data) => {
  const v = (name, key) => {
    const m = metric(data, name);
    return m ? m[key] : 0;
  };
  const placed = v('flashsale_orders', 'count');
  const stock = v('flashsale_stock_after', 'value');
  const mails = v('flashsale_emails', 'value');
  const json = {
    units: K,
    buyers: BUYERS,
    orders: placed,
    sold_out_answers: v('flashsale_sold_out', 'count'),
    stock_after: stock,
    oversold: Math.max(0, placed - K) + (stock < 0 ? -stock : 0),
    server_errors: v('flashsale_5xx', 'count'),
    unexpected: v('flashsale_unexpected', 'count'),
    sold_out_p95_ms: v('flashsale_sold_out_duration', 'p(95)'),
    checkout_p95_ms: v('flashsale_checkout_duration', 'p(95)'),
    emails: mails,
    duplicate_emails: Math.max(0, mails - placed),
  };
  const text = [
    `  flash sale: ${K} units, ${BUYERS} buyers in ${ARRIVAL.text}`,
    `    orders ${json.orders}   sold-out answers ${json.sold_out_answers}   stock after ${json.stock_after}   oversold ${json.oversold}`,
    `    5xx ${json.server_errors}   other unexpected answers ${json.unexpected}`,
    `    sold-out p95 ${ms(json.sold_out_p95_ms)}   checkout p95 ${ms(json.checkout_p95_ms)}`,
    `    emails ${json.emails} (duplicates ${json.duplicate_emails})`,
  ].join('\n');
  return { json, text };
});
