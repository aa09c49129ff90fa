// A guest's whole journey through the storefront, as a person clicks it: the home page, a search
// with a typo in the page's search box, the product, the cart, the checkout, the order's page,
// and the confirmation email in the mail catcher.
import assert from 'node:assert/strict';
import { browserTest, useBrowser } from '../lib/harness.mjs';
import { productToBuy, typo, searchFor, card, addToCart, checkout, mailTo, unique } from '../lib/shop.mjs';

const browser = useBrowser();

browserTest('shopper journey', { browser, timeout: 90_000 }, async ({ page }) => {
  const product = await productToBuy();
  const misspelt = typo(product.name);
  assert.notEqual(misspelt, product.name);
  const email = `${unique('browser-journey')}@e2e.test`;

  const home = await page.goto('/');
  assert.equal(home.status(), 200);
  await page.getByRole('heading', { level: 1, name: 'Featured' }).waitFor();

  await searchFor(page, misspelt);
  assert.equal(new URL(page.url()).searchParams.get('q'), misspelt);
  await page.getByRole('heading', { level: 1, name: `Results for “${misspelt}”` }).waitFor();
  const hit = card(page, product.name);
  assert.ok(await hit.count(), `the search for "${misspelt}" lists no "${product.name}" in stock`);

  await Promise.all([page.waitForURL((u) => /^\/products\/\d+$/.test(u.pathname)), hit.getByRole('link').click()]);
  await page.getByRole('heading', { level: 1, name: product.name, exact: true }).waitFor();
  const productPath = new URL(page.url()).pathname;

  await addToCart(page, product.name, 1);
  const line = page.getByRole('table', { name: 'Products in your cart' }).getByRole('row').filter({ has: page.locator(`a[href="${productPath}"]`) });
  assert.equal(await line.getByLabel(`Quantity of ${product.name}`).inputValue(), '1');

  const orderID = await checkout(page, email);
  assert.ok(orderID > 0);
  await page.getByRole('heading', { level: 1, name: `Order ${orderID} is placed` }).waitFor();
  assert.match(await page.locator('main').innerText(), new RegExp(`confirmation goes to ${email.replace(/[.]/g, '\\.')}`));
  await page.getByRole('table', { name: 'What you ordered' }).locator(`a[href="${productPath}"]`).waitFor();

  const mails = await mailTo(email, 30_000);
  assert.equal(mails.length, 1, `${mails.length} emails to ${email}: ${mails.map((m) => m.Subject).join('; ')}`);
  assert.equal(mails[0].Subject, `Your Flashcrowd order #${orderID}`);
  console.log(`# ordered ${product.name} (${productPath}) after searching "${misspelt}": order ${orderID}, email "${mails[0].Subject}" to ${email}`);
});
