// Two browser users chatting in a direct chat and a room, a terminal user in the same
// room, status dots, unread counts, the title flash, a desktop notification, and the
// screenshots of the main screens.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, user, register, login, say, joinRoom, openDM, openConv, messageText, setHidden, shot, terminal, run, bin } from './harness.js';

let browser;
let alice;
let bob;
const A = 'alice' + run;
const B = 'bob' + run;
const room = '#chat' + run;

before(async () => {
  browser = await launch();
  alice = await user(browser, { notifications: true });
  bob = await user(browser, { notifications: true });
  await register(alice.page, A);
  await register(bob.page, B);
});

after(async () => {
  await browser?.close();
  for (const u of [alice, bob]) assert.deepEqual(u.page.errors.map(String), [], 'no script errors in the page');
});

test('a direct chat both ways, with a clickable link, own messages apart', async () => {
  await openDM(alice.page, B);
  await say(alice.page, 'hi ' + B + ', see http://example.com/notes and <b>not bold</b>');
  const badge = bob.page.locator(`#conv-list [data-conv="${A}"] .badge`);
  await badge.waitFor();
  assert.equal(await badge.textContent(), '1');
  await openConv(bob.page, A);
  const got = messageText(bob.page, 'see http://example.com/notes');
  await got.waitFor();
  assert.equal(await got.locator('a').getAttribute('href'), 'http://example.com/notes');
  assert.equal(await got.locator('b').count(), 0, 'user text is never HTML');
  await say(bob.page, 'hello ' + A);
  await messageText(alice.page, 'hello ' + A).waitFor();
  assert.equal(await alice.page.locator('#messages .msg.self').count(), 1);
  assert.equal(await alice.page.locator('#messages .msg:not(.self)').count(), 1);
  await say(alice.page, '/me waves');
  await bob.page.locator('#messages .msg.action', { hasText: '* ' + A + ' waves' }).waitFor();
  await bob.page.evaluate(() => { document.querySelector('#messages .msg').dataset.marker = 'kept'; });
  await say(alice.page, 'one more');
  await messageText(bob.page, 'one more').waitFor();
  assert.equal(await bob.page.locator('#messages .msg[data-marker="kept"]').count(), 1, 'a new message is added; the lines shown stay as they are');
});

test('a room with two browsers and a terminal user', async () => {
  await joinRoom(alice.page, room);
  await joinRoom(bob.page, room);
  await alice.page.locator(`#member-list [data-nick="${B}"]`).waitFor();
  const carol = terminal('carol' + run, { to: room });
  try {
    await alice.page.locator(`#member-list [data-nick="carol${run}"]`).waitFor({ timeout: 15000 });
    carol.send('hello from the terminal');
    await messageText(alice.page, 'hello from the terminal').waitFor();
    await messageText(bob.page, 'hello from the terminal').waitFor();
    await say(bob.page, 'hello from the browser');
    await messageText(alice.page, 'hello from the browser').waitFor();
    await carol.waitFor((ev) => ev.text && ev.text.includes('hello from the browser'));
    assert.equal(await alice.page.locator(`#member-list [data-nick="${B}"] .dot`).getAttribute('data-status'), 'online');
  } finally {
    await carol.close();
  }
  await alice.page.locator(`#member-list [data-nick="carol${run}"]`).waitFor({ state: 'detached' });
});

test('Tab completes a name and Up brings back the last line', async () => {
  await alice.page.fill('#input', B.slice(0, 4));
  await alice.page.press('#input', 'Tab');
  assert.equal(await alice.page.inputValue('#input'), B + ': ');
  await alice.page.fill('#input', '');
  await alice.page.press('#input', 'ArrowUp');
  assert.equal(await alice.page.inputValue('#input'), 'one more');
  await alice.page.fill('#input', '');
  await openConv(alice.page, B);
  await alice.page.fill('#input', 'half typed for the DM');
  await openConv(alice.page, room);
  assert.equal(await alice.page.inputValue('#input'), '', 'each conversation has its own draft');
  await openConv(alice.page, B);
  assert.equal(await alice.page.inputValue('#input'), 'half typed for the DM');
  await alice.page.fill('#input', '');
  await openConv(alice.page, room);
});

test('status dots follow away, back and quit', async () => {
  const dot = alice.page.locator(`#member-list [data-nick="${B}"] .dot`);
  await bob.page.click('#away-btn');
  await alice.page.waitForFunction((n) => document.querySelector(`#member-list [data-nick="${n}"] .dot`)?.dataset.status === 'away', B);
  await bob.page.click('#away-btn');
  await alice.page.waitForFunction((n) => document.querySelector(`#member-list [data-nick="${n}"] .dot`)?.dataset.status === 'online', B);
  assert.equal(await dot.getAttribute('data-status'), 'online');
});

test('a hidden tab counts unread messages, flashes its title and favicon, notifies and plays a sound', async () => {
  await openConv(alice.page, room);
  await setHidden(alice.page, true);
  await openConv(bob.page, A);
  await say(bob.page, 'are you there?');
  await alice.page.waitForFunction(() => /^\(1\) |★/.test(document.title));
  await alice.page.waitForFunction(() => document.getElementById('favicon').getAttribute('href') === 'favicon-unread.svg' || /★/.test(document.title));
  const notes = await alice.page.evaluate(() => window.__notifications);
  assert.ok(notes.some((n) => n.title.includes(B) && n.body === 'are you there?'), JSON.stringify(notes));
  assert.ok(await alice.page.evaluate(() => window.labchat.sounds.log.some((s) => s.name === 'message')));
  await setHidden(alice.page, false);
  await openConv(alice.page, B);
  await alice.page.waitForFunction(() => !/^\(\d+\)/.test(document.title));
  assert.equal(await alice.page.locator('#new-divider').count(), 1, 'the new-messages divider marks what came while away');
});

test('screenshots of the main screens', async () => {
  await openConv(alice.page, room);
  await openConv(bob.page, room);
  await say(bob.page, 'a long line to show wrapping: ' + 'lorem ipsum dolor sit amet '.repeat(8));
  await shot(alice.page, 'chat-desktop-light');
  await alice.page.emulateMedia({ colorScheme: 'dark' });
  await shot(alice.page, 'chat-desktop-dark');
  await alice.page.setViewportSize({ width: 360, height: 740 });
  await shot(alice.page, 'chat-phone-dark');
  await alice.page.emulateMedia({ colorScheme: 'light' });
  await shot(alice.page, 'chat-phone-light');
  await alice.page.click('#menu-btn');
  await shot(alice.page, 'chat-phone-sidebar');
  await alice.page.keyboard.press('Escape');
  await alice.page.setViewportSize({ width: 1200, height: 780 });
});

test('quitting turns the dot offline for the contact; coming back chimes', async () => {
  await alice.page.evaluate((n) => window.labchat.addContact(n), B);
  await alice.page.locator(`#contact-list [data-nick="${B}"] .dot[data-status="online"]`).waitFor();
  await bob.page.click('#logout-btn');
  await alice.page.locator(`#contact-list [data-nick="${B}"] .dot[data-status="offline"]`).waitFor();
  await alice.page.locator(`#member-list [data-nick="${B}"]`).waitFor({ state: 'detached' });
  await login(bob.page, B);
  await alice.page.locator(`#contact-list [data-nick="${B}"] .dot[data-status="online"]`).waitFor();
  await alice.page.waitForFunction(() => window.labchat.sounds.log.some((s) => s.name === 'online'));
});
