// axe-core, the standard accessibility engine, run on a screen of the client. The test
// loads it into the page (evaluated through the DevTools protocol); the app itself never ships or loads it.
// A serious or critical violation fails the test; moderate and minor ones are returned so
// a test can hold a screen to them too.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fs from 'node:fs';

// Evaluated through the DevTools protocol, which the page's Content-Security-Policy
// (script-src 'self') does not block: the app's policy stays as shipped.
const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export async function axe(page, screen, { failOn = ['serious', 'critical'] } = {}) {
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(axeSource + '\n;void 0');
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const bad = violations.filter((v) => failOn.includes(v.impact));
  assert.deepEqual(bad, [], `axe-core on ${screen}: ${JSON.stringify(bad, null, 1)}`);
  // Two moderate rules the chat screen once broke are held too: one main landmark, one h1.
  const held = violations.filter((v) => ['landmark-one-main', 'page-has-heading-one'].includes(v.id));
  assert.deepEqual(held, [], `axe-core on ${screen}: ${JSON.stringify(held, null, 1)}`);
  if (process.env.LABCHAT_AXE_VERBOSE) console.log(screen, JSON.stringify(violations));
  return violations;
}
