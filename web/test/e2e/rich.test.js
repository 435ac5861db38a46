// Issue 19 in the browser: a pasted block of code is one multiline message shown as one
// block with the fence monospaced; replies quote their parent; reactions are counted;
// "x is typing…"; deleting one's own message, a room operator deleting another's, and the
// history no longer serving a deleted message.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, user, register, say, joinRoom, openConv, messageText, shot, run, until } from './harness.js';

let browser;
let alice;
let bob;
const A = 'alice' + run;
const B = 'bob' + run;
const room = '#rich' + run;

before(async () => {
  browser = await launch();
  alice = await user(browser);
  bob = await user(browser);
  for (const u of [alice, bob]) u.page.on('dialog', (d) => d.accept());
  await register(alice.page, A);
  await register(bob.page, B);
  await joinRoom(alice.page, room); // alice founds the room: she is its operator
  await joinRoom(bob.page, room);
  await alice.page.locator(`#member-list [data-nick="${B}"]`).waitFor();
});

after(async () => {
  await browser?.close();
  for (const u of [alice, bob]) assert.deepEqual(u.page.errors.map(String), [], 'no script errors in the page');
});

const code = 'look at this:\n```c\nint main(void) {\n    return 0;\n}\n```\ndoes it compile?';

test('a pasted block of code is one message, its fence monospaced', async () => {
  await say(alice.page, code);
  const got = bob.page.locator('#messages .msg.multiline', { hasText: 'does it compile?' });
  await got.waitFor();
  assert.equal(await bob.page.locator('#messages .msg', { hasText: 'int main' }).count(), 1, 'one message, not one per line');
  const pre = got.locator('pre.code');
  assert.equal(await pre.textContent(), 'int main(void) {\n    return 0;\n}');
  const font = await pre.evaluate((el) => getComputedStyle(el).fontFamily);
  assert.match(font, /mono|Consolas|Menlo/i);
  assert.equal(await pre.getAttribute('data-lang'), 'c');
  // It came as one draft/multiline batch: the client saw one message with one msgid.
  const msgid = await got.getAttribute('data-msgid');
  assert.ok(msgid);
  // The history keeps it as one message too.
  const hist = await bob.page.evaluate(async (r) => window.labchat.client.history('LATEST', r, '*', 10), room);
  const one = hist.filter((m) => m.tags.msgid === msgid);
  assert.equal(one.length, 1);
  assert.equal(one[0].params[1], code);
  await shot(bob.page, 'multiline-code');
});

test('a reply shows its parent; reactions are counted', async () => {
  await say(alice.page, 'who has the lab sheet?');
  const parent = bob.page.locator('#messages .msg', { hasText: 'who has the lab sheet?' });
  await parent.waitFor();
  await parent.hover();
  await parent.locator('[data-action="reply"]').click();
  await bob.page.locator('#reply-bar:not([hidden])', { hasText: 'Replying to ' + A }).waitFor();
  await say(bob.page, 'I do, page 3');
  const reply = alice.page.locator('#messages .msg', { hasText: 'I do, page 3' });
  await reply.waitFor();
  const quote = reply.locator('.quote');
  await quote.waitFor();
  const q = await quote.textContent();
  assert.ok(q.includes(A) && q.includes('who has the lab sheet?'), 'the quote names the parent: ' + q);
  assert.equal(await bob.page.locator('#reply-bar').isHidden(), true, 'the reply bar goes once sent');

  // alice reacts to the reply, then bob too: 👍 2 on both screens
  await reply.hover();
  await reply.locator('[data-action="react"]').click();
  await reply.locator('[data-pick="👍"]').click();
  const chipB = bob.page.locator('#messages .msg', { hasText: 'I do, page 3' }).locator('.reaction[data-react="👍"]');
  await chipB.waitFor();
  assert.equal(await chipB.getAttribute('data-count'), '1');
  await chipB.click();
  await alice.page.locator('#messages .msg', { hasText: 'I do, page 3' }).locator('.reaction[data-react="👍"][data-count="2"]').waitFor();
  await bob.page.locator('#messages .msg', { hasText: 'I do, page 3' }).locator('.reaction[data-react="👍"][data-count="2"][aria-pressed="true"]').waitFor();
  await shot(alice.page, 'reply-and-reactions');
});

test('"bob is typing…" while bob types, gone when he sends', async () => {
  await bob.page.fill('#input', 'let me think');
  await alice.page.locator('#typing', { hasText: B + ' is typing…' }).waitFor();
  await shot(alice.page, 'typing');
  await bob.page.press('#input', 'Enter');
  await messageText(alice.page, 'let me think').waitFor();
  await until('the typing line to clear', async () => (await alice.page.textContent('#typing')) === '');
});

test('delete: one\'s own message, an operator any in the room; history forgets both', async () => {
  await say(bob.page, 'oops, wrong room');
  await say(bob.page, 'this one stays');
  const oops = alice.page.locator('#messages .msg', { hasText: 'oops, wrong room' });
  await oops.waitFor();
  await messageText(alice.page, 'this one stays').waitFor();
  // bob may delete his own, not alice's
  const mine = bob.page.locator('#messages .msg', { hasText: 'oops, wrong room' });
  await mine.hover();
  const theirs = bob.page.locator('#messages .msg').filter({ has: bob.page.locator('.bubble', { hasText: 'who has the lab sheet?' }) });
  assert.equal(await theirs.count(), 1);
  assert.equal(await theirs.locator('[data-action="delete"]').count(), 0, 'no delete on another\'s message');
  await mine.locator('[data-action="delete"]').click();
  await oops.waitFor({ state: 'detached' });
  await mine.waitFor({ state: 'detached' });

  // alice runs the room: she deletes bob's other message
  const stays = alice.page.locator('#messages .msg', { hasText: 'this one stays' });
  await stays.hover();
  await stays.locator('[data-action="delete"]').click();
  await bob.page.locator('#messages .msg', { hasText: 'this one stays' }).waitFor({ state: 'detached' });

  const hist = await bob.page.evaluate(async (r) => window.labchat.client.history('LATEST', r, '*', 50), room);
  const texts = hist.map((m) => m.params[1]);
  assert.ok(!texts.includes('oops, wrong room') && !texts.includes('this one stays'), 'deleted messages are not served: ' + JSON.stringify(texts));
  assert.ok(texts.includes('I do, page 3'));
});
