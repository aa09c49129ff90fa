// The catalog API as a shopper (and an admin) calls it. Every request carries an `endpoint` tag,
// so thresholds and the summary report each endpoint on its own, and a `name` tag that folds ids
// and cursors into one URL pattern (k6 would otherwise keep one time series per product).
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { ADMIN_TOKEN, BASE_URL } from './config.js';
import { missingProductId, popularProductId, zipf, ZIPF_EXPONENT } from './ids.js';

export const PAGE_SIZE = 20;

// REQUEST_TIMEOUT (e.g. 10s, what a shopper waits before giving up) replaces k6's 60 s.
const TIMEOUT = __ENV.REQUEST_TIMEOUT ? { timeout: __ENV.REQUEST_TIMEOUT } : {};

function params(endpoint, name, tags, extra) {
  return Object.assign({ tags: Object.assign({ endpoint, name }, tags) }, TIMEOUT, extra);
}

// field reads one field of a JSON response, or returns null (a check fails instead of the
// iteration). With a path, res.json reads the field in Go (GJSON syntax) without building the
// whole document as JavaScript objects: k6 shares the cores with the stack it measures, and
// turning a page of 20 products into objects costs it more than the request itself.
function field(res, path) {
  try {
    const v = res.json(path);
    return v === undefined ? null : v;
  } catch (_) {
    return null;
  }
}

// getPage asks for a page of products (a listing or search results) and checks it has some.
// It returns the page's item count and next cursor, what the callers go on with.
function getPage(path, endpoint, name, tags) {
  const res = http.get(`${BASE_URL}${path}`, params(endpoint, name, tags));
  const page = { items: field(res, 'items.#') || 0, nextCursor: field(res, 'next_cursor'), res };
  check(res, {
    [`${endpoint} status 200`]: (r) => r.status === 200,
    [`${endpoint} has items`]: () => page.items > 0,
  });
  return page;
}

// The seed's category slugs (services/catalog/postgres/seed.go) and the listing orders.
const CATEGORIES = ['kitchen', 'cookware', 'tea-coffee', 'tableware', 'home', 'lighting', 'textiles', 'furniture',
  'outdoor', 'garden', 'camping', 'cycling', 'fashion', 'bags', 'outerwear', 'footwear', 'electronics', 'audio',
  'wearables', 'office', 'stationery', 'desk'];
const SORTS = ['id', 'price', '-price', 'name', 'newest'];

function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

// listProducts is a listing page: query is the filter and order (category, sort, in_stock,
// min_price, max_price, cursor), as URL parameters.
export function listProducts(query = {}, tags = {}) {
  const params = Object.entries(Object.assign({ limit: PAGE_SIZE }, query))
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('&');
  return getPage(`/api/v1/products?${params}`, 'product_list', 'GET /api/v1/products', tags);
}

// A shopper on a category page often goes on to its next page: each virtual user keeps the
// last next_cursor it saw, per category and order.
const nextPages = {};

// browseCategory opens a category page, or the next page of one seen before.
function browseCategory(tags) {
  const query = { category: pick(CATEGORIES), sort: pick(SORTS) };
  if (Math.random() < 0.3) {
    query.in_stock = 'true';
  }
  const key = JSON.stringify(query);
  if (nextPages[key] && Math.random() < 0.5) {
    query.cursor = nextPages[key];
  }
  nextPages[key] = listProducts(query, tags).nextCursor;
}

// getFeatured is the home page's shop window.
export function getFeatured(tags = {}) {
  return getPage('/api/v1/featured', 'product_featured', 'GET /api/v1/featured', tags);
}

// getProduct is a product page.
export function getProduct(id, tags = {}) {
  const res = http.get(`${BASE_URL}/api/v1/products/${id}`, params('product_detail', 'GET /api/v1/products/{id}', tags));
  check(res, {
    'product_detail status 200': (r) => r.status === 200,
    'product_detail is the product asked for': (r) => field(r, 'id') === id && typeof field(r, 'name') === 'string',
  });
}

