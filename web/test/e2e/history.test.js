// History: older pages load as the user scrolls up (CHATHISTORY BEFORE), also after a
// reload; messages sent while the user was offline are shown as such.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { launch, user, register, login, joinRoom, openConv, terminal, run, serverDir, until } from './harness.js';

let browser;
const A = 'hista' + run;
const B = 'histb' + run;
const room = '#hist' + run;
const lines = 35;

before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('older pages load on scroll after a reload', async () => {
  const { page } = await user(browser, { settings: { pageSize: 10 } });
  await register(page, A);
  await joinRoom(page, room);
  // bob stays in the room across alice's reload: a room left empty starts again without
  // history (room.go), and that is not what this test is about.
  const bob = terminal(B, { to: room });
  try {
    await page.locator(`#member-list [data-nick="${B}"]`).waitFor({ timeout: 15000 });
    for (let i = 1; i <= lines; i++) bob.send('history line ' + i);
    await page.locator('#messages .bubble', { hasText: 'history line ' + lines }).waitFor();
    await page.reload();
    await login(page, A);
    await page.waitForFunction((k) => window.labchat.state.find(k)?.joined, room.toLowerCase());
  } finally {
    await bob.close();
  }
  await openConv(page, room.toLowerCase());
  await page.locator('#messages .bubble', { hasText: 'history line ' + lines }).waitFor();
  const count = () => page.locator('#messages .msg[data-from="' + B + '"]').count();
  assert.ok((await count()) <= 20, 'only the latest pages are loaded at first');
  for (let i = 0; i < 10 && !(await page.locator('#messages [data-history="done"]').count()); i++) {
    const before = await count();
    await page.locator('#messages').evaluate((el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); });
    await page.waitForFunction(([sel, n]) => document.querySelectorAll(sel).length > n || document.querySelector('#messages [data-history="done"]'),
      ['#messages .msg[data-from="' + B + '"]', before]);
  }
  await page.locator('#messages .bubble', { hasText: /^history line 1$/ }).waitFor();
  assert.equal(await count(), lines);
  await page.locator('#messages [data-history="done"]').waitFor();
  await page.context().close();
});

test('messages sent while offline are delivered and marked', async () => {
  const { page } = await user(browser);
  await login(page, A);
  await page.click('#logout-btn');
  const bob = terminal(B, { to: A, register: false });
  try {
    bob.send('sent while you were out');
  } finally {
    await bob.close();
  }
  const queue = path.join(serverDir, 'offline', A + '.log');
  await until('the offline message in ' + queue, () => fs.existsSync(queue) && fs.readFileSync(queue, 'utf8').includes('sent while you were out'));
  await login(page, A);
  await page.locator(`#conv-list [data-conv="${B}"] .badge`).waitFor();
  await openConv(page, B);
  const msg = page.locator('#messages .msg.offline', { hasText: 'sent while you were out' });
  await msg.waitFor();
  assert.match(await msg.innerText(), /sent while you were offline/);
  await page.context().close();
});
