// The pictures the README shows, taken from the running stack: the shop's home page and the
// Overview dashboard drawing what the suites before this one sent through the stack. Each test
// also checks that what it pictures is there: every dashboard of infra/victoriametrics/dashboards
// is listed in VictoriaMetrics' UI, and the Overview's charts are drawn.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { browserTest, useBrowser, screenshot, config } from '../lib/harness.mjs';

const browser = useBrowser();
const here = path.dirname(fileURLToPath(import.meta.url));
const dashboards = path.resolve(here, '../../../../infra/victoriametrics/dashboards');
const vmURL = (process.env.VICTORIAMETRICS_URL || 'http://127.0.0.1:8428').replace(/\/+$/, '');

browserTest('picture of the storefront', { browser, timeout: 30_000, contextOptions: { viewport: { width: 1280, height: 900 } } }, async ({ page }) => {
  await page.goto('/');
  await page.getByRole('heading', { level: 1, name: 'Featured' }).waitFor();
  await page.screenshot({ path: path.join(config.resultsDir, 'storefront.png') });
});

browserTest('picture of the dashboards', { browser, timeout: 60_000, contextOptions: { viewport: { width: 1400, height: 1000 } } }, async ({ page }) => {
  const titles = [];
  for (const f of (await readdir(dashboards)).filter((f) => f.endsWith('.json')).sort()) {
    titles.push(JSON.parse(await readFile(path.join(dashboards, f), 'utf8')).title);
  }
  assert.ok(titles.length >= 5, `${titles.length} dashboards in ${dashboards}`);
  await page.goto(`${vmURL}/vmui/#/dashboards?g0.range_input=15m&g0.relative_time=last_15_minutes`);
  for (const title of titles) {
    await page.getByText(title, { exact: true }).first().waitFor();
  }
  // The first dashboard (Overview) opens first: wait until its charts are drawn.
  await page.getByText(titles[0], { exact: true }).first().click();
  await page.locator('.u-over').first().waitFor();
  await page.waitForLoadState('networkidle');
  const file = path.join(config.resultsDir, 'dashboard-overview.png');
  await page.screenshot({ path: file });
  console.log(`# ${titles.length} dashboards listed; the Overview pictured in ${file}`);
});
