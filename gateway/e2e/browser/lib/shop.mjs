// What the tests need to know of the shop besides its pages: a product to buy (from the public
// API), a typo of its name, the steps a shopper takes through the pages, and the mail catcher.
import assert from 'node:assert/strict';
import { config } from './harness.mjs';

// unique is a word no other run uses: for the emails.
export function unique(prefix) {
  return `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
}

export async function getJSON(u, init) {
  const res = await fetch(u, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  assert.ok(res.ok, `GET ${u}: ${res.status} ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

// productToBuy is a product of the catalog with enough stock for a test run to buy one, and
// whose name has a word long enough to misspell: the catalog's first page has plenty.
export async function productToBuy() {
  const page = await getJSON(`${config.baseURL}/api/v1/products?limit=50`);
  const p = page.items.find((i) => i.stock >= 10 && longestWord(i.name).length >= 5);
  assert.ok(p, `no product with stock >= 10 and a word of 5 letters among ${page.items.length} of /api/v1/products`);
  return p;
}

function longestWord(name) {
  return name.split(/\s+/).reduce((a, b) => (b.length > a.length ? b : a), '');
}

// typo misspells a name by one letter: the longest word loses a letter from its middle
// ("Headphones" → "Headphnes"), as a hurried shopper types it.
export function typo(name) {
  const w = longestWord(name);
  const i = Math.floor(w.length / 2);
  const miss = w.slice(0, i) + w.slice(i + 1);
  return name.replace(w, miss);
}

export function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// searchFor types text in the page's search box and submits it; it returns when the results
// page has loaded.
export async function searchFor(page, text) {
  const box = page.getByRole('searchbox', { name: 'Search the shop' });
  await box.fill(text);
  await Promise.all([page.waitForURL((u) => u.pathname === '/search'), box.press('Enter')]);
  await page.getByRole('heading', { level: 1 }).waitFor();
}

// card is the search or listing card of a product named exactly name that is not sold out.
export function card(page, name) {
  return page
    .locator('.card')
    .filter({ has: page.locator('.name', { hasText: new RegExp(`^\\s*${escapeRegExp(name)}\\s*$`) }) })
    .filter({ hasNot: page.locator('.stock.out') })
    .first();
}

// addToCart adds quantity of the product whose page is open and returns when the cart shows it.
export async function addToCart(page, name, quantity = 1) {
  await page.getByLabel('Quantity', { exact: true }).fill(String(quantity));
  await Promise.all([page.waitForURL((u) => u.pathname === '/cart'), page.getByRole('button', { name: 'Add to cart' }).click()]);
  await page.getByRole('table', { name: 'Products in your cart' }).getByRole('link', { name, exact: true }).first().waitFor();
}

// checkout places the order of the cart page that is open, for email, and returns the order's id
// once its page has loaded.
export async function checkout(page, email) {
  await page.getByLabel('Email for the confirmation').fill(email);
  await Promise.all([
    page.waitForURL((u) => /^\/orders\/\d+$/.test(u.pathname)),
    page.getByRole('button', { name: 'Place the order' }).click(),
  ]);
  await page.getByRole('heading', { level: 1 }).waitFor();
  return Number(new URL(page.url()).pathname.split('/').pop());
}

// buyOne takes a fresh profile's page from the product's page to its order: what the pages that
// need a cart or an order start from.
export async function buyOne(page, product, email) {
  await page.goto(`/products/${product.id}`);
  await addToCart(page, product.name);
  return checkout(page, email);
}

// mailTo waits up to withinMs for the mail catcher to hold a message to address, polling its
// search API, and returns the messages found.
export async function mailTo(address, withinMs = 30_000) {
  const deadline = Date.now() + withinMs;
  const query = encodeURIComponent(`to:"${address}"`);
  let last = 'no answer yet';
  for (;;) {
    try {
      const found = await getJSON(`${config.mailpitURL}/api/v1/search?limit=10&query=${query}`);
      if (found.messages?.length) return found.messages;
      last = `${found.messages_count ?? 0} messages in all, none to ${address}`;
    } catch (err) {
      last = err.message;
    }
    if (Date.now() > deadline) throw new Error(`no email to ${address} in the mail catcher within ${withinMs} ms (${last})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
