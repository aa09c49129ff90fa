// Settings every scenario shares. They come from the environment: `make k6 RATE=50` (run.sh passes
// them into the container) or `k6 run -e RATE=50`. A bad value stops the run at start-up with
// the variable's name, before any load is sent.

// The edge every request goes through (compose sets http://edge:8080: the edge on the loadgen network, which its per-client limits exempt).
export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
// Which stack configuration this run measures ("full", "naive", "no-cache", ...). It only labels
// the results; switching the stack's mode is done on the stack, not here.
export const MODE = __ENV.MODE || 'full';
// Where handleSummary writes; the k6 container mounts ./results there.
export const RESULTS_DIR = (__ENV.RESULTS_DIR || '/results').replace(/\/+$/, '');
export const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || '';
// The seed creates products 1..SEED_PRODUCTS (compose passes the value from .env).
export const SEED_PRODUCTS = envInt('SEED_PRODUCTS', 100000);

// envInt reads a positive integer.
export function envInt(name, def) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

// envNumber reads a non-negative number.
export function envNumber(name, def) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return n;
}

// envDuration reads a k6 duration ("90s", "1m30s", "10m") and returns it as k6 wants it, with
// its length in seconds for the arithmetic some scenarios do.
export function envDuration(name, def) {
  const text = __ENV[name] || def;
  const secs = seconds(text);
  if (!(secs > 0)) throw new Error(`${name} must be a duration such as 30s, 2m or 1m30s, got "${text}"`);
  return { text, secs };
}

// seconds parses a k6 duration; NaN when it is not one.
export function seconds(text) {
  const units = { h: 3600, m: 60, s: 1, ms: 0.001 };
  const parts = String(text).match(/\d+(?:\.\d+)?(?:ms|h|m|s)/g);
  if (!parts || parts.join('') !== String(text)) return NaN;
  return parts.reduce((sum, p) => {
    const [, n, unit] = p.match(/^(\d+(?:\.\d+)?)(ms|h|m|s)$/);
    return sum + Number(n) * units[unit];
  }, 0);
}

// slo is the service level a run is held to: scenario defaults, overridable with P95_MS, P99_MS
// and MAX_FAIL_RATE (a fraction: 0.01 is 1%).
export function slo({ p95, p99, failRate }) {
  return {
    p95: envInt('P95_MS', p95),
    p99: envInt('P99_MS', p99),
    failRate: envNumber('MAX_FAIL_RATE', failRate),
  };
}

// vusFor sizes an arrival-rate executor's VU pool. VUs needed = rate × latency: preallocate for
// 200 ms (starting a VU mid-run takes time, and iterations due meanwhile are dropped), allow up
// to 1 s (or MAX_VUS); past that k6 drops iterations and says so, rather than silently sending
// less load. Each VU costs k6 a few MB, and k6 shares the laptop with the stack.
export function vusFor(rate) {
  const max = envInt('MAX_VUS', Math.max(50, Math.ceil(rate)));
  const pre = envInt('PRE_VUS', Math.max(10, Math.ceil(rate / 5)));
  return { preAllocatedVUs: Math.min(max, pre), maxVUs: max };
}
