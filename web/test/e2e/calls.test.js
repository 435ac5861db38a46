// Calls in the terminal client's CTCP CALL form: rung and answered, declined, cancelled
// (a missed call for the callee), and rung out (no answer / missed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { launch, user, register, openDM, run, shot, terminal, tmuxTerminal } from './harness.js';

let browser;
let alice;
let bob;
const A = 'calla' + run;
const B = 'callb' + run;

before(async () => {
  browser = await launch();
  alice = await user(browser, { settings: { callTimeout: 4000 } });
  bob = await user(browser, { settings: { callTimeout: 4000 }, notifications: true });
  await register(alice.page, A);
  await register(bob.page, B);
  await openDM(alice.page, B);
});

after(async () => {
  await browser?.close();
  for (const u of [alice, bob]) assert.deepEqual(u.page.errors.map(String), [], 'no script errors in the page');
});

async function ring() {
  await alice.page.click('#call-btn');
  await alice.page.locator('#call-bar [data-call-state="calling"]').waitFor();
  await bob.page.locator('#ring-dialog[open]').waitFor();
  assert.match(await bob.page.textContent('#ring-title'), new RegExp(A + ' is calling you'));
}

test('a call rung and answered, then hung up', async () => {
  await ring();
  assert.ok(await bob.page.evaluate(() => window.labchat.sounds.log.some((s) => s.name === 'call')), 'the ringtone plays');
  await shot(bob.page, 'call-ringing');
  await bob.page.click('#ring-answer');
  await bob.page.locator('#call-bar [data-call-state="active"]').waitFor();
  await alice.page.locator('#call-bar [data-call-state="active"]').waitFor();
  assert.equal(await bob.page.evaluate(() => window.labchat.state.active), A, 'the answered call opens the chat with the caller');
  await alice.page.click('#hangup');
  await bob.page.locator('#call-bar').waitFor({ state: 'hidden' });
  await bob.page.locator('#messages .call-entry[data-call="hungup"]').waitFor();
  assert.equal(await bob.page.evaluate(() => window.labchat.sounds.ringTimer), null, 'the ringtone stopped');
});

test('a declined call', async () => {
  await ring();
  await bob.page.click('#ring-decline');
  await alice.page.locator('#messages .call-entry[data-call="declined"]').waitFor();
  await alice.page.locator('#call-bar').waitFor({ state: 'hidden' });
});

test('a call cancelled by the caller is a missed call for the callee', async () => {
  await ring();
  await alice.page.click('#hangup');
  await bob.page.locator('#ring-dialog[open]').waitFor({ state: 'detached' }).catch(() => {});
  await bob.page.waitForFunction(() => !document.getElementById('ring-dialog').open);
  await bob.page.locator('#messages .call-entry[data-call="missed"]').waitFor();
});

test('a call nobody answers rings out: no answer for the caller, missed for the callee', async () => {
  await ring();
  await alice.page.locator('#messages .call-entry[data-call="no-answer"]').waitFor({ timeout: 10000 });
  await bob.page.waitForFunction(() => !document.getElementById('ring-dialog').open, null, { timeout: 10000 });
  assert.ok((await bob.page.locator('#messages .call-entry[data-call="missed"]').count()) >= 2);
});

test('the terminal client (labchat connect) understands the browser calls', async () => {
  const carol = terminal('callc' + run, { to: A });
  try {
    await alice.page.waitForFunction(() => window.labchat.client.connected);
    await openDM(alice.page, 'callc' + run);
    await alice.page.locator('#conv-name .dot[data-status="online"]').waitFor({ timeout: 15000 });
    await alice.page.click('#call-btn');
    const ring = await carol.waitFor((ev) => ev.type === 'call' && ev.state === 'ringing');
    assert.equal(ring.from, A);
    await alice.page.click('#hangup');
    await carol.waitFor((ev) => ev.type === 'call' && ev.state === 'missed' && ev.id === ring.id);
  } finally {
    await carol.close();
  }
});

const haveTmux = spawnSync('tmux', ['-V']).status === 0;

test('a call from the terminal client rings in the browser and is answered there', { skip: !haveTmux && 'tmux is not installed' }, async () => {
  const dan = 'calld' + run;
  const term = tmuxTerminal(dan);
  try {
    await term.waitFor(/Welcome|logged in|#lobby/i);
    await term.keys('/call ' + B);
    await bob.page.locator('#ring-dialog[open]').waitFor({ timeout: 15000 });
    assert.match(await bob.page.textContent('#ring-title'), new RegExp(dan + ' is calling you'));
    await bob.page.click('#ring-answer');
    await term.waitFor(new RegExp(B + ' answered'));
    await bob.page.locator('#call-bar [data-call-state="active"]').waitFor();
    await term.keys('/hangup');
    await bob.page.locator('#call-bar').waitFor({ state: 'hidden' });
    await bob.page.locator('#messages .call-entry[data-call="hungup"]').last().waitFor();
  } finally {
    await term.close();
  }
});
