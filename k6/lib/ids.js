// Product ids (and other picks) the scenarios ask for. The seed makes products 1..SEED_PRODUCTS,
// so every id picked here exists and a 404 is a real failure, not a guess gone wrong.
import { SEED_PRODUCTS, envNumber } from './config.js';

// A shop's traffic is skewed: a few products get most of the views, and that skew is what a
// cache lives on, so uniform ids would understate it. How skewed is taken from a published
// e-commerce study: Brynjolfsson, Hu and Smith, "Consumer Surplus in the Digital Economy:
// Estimating the Value of Increased Product Variety at Online Booksellers", Management Science
// 49(11), 2003, fit Amazon's sales against sales rank as log(sales) = 10.526 − 0.871 log(rank):
// a Zipf law, the r-th most popular product drawing a share proportional to r^−0.871. Over
// 100,000 products that puts about 25 % of views on the top 100, 43 % on the top 1,000, 68 % on
// the top 10,000, and leaves a long tail (32 %) that no cache of a few thousand entries catches.
export const ZIPF_EXPONENT = envNumber('ZIPF_EXPONENT', 0.871);

// zipf returns a sampler of ranks 1..n with P(r) ∝ r^−s, in constant time and memory per draw:
// rejection-inversion (Hörmann and Derflinger, "Rejection-inversion to generate variates from
// monotone discrete distributions", ACM TOMACS 6(3), 1996). A table of n cumulative weights
// would be exact too, but each of hundreds of virtual users would hold its own copy.
export function zipf(n, s) {
  if (!(n >= 1) || !(s > 0)) throw new Error(`zipf: need n >= 1 and s > 0, got n=${n}, s=${s}`);
  // (e^x − 1)/x and log(1 + x)/x, each → 1 as x → 0, where the plain formulas lose precision.
  const expm1x = (x) => (Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x / 2);
  const log1px = (x) => (Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x / 2);
  // H is an antiderivative of h(x) = x^−s; hInv its inverse.
  const h = (x) => Math.exp(-s * Math.log(x));
  const H = (x) => {
    const lx = Math.log(x);
    return expm1x((1 - s) * lx) * lx;
  };
  const hInv = (y) => {
    const t = Math.max(-1, y * (1 - s));
    return Math.exp(log1px(t) * y);
  };
  const hX1 = H(1.5) - 1;
  const hN = H(n + 0.5);
  const squeeze = 2 - hInv(H(2.5) - h(2));
  return function next() {
    for (;;) {
      const u = hN + Math.random() * (hX1 - hN);
      const x = hInv(u);
      const k = Math.min(n, Math.max(1, Math.floor(x + 0.5)));
      if (k - x <= squeeze || u >= H(k + 0.5) - h(k)) return k;
    }
  };
}

const productRank = zipf(SEED_PRODUCTS, ZIPF_EXPONENT);

// Ranks are spread over the ids with a fixed stride coprime to SEED_PRODUCTS, so the popular
// products are not the seed's first rows (neighbours in the table and in every listing).
const STRIDE = (() => {
  const gcd = (a, b) => (b === 0 ? a : gcd(b, a % b));
  let p = 7919; // a prime: coprime to any count it does not divide
  while (gcd(p, SEED_PRODUCTS) !== 1) p += 2;
  return p % SEED_PRODUCTS || 1;
})();

// randomProductId picks uniformly: every product equally likely (a crawler, a cold cache).
export function randomProductId() {
  return 1 + Math.floor(Math.random() * SEED_PRODUCTS);
}

// popularProductId picks with the shoppers' Zipf skew above.
export function popularProductId() {
  return 1 + (((productRank() - 1) * STRIDE) % SEED_PRODUCTS);
}

// missingProductId is an id the seed never makes.
export function missingProductId() {
  return SEED_PRODUCTS + 1000000;
}
