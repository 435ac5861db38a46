// The main screens as a student sees them, saved as screenshots (desktop and 360 px,
// light and dark): a lab room with a few people talking, a direct chat, contacts online,
// away and offline, an unread badge. Two of them are in docs/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, user, say, joinRoom, openConv, openDM, messageText, shot } from './harness.js';

let browser;
const people = {};
const room = '#netlab';

// enter registers the account, or logs in when an earlier run made it.
async function enter(page, name) {
  await page.click('#tab-register');
  await page.fill('#login-account', name);
  await page.fill('#login-password', 'secret-' + name);
  await page.click('#login-submit');
  await Promise.race([
    page.waitForSelector('#chat-screen:not([hidden])'),
    page.waitForSelector('#login-error:not([hidden])').then(async () => {
      await page.click('#tab-login');
      await page.fill('#login-password', 'secret-' + name);
      await page.click('#login-submit');
      await page.waitForSelector('#chat-screen:not([hidden])');
    }),
  ]);
}

before(async () => {
  browser = await launch();
  for (const name of ['mei', 'tom', 'lin', 'sam']) {
    people[name] = await user(browser, { settings: { idleMinutes: 0 } });
    await enter(people[name].page, name);
    await joinRoom(people[name].page, room);
  }
});

after(async () => {
  await browser?.close();
  for (const u of Object.values(people)) assert.deepEqual(u.page.errors.map(String), []);
});

test('the main screens', async () => {
  const { mei, tom, lin, sam } = Object.fromEntries(Object.entries(people).map(([k, v]) => [k, v.page]));
  await say(tom, 'Has anyone got the capture for exercise 3?');
  await say(lin, 'Yes: filter on tcp.port == 6667 and follow the stream');
  await say(lin, 'the PRIVMSG lines are all in clear text');
  await say(mei, 'Thanks! The handshake is CAP LS, NICK, USER, then AUTHENTICATE');
  await say(sam, 'Slides are at http://lab.example.edu/net/week3.pdf');
  await say(tom, '/me is downloading them');
  await messageText(mei, 'is downloading them').waitFor();
  for (const n of ['tom', 'lin', 'sam']) await mei.evaluate((n) => window.labchat.addContact(n), n);
  await openDM(tom, 'mei');
  await say(tom, 'Do you want to compare our answers after class?');
  await lin.click('#away-btn');
  await sam.click('#logout-btn');
  await mei.locator('#contact-list [data-nick="sam"] .dot[data-status="offline"]').waitFor();
  await mei.locator('#contact-list [data-nick="lin"] .dot[data-status="away"]').waitFor();
  await mei.locator('#conv-list [data-conv="tom"] .badge').waitFor();
  await openConv(mei, room);
  await mei.fill('#input', 'Good idea, see you at 4');
  await shot(mei, 'desktop-light');
  await mei.emulateMedia({ colorScheme: 'dark' });
  await shot(mei, 'desktop-dark');
  await mei.setViewportSize({ width: 360, height: 740 });
  await shot(mei, 'phone-dark');
  await mei.emulateMedia({ colorScheme: 'light' });
  await shot(mei, 'phone-light');
  await mei.click('#menu-btn');
  await shot(mei, 'phone-sidebar-light');
  await openConv(mei, 'tom');
  await shot(mei, 'phone-dm-light');
});
