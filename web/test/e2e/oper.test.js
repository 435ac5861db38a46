// A room operator's menus: voice and operator status from the member menu, moderation and
// invite-only from the room menu, an invitation with its Join button, and a kick.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, user, register, joinRoom, run } from './harness.js';

let browser;
const people = {};
const B = 'opb' + run; // creates the room: its operator
const A = 'opa' + run;
const C = 'opc' + run;
const room = '#ops' + run;

before(async () => {
  browser = await launch();
  for (const n of [B, A, C]) {
    people[n] = await user(browser);
    await register(people[n].page, n);
  }
  await joinRoom(people[B].page, room);
  await joinRoom(people[A].page, room);
});

after(async () => {
  await browser?.close();
  for (const u of Object.values(people)) assert.deepEqual(u.page.errors.map(String), [], 'no script errors in the page');
});

async function menu(page, label) {
  await page.locator('#menu:not([hidden]) button', { hasText: label }).click();
}

test('voice and operator status from the member menu', async () => {
  const bob = people[B].page;
  const alice = people[A].page;
  await bob.locator('#room-menu-btn:not([hidden])').waitFor();
  assert.equal(await alice.locator('#room-menu-btn').isHidden(), true, 'only operators get the room menu');
  await bob.click(`#member-list [data-nick="${A}"]`);
  await menu(bob, 'Let speak');
  await alice.locator(`#member-list [data-nick="${A}"] .prefix`, { hasText: '+' }).waitFor();
  await bob.click('#room-menu-btn');
  await menu(bob, 'Moderated');
  await alice.locator('#messages .sys', { hasText: '+m' }).waitFor();
  await alice.waitForFunction((r) => window.labchat.state.find(r).modes.has('m'), room);
});

test('an invitation to an invite-only room, accepted with its Join button', async () => {
  const bob = people[B].page;
  const carol = people[C].page;
  await bob.click('#room-menu-btn');
  await menu(bob, 'Invite only');
  await bob.waitForFunction((r) => window.labchat.state.find(r).modes.has('i'), room);
  await bob.click('#room-menu-btn');
  await menu(bob, 'Invite someone');
  await bob.fill('#prompt-input', C);
  await bob.click('#prompt-ok');
  const join = carol.locator(`#messages button[data-invite="${room}"]`);
  await join.waitFor();
  await join.click();
  await carol.waitForFunction((r) => window.labchat.state.active === r && window.labchat.state.find(r).joined, room);
});

test('a kick from the member menu', async () => {
  const bob = people[B].page;
  const alice = people[A].page;
  await bob.click(`#member-list [data-nick="${A}"]`);
  await menu(bob, 'Remove from the room');
  await bob.fill('#prompt-input', 'test over');
  await bob.click('#prompt-ok');
  await alice.waitForFunction((r) => !window.labchat.state.find(r).joined, room);
  await alice.locator(`#conv-list [data-conv="${room}"]`).waitFor({ state: 'detached' });
  await bob.locator('#messages .sys', { hasText: B + ' removed ' + A + ' from ' + room + ': test over' }).waitFor();
  await alice.locator('#messages .sys', { hasText: B + ' removed you from ' + room + ': test over' }).waitFor();
});
