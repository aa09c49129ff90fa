// The admin's journey, as a person clicks it: sign in with the admin token, find a product,
// change its price (the shop's page shows it within a second), upload an image straight to
// storage through the upload form the catalog's grant makes, publish it, and wait for the
// worker's thumbnail to show. The admin pages pass axe as the shop's do.
import assert from 'node:assert/strict';
import { browserTest, useBrowser, config } from '../lib/harness.mjs';
import { audit, blocking, describe } from '../lib/axe.mjs';

const browser = useBrowser();
const adminToken = process.env.ADMIN_TOKEN || 'dev-admin-token-change-me';

// A product of its own, so that its price and image changes touch no other test's.
async function newProduct() {
  const res = await fetch(`${config.baseURL}/api/v1/admin/products`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ sku: `BROWSER-${Date.now()}`, name: 'Browser test lantern', price_cents: 2500, currency: 'EUR', stock: 5 }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  assert.equal(res.status, 201, `create a product: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

async function noBlockingViolations(page, where) {
  const { violations, passed } = await audit(page);
  console.log(`# ${where}: axe passed ${passed} rules, ${violations.length} violated`);
  const failing = violations.filter(blocking);
  const others = violations.filter((v) => !blocking(v));
  if (others.length) console.log(`# ${where}: ${others.length} moderate or minor axe findings\n${describe(others)}`);
  assert.equal(failing.length, 0, `${where}: ${failing.length} serious or critical axe violations\n${describe(failing)}`);
}

browserTest('admin journey', { browser, timeout: 120_000 }, async ({ page }) => {
  const product = await newProduct();

  await page.goto('/admin');
  await page.getByLabel('Admin token').fill(adminToken);
  await Promise.all([page.waitForURL((u) => u.pathname === '/admin'), page.getByRole('button', { name: 'Sign in' }).click()]);
  await page.getByLabel('Find a product by name or id').waitFor();
  await noBlockingViolations(page, 'admin home');

  await page.getByLabel('Find a product by name or id').fill(String(product.id));
  await Promise.all([page.waitForURL((u) => u.pathname === `/admin/products/${product.id}`), page.getByRole('button', { name: 'Find' }).click()]);
  await page.getByRole('heading', { level: 1, name: `Edit ${product.name}` }).waitFor();
  assert.equal(await page.getByLabel('Price (EUR)').inputValue(), '25.00');
  await noBlockingViolations(page, 'admin product');

  // A new price: the shop's product page shows it within a second of the save, although a
  // shopper's visits just before had the edge keep a copy of the page.
  const shopper = await page.context().newPage();
  for (let i = 0; i < 2; i++) await shopper.goto(`/products/${product.id}`);
  assert.match(await shopper.locator('.product .price').innerText(), /^25\.00/);
  await page.getByLabel('Price (EUR)').fill('31.75');
  await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'saved'), page.getByRole('button', { name: 'Save' }).click()]);
  const saved = Date.now();
  let shown = false;
  while (!shown && Date.now() - saved <= 1000) {
    await shopper.goto(`/products/${product.id}`);
    shown = (await shopper.locator('.product .price').innerText()).startsWith('31.75');
  }
  const took = Date.now() - saved;
  assert.ok(shown, `the shop's page did not show the new price within 1 s (still "${await shopper.locator('.product .price').innerText()}")`);
  console.log(`# the shop showed the new price ${took} ms after the save`);
  await shopper.close();
  await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();

  // An image: the grant's form posts the file straight to storage, which sends the browser back.
  await page.getByLabel("New image's type").selectOption('image/png');
  await page.getByRole('button', { name: 'Choose a file…' }).click();
  const file = page.getByLabel(/Image file/);
  await file.waitFor();
  const png = await page.screenshot({ clip: { x: 0, y: 0, width: 400, height: 300 } });
  await file.setInputFiles({ name: 'lantern.png', mimeType: 'image/png', buffer: png });
  await Promise.all([page.waitForURL((u) => u.pathname === `/admin/products/${product.id}/image`), page.getByRole('button', { name: 'Upload' }).click()]);
  assert.match(new URL(page.url()).searchParams.get('key') || '', new RegExp(`^uploads/${product.id}/`));
  await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'published'), page.getByRole('button', { name: 'Publish the image' }).click()]);
  await page.getByRole('status').filter({ hasText: 'The image is published' }).waitFor();

  // The worker makes the thumbnail in the background: the page shows it once it exists.
  const started = Date.now();
  let loaded = false;
  while (!loaded && Date.now() - started < 30_000) {
    await page.reload();
    const thumb = page.getByRole('img', { name: `Thumbnail of ${product.name}` });
    await thumb.waitFor();
    loaded = await thumb.evaluate((img) => img.complete && img.naturalWidth > 0);
    if (!loaded) await page.waitForTimeout(500);
  }
  assert.ok(loaded, 'the thumbnail did not appear within 30 s of publishing');
  console.log(`# the thumbnail showed ${Date.now() - started} ms after publishing`);
});
