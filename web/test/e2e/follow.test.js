// The same chat on every PC (issue 16): a second browser context for mei (a "new PC" with
// empty storage) shows her rooms, contacts and read state, all kept by the server; a message
// read on one device is cleared on the other within a second; room messages that came while
// she was away count as unread; after a server restart the founder's @ and the topic stay.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, user, register, login, say, joinRoom, openConv, openDM, messageText, setHidden, restartServer, shot, run, controlURL } from './harness.js';

let browser;
let desk;
let tom;
const M = 'mei' + run;
const T = 'tom' + run;
const room = '#own' + run;
const room2 = '#side' + run;

before(async () => {
  browser = await launch();
  desk = await user(browser, { notifications: true });
  tom = await user(browser);
  await register(tom.page, T);
  await desk.page.click('#tab-register');
  await desk.page.fill('#login-display', '梅 Zoë');
  await register(desk.page, M);
  await joinRoom(desk.page, room);
  await say(desk.page, '/topic week 3: sockets');
  await say(desk.page, '/contact add ' + T);
  await joinRoom(desk.page, room2);
  await joinRoom(tom.page, room);
  await joinRoom(tom.page, room2);
});

after(async () => {
  await browser?.close();
  for (const u of [desk, tom]) assert.deepEqual(u.page.errors.map(String), [], 'no script errors in the page');
});

const badge = (page, key) => page.evaluate((k) => window.labchat.state.find(k)?.unread ?? -1, key);

test('a new PC shows her rooms, contacts and display name, from the server', async () => {
  const pc = await user(browser); // empty storage
  await login(pc.page, M);
  await pc.page.locator(`#conv-list [data-conv="${room}"]`).waitFor({ timeout: 10000 });
  await pc.page.locator(`#contact-list [data-nick="${T}"]`).waitFor({ timeout: 10000 });
  await pc.page.waitForFunction((k) => window.labchat.state.find(k)?.joined, room);
  // tom sees mei's display name beside her nick.
  await openConv(tom.page, room);
  await tom.page.locator(`#member-list [data-nick="${M}"] .display-name`, { hasText: '梅 Zoë' }).waitFor({ timeout: 10000 });
  await shot(pc.page, 'follow-new-pc');
  await pc.ctx.close();
});

test('a DM read on one device is cleared on the other within a second', async () => {
  const phone = await user(browser); // a second device of mei's
  await login(phone.page, M);
  await openConv(desk.page, room);
  await openConv(phone.page, room);
  await openDM(tom.page, M);
  await say(tom.page, 'are you there?');
  await desk.page.waitForFunction((k) => window.labchat.state.find(k)?.unread === 1, T.toLowerCase());
  await phone.page.waitForFunction((k) => window.labchat.state.find(k)?.unread === 1, T.toLowerCase());
  await openConv(phone.page, T.toLowerCase());
  const t0 = Date.now();
  await desk.page.waitForFunction((k) => window.labchat.state.find(k)?.unread === 0, T.toLowerCase(), { timeout: 5000 });
  const took = Date.now() - t0;
  assert.ok(took < 1000, `cleared on the desktop after ${took} ms`);
  assert.equal(await desk.page.locator(`#conv-list [data-conv="${T.toLowerCase()}"] .badge`).count(), 0);
  await phone.ctx.close();
});

test('room messages said while she was away count as unread on the next PC', async () => {
  await openConv(desk.page, T.toLowerCase());
  await say(desk.page, '/quit');
  await desk.page.waitForSelector('#login-screen:not([hidden])');
  await openConv(tom.page, room2);
  await say(tom.page, 'missed one');
  await say(tom.page, 'missed two');
  await messageText(tom.page, 'missed two').waitFor();
  const pc = await user(browser);
  desk = pc;
  await login(pc.page, M);
  // The first room opens by itself; the other one shows what came while she was away.
  await pc.page.waitForFunction((k) => window.labchat.state.find(k)?.unread === 2, room2, { timeout: 10000 });
  await pc.page.locator(`#conv-list [data-conv="${room2}"] .badge`, { hasText: '2' }).waitFor();
  await shot(pc.page, 'follow-unread-after-offline');
  await openConv(pc.page, room2);
  await pc.page.locator('#messages .divider').waitFor();
});

test('after a server restart the founder has @ and the topic is kept', { skip: !controlURL && 'no LABCHAT_CONTROL_URL' }, async () => {
  await restartServer();
  await desk.page.waitForFunction((k) => {
    const c = window.labchat.state.find(k);
    return c?.joined && window.labchat.state.amOp(c);
  }, room, { timeout: 20000 });
  await openConv(desk.page, room);
  await desk.page.waitForFunction((k) => (window.labchat.state.find(k)?.topic || '').includes('week 3: sockets'), room, { timeout: 10000 });
  assert.equal(await badge(desk.page, room), 0);
});
