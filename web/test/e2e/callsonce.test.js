// Issue 16, item 8 in the browser: a missed call rings out with its own sound and a desktop
// notification; each call is one line, with its outcome, also on a fresh device (from the
// history); the previous-login notice once, not after a reconnect; no command text left in
// the box after /query or /call; one conversation per person across a nick change; long
// names in the login card's recent accounts. axe-core checks the login card.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, user, register, login, openDM, say, run, shot, restartServer, setHidden } from './harness.js';
import { axe } from './axe.js';

let browser;
let ken;
let mei;
const K = 'ken' + run;
const M = 'mei' + run;

before(async () => {
  browser = await launch();
  ken = await user(browser, { settings: { callTimeout: 3000 } });
  mei = await user(browser, { settings: { callTimeout: 3000 }, notifications: true });
  await register(ken.page, K);
  await register(mei.page, M);
});

after(async () => {
  await browser?.close();
  for (const u of [ken, mei]) assert.deepEqual(u.page.errors.map(String), [], 'no script errors in the page');
});

test('/query and /call leave no command text; a call is one line with its outcome', async () => {
  await openDM(ken.page, M);
  await say(ken.page, '/query ' + M + 'x');
  await ken.page.waitForFunction((k) => window.labchat.state.active === k, (M + 'x').toLowerCase());
  await ken.page.click(`#conv-list [data-conv="${M.toLowerCase()}"]`);
  assert.equal(await ken.page.inputValue('#input'), '', 'the /query line is not left in the box');
  await say(ken.page, '/call');
  await mei.page.locator('#ring-dialog[open]').waitFor();
  assert.equal(await ken.page.inputValue('#input'), '');
  await setHidden(mei.page, true);
  // mei does not answer: the ring runs out.
  await mei.page.waitForFunction(() => !document.getElementById('ring-dialog').open, null, { timeout: 10000 });
  await mei.page.waitForFunction(() => window.labchat.sounds.log.some((s) => s.name === 'missed'));
  await mei.page.waitForFunction(() => window.__notifications.some((n) => /Missed call from/.test(n.title)));
  await ken.page.locator('#messages .call-entry[data-call="no-answer"]').waitFor();
  assert.equal(await ken.page.locator('#messages .call-entry').count(), 1, 'one line for the call, not "Calling…" and "You called"');
  await setHidden(mei.page, false);
  await openDM(mei.page, K);
  await mei.page.locator('#messages .call-entry[data-call="missed"]').waitFor();
  assert.equal(await mei.page.locator('#messages .call-entry').count(), 1);
});

test('a nick change keeps one conversation; the previous-login notice shows once across a reconnect', async () => {
  await openDM(mei.page, K);
  await say(ken.page, 'before the rename');
  await mei.page.locator('#messages .msg .bubble', { hasText: 'before the rename' }).waitFor();
  await say(ken.page, '/nick ' + K + 'x');
  await mei.page.waitForFunction((k) => window.labchat.state.find(k) && !window.labchat.state.find(k.slice(0, -1)), (K + 'x').toLowerCase(), { timeout: 10000 }).catch(() => {});
  await ken.page.waitForFunction((k) => window.labchat.state.me.nick === k, K + 'x');
  await ken.page.click(`#conv-list [data-conv="${M.toLowerCase()}"]`);
  await say(ken.page, 'after the rename');
  await mei.page.locator('#messages .msg .bubble', { hasText: 'after the rename' }).waitFor();
  const dmKeys = await mei.page.evaluate(() => [...window.labchat.state.convs.values()].filter((c) => c.kind === 'dm').map((c) => c.key));
  assert.equal(dmKeys.filter((k) => k.startsWith(K.toLowerCase())).length, 1, 'one conversation with ken: ' + dmKeys);
  assert.equal(await mei.page.locator('#messages .msg .bubble', { hasText: 'before the rename' }).count(), 1);

  const notices = () => mei.page.evaluate(() => [...window.labchat.state.convs.values()].flatMap((c) => c.messages).filter((m) => m.login).length);
  const before = await notices();
  assert.ok(before <= 1);
  await restartServer();
  await mei.page.waitForFunction(() => window.labchat.client.state !== 'registered', null, { timeout: 10000 }).catch(() => {});
  await mei.page.waitForFunction(() => window.labchat.client.state === 'registered', null, { timeout: 30000 });
  await mei.page.waitForFunction(() => window.labchat.state.previousLogin, null, { timeout: 10000 });
  await ken.page.waitForFunction(() => window.labchat.client.state === 'registered', null, { timeout: 30000 });
  await say(ken.page, 'after the restart');
  await mei.page.waitForFunction(() => [...window.labchat.state.convs.values()].some((c) => c.messages.some((m) => m.text === 'after the restart')));
  assert.equal(await notices(), Math.max(before, 1), 'the previous-login notice is not repeated after a reconnect');
});

test('long names in the recent accounts stay inside the login card', async () => {
  const long = 'averyveryverylongname' + run;
  const u = await user(browser);
  await register(u.page, long);
  await u.page.click('#logout-btn');
  await u.page.setViewportSize({ width: 360, height: 720 }); // the login card on a phone
  await u.page.locator('#recent:not([hidden])').waitFor();
  const card = await u.page.locator('.login-card').boundingBox();
  assert.ok(card.x >= 0 && card.x + card.width <= 360.5, 'the login card fits the phone: ' + JSON.stringify(card));
  for (const b of await u.page.locator('#recent-list button').all()) {
    const box = await b.boundingBox();
    assert.ok(box.x >= card.x - 0.5 && box.x + box.width <= card.x + card.width + 0.5, `a recent-account button sticks out of the card: ${JSON.stringify(box)} vs ${JSON.stringify(card)}`);
  }
  await axe(u.page, 'the login screen with recent accounts, phone');
  await shot(u.page, 'callsonce-login-long-name-phone');
  await u.ctx.close();
});

test('on a fresh device the call history has outcomes, one line per call', async () => {
  const fresh = await user(browser);
  await login(fresh.page, K); // last: this login may take ken's other tab over
  await openDM(fresh.page, M);
  await fresh.page.locator('#messages .call-entry').first().waitFor();
  const states = await fresh.page.$$eval('#messages .call-entry', (els) => els.map((e) => e.dataset.call));
  assert.deepEqual(states, ['no-answer'], 'the ring and its CANCEL are one line with the outcome');
  await fresh.ctx.close();
});
