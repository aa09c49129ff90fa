// The harness of the browser tests: configuration from the environment, one Chromium per test
// file (Debian's, driven by playwright-core: no browser is downloaded), a per-test deadline,
// and a full-page screenshot under results/browser/ when a test fails.
import { test, after } from 'node:test';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

export const config = {
  baseURL: trimSlash(process.env.FLASHCROWD_URL || 'http://127.0.0.1:8080'),
  mailpitURL: trimSlash(process.env.MAILPIT_URL || 'http://127.0.0.1:8025'),
  chromium: process.env.CHROMIUM || '/usr/bin/chromium',
  // results/ at the repository's root (git-ignored): gateway/e2e/browser/lib → ../../../../results.
  resultsDir: process.env.RESULTS_DIR || path.resolve(here, '../../../../results/browser'),
};

function trimSlash(u) {
  return u.replace(/\/+$/, '');
}

// Chromium's flags for this machine: without the background-networking ones it tries to reach
// the internet (and fails, and is slow about it).
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launch() {
  return chromium.launch({ executablePath: config.chromium, args: chromiumArgs, headless: true });
}

// url is a path on the stack (or an absolute URL, returned as it is).
export function url(p) {
  return /^https?:\/\//.test(p) ? p : config.baseURL + p;
}

// Every page waits this long at most for one thing (a selector, a navigation) before failing
// with Playwright's message naming what it waited for.
const stepTimeout = Number(process.env.STEP_TIMEOUT_MS || 15_000);

// useBrowser gives the test file one Chromium, started on first use, and always closes it when
// the file's tests are done, passed or failed. It returns an async function that gives the
// browser.
export function useBrowser() {
  let started;
  after(async () => {
    if (started) await (await started.catch(() => null))?.close();
  });
  return () => (started ??= launch());
}

// newContext is a fresh browser profile (its own cookies, so its own session, and an empty
// cache) whose pages wait at most stepTimeout for each step.
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ baseURL: config.baseURL, viewport: { width: 1280, height: 800 }, ...options });
  context.setDefaultTimeout(stepTimeout);
  context.setDefaultNavigationTimeout(stepTimeout);
  return context;
}

// slug is a test's name as a file name.
export function slug(name) {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 100) || 'test';
}

// screenshot saves a full-page screenshot of page to file (its folder made as needed); a page
// that cannot be shot any more (closed, crashed) is reported, not thrown.
export async function screenshot(page, file) {
  await mkdir(path.dirname(file), { recursive: true });
  try {
    await page.screenshot({ path: file, fullPage: true, timeout: 10_000 });
    return file;
  } catch (err) {
    console.error(`# no screenshot at ${file}: ${err.message.split('\n')[0]}`);
    return null;
  }
}

// screenshotURL opens target (a path on the stack or any URL) in a fresh profile and saves a
// full-page screenshot to file. For the dashboards' test and the like: it uses the browser
// given, or starts (and closes) its own. options: viewport, waitUntil ('load' by default;
// 'networkidle' for pages that draw after their data arrives), waitFor (a selector that must be
// visible first), contextOptions (e.g. httpCredentials).
export async function screenshotURL(target, file, options = {}) {
  const { browser: given, viewport = { width: 1440, height: 900 }, waitUntil = 'load', waitFor, contextOptions = {} } = options;
  const browser = given ?? (await launch());
  try {
    const context = await newContext(browser, { viewport, ...contextOptions });
    try {
      const page = await context.newPage();
      const res = await page.goto(url(target), { waitUntil });
      if (!res || !res.ok()) throw new Error(`GET ${target}: ${res ? res.status() : 'no response'}`);
      if (waitFor) await page.locator(waitFor).first().waitFor({ state: 'visible' });
      await mkdir(path.dirname(file), { recursive: true });
      await page.screenshot({ path: file, fullPage: true });
      return file;
    } finally {
      await context.close();
    }
  } finally {
    if (!given) await browser.close();
  }
}

// within runs fn, failing with a clear message if it is not done in ms. A test's own deadline,
// so the failure screenshot is taken while the page is still open (node:test's timeout would
// only abandon the test).
async function within(ms, what, fn) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([fn(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

// browserTest is a node:test test with a page: fn gets { page, context, browser, t }. With
// options.page (a function returning a page that outlives the test, for tests that share a
// profile) it uses that page; otherwise it opens a fresh profile and closes it afterwards.
// On failure, a full-page screenshot of the page goes to results/browser/<test-name>.png.
export function browserTest(name, options, fn) {
  const { timeout = 60_000, browser: getBrowser, page: sharedPage, file = slug(name), contextOptions } = options;
  test(name, { timeout: timeout + 20_000 }, async (t) => {
    let context;
    let page;
    try {
      if (sharedPage) {
        page = await sharedPage();
        context = null;
      } else {
        context = await newContext(await getBrowser(), contextOptions);
        page = await context.newPage();
      }
      await within(timeout, name, async () => fn({ page, context: context ?? page.context(), browser: await getBrowser?.(), t }));
    } catch (err) {
      if (page) {
        const shot = await screenshot(page, path.join(config.resultsDir, `${file}.png`));
        if (shot) console.error(`# failed at ${page.url()}; screenshot: ${shot}`);
      }
      throw err;
    } finally {
      await context?.close().catch(() => {});
    }
  });
}
