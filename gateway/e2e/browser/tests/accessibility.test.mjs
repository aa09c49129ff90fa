// axe-core on each of the shop's main pages, as one guest goes through them; a violation of
// impact serious or critical fails the page's test (the rule, its help and the elements are
// printed), a moderate or minor one is printed only.
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { browserTest, useBrowser, newContext } from '../lib/harness.mjs';
import { productToBuy, typo, searchFor, addToCart, checkout, unique } from '../lib/shop.mjs';
import { audit, blocking, describe } from '../lib/axe.mjs';

const browser = useBrowser();
// One profile for the file, so the cart and the order pages are this guest's.
let context;
let page;
let product;
async function setUp() {
  if (!page) {
    context = await newContext(await browser());
    page = await context.newPage();
    product = await productToBuy();
  }
  return page;
}
after(async () => {
  await context?.close().catch(() => {});
});

async function check(where) {
  const { violations, passed } = await audit(page);
  console.log(`# ${where}: axe passed ${passed} rules, ${violations.length} violated`);
  const failing = violations.filter(blocking);
  const others = violations.filter((v) => !blocking(v));
  if (others.length) console.log(`# ${where} (${page.url()}): ${others.length} moderate or minor axe findings\n${describe(others)}`);
  assert.equal(failing.length, 0, `${where} (${page.url()}): ${failing.length} serious or critical axe violations\n${describe(failing)}`);
}

async function open(path) {
  const res = await page.goto(path);
  assert.equal(res.status(), 200, `GET ${path}`);
}

const a11y = (name, fn) => browserTest(`accessibility ${name}`, { browser, page: setUp, timeout: 45_000 }, fn);

a11y('home', async () => {
  await open('/');
  await check('home');
});

a11y('category', async () => {
  await open('/');
  const link = page.getByRole('navigation', { name: 'Categories' }).getByRole('link').first();
  await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/categories/')), link.click()]);
  await page.locator('.cards, main p').first().waitFor();
  await check('category');
});

a11y('search results', async () => {
  await open('/');
  await searchFor(page, typo(product.name));
  await page.locator('.cards').waitFor();
  await check('search results');
});

a11y('product', async () => {
  await open(`/products/${product.id}`);
  await check('product');
});

a11y('cart with an item', async () => {
  await open(`/products/${product.id}`);
  await addToCart(page, product.name);
  await check('cart');
});

a11y('account', async () => {
  await open('/account');
  await check('account');
});

a11y('order confirmation', async () => {
  await open('/cart');
  if (await page.getByRole('button', { name: 'Place the order' }).count() === 0) {
    await open(`/products/${product.id}`);
    await addToCart(page, product.name);
  }
  await checkout(page, `${unique('browser-a11y')}@e2e.test`);
  await check('order confirmation');
});

a11y('order history', async () => {
  await open('/orders');
  await check('order history');
});
