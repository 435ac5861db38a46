// Presence and attention: automatic away after idle time and back on activity, the room
// list, a name's menu, mute per conversation and for everything, and a mention notified
// in a hidden tab.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, user, register, say, joinRoom, openConv, messageText, setHidden, run } from './harness.js';

let browser;
let alice;
let bob;
const A = 'prea' + run;
const B = 'preb' + run;
const room = '#pres' + run;

before(async () => {
  browser = await launch();
  alice = await user(browser, { notifications: true, settings: { idleMinutes: 0.05 } });
  bob = await user(browser);
  await register(alice.page, A);
  await register(bob.page, B);
  await joinRoom(bob.page, room);
});

after(async () => {
  await browser?.close();
  for (const u of [alice, bob]) assert.deepEqual(u.page.errors.map(String), [], 'no script errors in the page');
});

test('the room list joins a room; a name in the member list opens a direct chat', async () => {
  await alice.page.click('#list-btn');
  const row = alice.page.locator(`#room-list li[data-room="${room}"]`);
  await row.waitFor();
  await row.locator('button').click();
  await alice.page.waitForFunction((k) => window.labchat.state.active === k && window.labchat.state.find(k).joined, room);
  await alice.page.click(`#member-list [data-nick="${B}"]`);
  await alice.page.locator('#menu:not([hidden]) button', { hasText: 'Send a message' }).click();
  await alice.page.waitForFunction((k) => window.labchat.state.active === k, B);
  await openConv(alice.page, room);
});

test('idle time sets away automatically, and activity brings the user back', async () => {
  const dot = (nick) => bob.page.locator(`#member-list [data-nick="${nick}"] .dot`);
  await dot(A).waitFor();
  await alice.page.mouse.click(600, 300);
  await bob.page.waitForFunction((n) => document.querySelector(`#member-list [data-nick="${n}"] .dot`)?.dataset.status === 'online', A, { timeout: 15000 });
  await bob.page.waitForFunction((n) => document.querySelector(`#member-list [data-nick="${n}"] .dot`)?.dataset.status === 'away', A, { timeout: 15000 });
  assert.equal(await alice.page.textContent('#away-btn'), "I'm back");
  await alice.page.mouse.click(600, 300);
  await bob.page.waitForFunction((n) => document.querySelector(`#member-list [data-nick="${n}"] .dot`)?.dataset.status === 'online', A, { timeout: 15000 });
  await alice.page.evaluate(() => { window.labchat.idleMinutes = 0; });
});

test('a mention in a hidden tab notifies; a muted room stays quiet; sounds off silences all', async () => {
  await setHidden(alice.page, true);
  await say(bob.page, A + ': look at this');
  await alice.page.waitForFunction(() => window.__notifications.length > 0);
  const notes = await alice.page.evaluate(() => window.__notifications);
  assert.match(notes[0].title, new RegExp(B + ' mentioned you in ' + room));
  await setHidden(alice.page, false);
  await openConv(alice.page, room);
  await alice.page.click('#mute-btn');
  assert.equal(await alice.page.getAttribute('#mute-btn', 'aria-pressed'), 'true');
  await openConv(alice.page, '#lobby');
  const sounds = () => alice.page.evaluate(() => window.labchat.sounds.log.length);
  const before = await sounds();
  // The client plays at most one sound a second (a burst of lines beeps once); forget the
  // last one so that only mute and the sound switch decide here.
  const unthrottle = () => alice.page.evaluate(() => { window.labchat.lastSound = 0; });
  await unthrottle();
  await say(bob.page, 'a muted message');
  await alice.page.locator(`#conv-list [data-conv="${room}"] .badge`).waitFor();
  await openConv(bob.page, room);
  assert.equal(await sounds(), before, 'no sound from a muted room');
  await openConv(alice.page, room);
  await alice.page.click('#mute-btn');
  await openConv(alice.page, '#lobby');
  await alice.page.click('#sound-btn');
  await unthrottle();
  await say(bob.page, 'with the sound off');
  await alice.page.locator(`#conv-list [data-conv="${room}"] .badge`).waitFor();
  assert.equal(await sounds(), before, 'no sound with sounds off');
  await alice.page.click('#sound-btn');
  await unthrottle();
  await say(bob.page, 'with the sound on again');
  await alice.page.waitForFunction((n) => window.labchat.sounds.log.length > n, before);
  await openConv(alice.page, room);
  await messageText(alice.page, 'with the sound on again').waitFor();
});
