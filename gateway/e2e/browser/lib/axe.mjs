// axe-core in the page, and its findings as a test failure message.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let source;

// The storefront's Content-Security-Policy (script-src 'self') refuses an injected <script>,
// so axe's source is evaluated through the DevTools protocol instead, which the policy does
// not govern: the pages are checked under their real policy.
async function inject(page) {
  source ??= await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.evaluate(source);
  }
}

// audit runs axe on the page (WCAG 2.x A and AA, and axe's best practices) and returns its
// violations and how many rules the page passed.
export async function audit(page) {
  await inject(page);
  const result = await page.evaluate(() =>
    window.axe.run(document, { resultTypes: ['violations'], runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } }),
  );
  return { violations: result.violations, passed: result.passes.length };
}

export const blocking = (v) => v.impact === 'serious' || v.impact === 'critical';

// describe is one line per violation and one per element it found.
export function describe(violations) {
  return violations
    .map((v) => {
      const nodes = v.nodes.map((n) => `    ${n.target.join(' ')}${n.failureSummary ? ` — ${n.failureSummary.replace(/\s*\n\s*/g, ' ')}` : ''}`);
      return `  [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n${nodes.join('\n')}`;
    })
    .join('\n');
}
