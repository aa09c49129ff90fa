// Product ids the scenarios ask for. The seed makes products 1..SEED_PRODUCTS, so every id picked
// here exists and a 404 is a real failure, not a guess gone wrong.
import { SEED_PRODUCTS } from './config.js';

// A shop's traffic is skewed: a few products get most of the views. 80% of picks go to the first
// 20% of ids; that skew is what a cache lives on, so uniform ids would understate it.
const HOT_SHARE = 0.8;
const HOT_FRACTION = 0.2;

// randomProductId picks uniformly: every product equally likely (a crawler, a cold cache).
export function randomProductId() {
  return 1 + Math.floor(Math.random() * SEED_PRODUCTS);
}

// popularProductId picks with the 80/20 skew above (shoppers).
export function popularProductId() {
  const hot = Math.max(1, Math.floor(SEED_PRODUCTS * HOT_FRACTION));
  if (Math.random() < HOT_SHARE || hot === SEED_PRODUCTS) {
    return 1 + Math.floor(Math.random() * hot);
  }
  return hot + 1 + Math.floor(Math.random() * (SEED_PRODUCTS - hot));
}

// missingProductId is an id the seed never makes.
export function missingProductId() {
  return SEED_PRODUCTS + 1000000;
}