// getMissingProduct asks for a product that does not exist: the error path must answer a 404
// problem+json, fast, and k6 must not count it as a failure.
export function getMissingProduct(tags = {}) {
  const res = http.get(
    `${BASE_URL}/api/v1/products/${missingProductId()}`,
    params('product_missing', 'GET /api/v1/products/{id}', tags, { responseCallback: http.expectedStatuses(404) }),
  );
  check(res, {
    'product_missing status 404': (r) => r.status === 404,
    'product_missing is problem+json': (r) => String(r.headers['Content-Type']).startsWith('application/problem+json'),
  });
}

// The words the seed builds product names from (services/catalog/postgres/seed.go), some with a
// shopper's typo: search must forgive those. A typo is forgiven when the word is still at least
// 0.6 similar by trigrams (pg_trgm's word_similarity_threshold): "sneakrs" is (0.62), "sneekers"
// is not (0.5), and a term that finds nothing fails the run's "has items" check.
const SEARCH_TERMS = ['kettle', 'backpack', 'leather jacket', 'oak desk', 'ceramic mug', 'wool scarf',
  'headphones', 'copper lamp', 'ketle', 'bakpack', 'umbrela', 'sneakrs', 'vintage watch', 'linen blanket'];

// Search terms are as skewed as product views (query logs follow a Zipf law too): the list's
// order is their popularity.
const searchRank = zipf(SEARCH_TERMS.length, ZIPF_EXPONENT);

export function popularSearchTerm() {
  return SEARCH_TERMS[searchRank() - 1];
}

// searchProducts is the search box.
export function searchProducts(term, tags = {}) {
  return getPage(`/api/v1/search?limit=${PAGE_SIZE}&q=${encodeURIComponent(term)}`, 'product_search', 'GET /api/v1/search', tags);
}

// restock is an admin write: it changes a product's stock, which invalidates its cached copies.
export function restock(id, tags = {}) {
  const res = http.patch(
    `${BASE_URL}/api/v1/admin/products/${id}`,
    JSON.stringify({ stock: Math.floor(Math.random() * 500) }),
    params('admin_update', 'PATCH /api/v1/admin/products/{id}', tags, {
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    }),
  );
  check(res, { 'admin_update status 200': (r) => r.status === 200 });
}

// The storefront's read mix. One request per iteration, so an arrival rate of N iterations per
// second is N requests per second, and the summary's RPS is the load that was offered.
const BROWSE_MIX = [
  { endpoint: 'product_detail', weight: 50, run: (tags) => getProduct(popularProductId(), tags) },
  { endpoint: 'product_featured', weight: 10, run: (tags) => getFeatured(tags) }, // home page
  { endpoint: 'product_list', weight: 30, run: (tags) => browseCategory(tags) },
  { endpoint: 'product_search', weight: 10, run: (tags) => searchProducts(popularSearchTerm(), tags) },
];
const BROWSE_WEIGHT = BROWSE_MIX.reduce((sum, m) => sum + m.weight, 0);

// browseEndpoints are the endpoint tags browse() can emit, for per-endpoint thresholds.
export function browseEndpoints(writePct = 0) {
  const reads = ['product_detail', 'product_featured', 'product_list', 'product_search'];
  return writePct > 0 ? [...reads, 'admin_update'] : reads;
}

// browse sends one request of the storefront mix or, writePct percent of the time, an admin write
// (a restock, which invalidates the product's cached copies).
export function browse(tags = {}, writePct = 0) {
  if (writePct > 0 && Math.random() * 100 < writePct) {
    restock(popularProductId(), tags);
    return;
  }
  let pick = Math.random() * BROWSE_WEIGHT;
  for (const m of BROWSE_MIX) {
    pick -= m.weight;
    if (pick < 0) {
      m.run(tags);
      return;
    }
  }
}

// preflight runs in setup(): a stack that is down ends the run at once with a clear message,
// instead of a wall of connection errors.
export function preflight(writePct = 0) {
  if (writePct > 0 && !ADMIN_TOKEN) {
    exec.test.abort('WRITE_PCT > 0 needs ADMIN_TOKEN (compose passes it from .env)');
  }
  const res = http.get(`${BASE_URL}/api/v1/products/1`, { tags: { endpoint: 'preflight' } });
  if (res.status !== 200) {
    exec.test.abort(`${BASE_URL} did not answer GET /api/v1/products/1 with 200 (got ${res.status} ${res.error}); is the stack up? (make up)`);
  }
}
