// Robustness: reconnecting after a server restart and catching up on what was missed, and
// a second tab of the same account never breaking the first silently.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, user, register, login, say, joinRoom, openDM, openConv, messageText, restartServer, run, controlURL } from './harness.js';

let browser;
const A = 'reca' + run;
const B = 'recb' + run;
const room = '#recon' + run;

before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('after a server restart the client reconnects, rejoins and catches up', { skip: !controlURL && 'no LABCHAT_CONTROL_URL' }, async () => {
  const alice = await user(browser);
  const bob = await user(browser);
  await register(alice.page, A);
  await register(bob.page, B);
  await joinRoom(alice.page, room);
  await joinRoom(bob.page, room);
  await say(bob.page, 'before the restart');
  await messageText(alice.page, 'before the restart').waitFor();
  // Hold alice's reconnect until bob has spoken, so that only history can tell her.
  await alice.page.evaluate(() => {
    const c = window.labchat.client;
    window.__states = [];
    c.on('status', (s) => window.__states.push(s.state));
    c.heldReconnect = c.scheduleReconnect;
    c.scheduleReconnect = function () { this.setState('reconnecting', { delay: 0 }); };
  });
  await restartServer();
  await alice.page.locator('#banner:not([hidden])').waitFor();
  assert.match(await alice.page.textContent('#banner'), /Connection lost/);
  await bob.page.waitForFunction((r) => window.labchat.client.state === 'registered' && window.labchat.state.find(r)?.joined, room.toLowerCase(), { timeout: 20000 });
  await say(bob.page, 'while you were reconnecting');
  await messageText(bob.page, 'while you were reconnecting').waitFor();
  await alice.page.evaluate(() => {
    const c = window.labchat.client;
    c.scheduleReconnect = c.heldReconnect;
    c.reconnectNow();
  });
  await alice.page.locator('#banner').waitFor({ state: 'hidden', timeout: 20000 });
  await messageText(alice.page, 'while you were reconnecting').waitFor();
  assert.equal(await messageText(alice.page, 'before the restart').count(), 1, 'nothing is shown twice');
  await say(alice.page, 'back again');
  await messageText(bob.page, 'back again').waitFor();
  const states = await alice.page.evaluate(() => window.__states);
  assert.deepEqual(states.slice(0, 1), ['reconnecting']);
  assert.equal(states.at(-1), 'registered');
  await alice.ctx.close();
  await bob.ctx.close();
});

test('a second tab of the same account does not break the first silently', async () => {
  const name = 'tabs' + run;
  const ctx = await browser.newContext();
  const first = await ctx.newPage();
  await first.goto(process.env.LABCHAT_WEB_URL);
  await register(first, name);
  const second = await ctx.newPage();
  await second.goto(process.env.LABCHAT_WEB_URL);
  await login(second, name);
  // Either both tabs stay connected (several connections per account), or the first says
  // it was replaced and offers to take the session back.
  await first.waitForFunction(() => window.labchat.client.state === 'stopped' || window.labchat.client.state === 'registered');
  const state = await first.evaluate(() => window.labchat.client.state);
  if (state === 'stopped') {
    await first.locator('#banner #use-here').waitFor();
    assert.match(await first.textContent('#banner'), /another tab or device/);
    await first.click('#use-here');
    await first.waitForFunction(() => window.labchat.client.state === 'registered');
  } else {
    // Several connections per account: what one tab sends shows in the other, and a call
    // answered in one stops ringing in the other.
    const peer = await user(browser, { settings: { callTimeout: 20000 } });
    await register(peer.page, 'tabpeer' + run);
    await openDM(first, 'tabpeer' + run);
    await say(first, 'from the first tab');
    await peer.page.locator(`#conv-list [data-conv="${name}"]`).waitFor();
    await openConv(peer.page, name);
    await messageText(peer.page, 'from the first tab').waitFor();
    await second.locator(`#conv-list [data-conv="tabpeer${run}"]`).waitFor();
    await peer.page.click('#call-btn');
    await first.locator('#ring-dialog[open]').waitFor();
    await second.locator('#ring-dialog[open]').waitFor();
    await second.click('#ring-answer');
    await peer.page.locator('#call-bar [data-call-state="active"]').waitFor();
    await first.waitForFunction(() => !document.getElementById('ring-dialog').open);
    await first.locator('#messages .call-entry[data-call="elsewhere"]').waitFor();
    await peer.ctx.close();
  }
  await ctx.close();
});
