// smoke: a handful of shoppers for ten seconds. Not a load test: it proves the stack answers
// through the edge (listing, product pages, the 404 path) with sane latency, and fails the run
// (exit code 99) when it does not. CI runs it after the stack comes up.
//   make k6 SCENARIO=smoke            VUS (default 3), DURATION (default 10s)
import { sleep } from 'k6';
import { envDuration, envInt, slo } from './lib/config.js';
import { getFeatured, getMissingProduct, getProduct, listProducts, preflight, searchProducts } from './lib/catalog.js';
import { randomProductId } from './lib/ids.js';
import { sloThresholds, SYSTEM_TAGS, TREND_STATS } from './lib/thresholds.js';
import { summaryHandler } from './lib/summary.js';

// Loose enough for a busy CI machine, tight enough that a broken or wedged stack fails.
const SLO = slo({ p95: 500, p99: 1000, failRate: 0.01 });

export const options = {
  scenarios: {
    smoke: { executor: 'constant-vus', vus: envInt('VUS', 3), duration: envDuration('DURATION', '10s').text },
  },
  thresholds: Object.assign(sloThresholds(SLO, ['product_featured', 'product_list', 'product_detail', 'product_missing', 'product_search']), {
    checks: ['rate>0.99'],
  }),
  summaryTrendStats: TREND_STATS,
  systemTags: SYSTEM_TAGS,
};

export function setup() {
  preflight();
}

// One shopper's visit: the home page, a category page and a product from it, any product by
// id, a search, a dead link.
export default function () {
  getFeatured();
  const page = listProducts({ category: 'kitchen', sort: 'price', in_stock: 'true' });
  if (page.items > 0) {
    getProduct(page.res.json(`items.${Math.floor(Math.random() * page.items)}.id`));
  }
  getProduct(randomProductId());
  searchProducts('ketle'); // a typo search must still find kettles
  getMissingProduct();
  sleep(0.5);
}

export const handleSummary = summaryHandler('smoke');
