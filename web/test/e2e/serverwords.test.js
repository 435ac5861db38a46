// What the server says, shown in the browser in the user's language: a kick with its
// reason (to the one removed and to the room), an announcement (NOTICE $*) as a banner for
// everyone, a refused message translated in the Chinese UI, WHOIS as a card, and a server
// operator's moderation menus in a room where she has no @. axe-core checks every screen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, user, register, joinRoom, say, shot, run } from './harness.js';
import { axe } from './axe.js';

let browser;
const people = {};
const MEI = 'mei' + run;
const LIN = 'lin' + run;
const ZH = 'zhang' + run;
const T = 'teacher'; // an operator account in the test server's config (web_test.go)
const room = '#lab' + run;
const quiet = '#quiet' + run;

before(async () => {
  browser = await launch();
  people[MEI] = await user(browser);
  people[LIN] = await user(browser, { colorScheme: 'dark' });
  people[ZH] = await user(browser, { locale: 'zh-CN' });
  people[T] = await user(browser);
  await axe(people[MEI].page, 'the login screen');
  await axe(people[ZH].page, 'the login screen in Chinese');
  for (const n of [MEI, LIN, ZH, T]) await register(people[n].page, n);
  for (const n of [MEI, LIN, T]) await joinRoom(people[n].page, room);
  await people[LIN].page.setViewportSize({ width: 360, height: 720 }); // lin is on a phone
});

after(async () => {
  await browser?.close();
  for (const u of Object.values(people)) assert.deepEqual(u.page.errors.map(String), [], 'no script errors in the page');
});

async function menu(page, label) {
  await page.locator('#menu:not([hidden]) button', { hasText: label }).click();
}

test('a server operator gets the moderation menus without /op, and a kick says who, why, to everyone', async () => {
  const teacher = people[T].page;
  const mei = people[MEI].page;
  const lin = people[LIN].page;
  await teacher.waitForFunction(() => window.labchat.state.me.oper);
  await teacher.locator('#room-menu-btn:not([hidden])').waitFor();
  assert.equal(await teacher.locator(`#member-list [data-nick="${T}"] .prefix`).count(), 0, 'the teacher has no @ in the room');
  await axe(teacher, 'a room, as an operator');
  await shot(teacher, 'serverwords-operator-room');
  await teacher.click(`#member-list [data-nick="${MEI}"]`);
  await axe(teacher, 'the member menu');
  await menu(teacher, 'Remove from the room');
  await teacher.fill('#prompt-input', 'please stop');
  await axe(teacher, 'the prompt dialog');
  await teacher.click('#prompt-ok');
  await mei.waitForFunction((r) => !window.labchat.state.find(r).joined, room);
  await mei.locator('#messages .sys', { hasText: `${T} removed you from ${room}: please stop` }).waitFor();
  await shot(mei, 'serverwords-kicked');
  await lin.locator('#messages .sys', { hasText: `${T} removed ${MEI} from ${room}: please stop` }).waitFor();
});

test('an announcement typed as /notice $* reaches everyone whole, as a banner', async () => {
  const teacher = people[T].page;
  await say(teacher, '/notice $* The lab closes at 18:00');
  for (const n of [MEI, LIN, ZH]) {
    const page = people[n].page;
    await page.locator('#announcements .announcement', { hasText: 'The lab closes at 18:00' }).waitFor();
    assert.equal(await page.locator(`#conv-list [data-conv="${T}"]`).count(), 0, 'not a direct chat from the teacher');
    assert.equal(await page.locator('#conv-list [data-conv="$*"]').count(), 0);
  }
  await axe(people[LIN].page, 'the chat screen with an announcement, phone, dark');
  await shot(people[LIN].page, 'serverwords-announcement-phone-dark');
  await shot(people[MEI].page, 'serverwords-announcement-desktop');
  const mei = people[MEI].page;
  await mei.click('#announcements .announcement button');
  await mei.locator('#announcements').waitFor({ state: 'hidden' });
});

test('the Chinese UI shows the server\'s refusal and WHOIS in Chinese', async () => {
  const teacher = people[T].page;
  const zh = people[ZH].page;
  await joinRoom(teacher, quiet);
  await say(teacher, `/mode ${quiet} +m`);
  await teacher.waitForFunction((r) => window.labchat.state.find(r).modes?.has('m'), quiet);
  await joinRoom(zh, quiet);
  await say(zh, '大家好');
  await zh.locator('#messages .sys.error', { hasText: `你不能在 ${quiet} 发言：聊天室处于管制发言状态` }).waitFor();
  const text = await zh.locator('#messages .sys.error').last().textContent();
  assert.doesNotMatch(text, /Cannot send|moderated/, 'no English left: ' + text);
  await say(zh, '/whois ' + T);
  const card = zh.locator(`#messages .whois-card[data-nick="${T}"]`);
  await card.waitFor();
  const cardText = await card.textContent();
  assert.match(cardText, /关于 teacher/);
  assert.match(cardText, /账号teacher/);
  assert.match(cardText, /服务器管理员/);
  assert.doesNotMatch(cardText, /\b1[0-9]{9}\b/, 'no epoch seconds in the card');
  assert.equal(await zh.locator('#input').inputValue(), '', 'no command text left in the box');
  await axe(zh, 'the chat screen in Chinese with a WHOIS card');
  await shot(zh, 'serverwords-chinese-whois');
});
