// Issue 19's client logic without a browser: multiline batches both ways, replies,
// reactions, typing and deletes in ChatState.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatState } from '../../lib/state.js';
import { multilineBatches, multilineLimits } from '../../lib/client.js';
import { parseLine } from '../../lib/irc.js';
import { runInput } from '../../lib/commands.js';

function setup() {
  const clock = { t: Date.parse('2026-12-01T12:00:00Z') };
  const s = new ChatState({ now: () => clock.t });
  s.apply(parseLine(':labchat.local 001 alice :Welcome'));
  s.apply(parseLine(':alice!a@h JOIN #lab'));
  return { s, clock, feed: (l) => s.apply(parseLine(l)) };
}

test('the cap value gives the limits; long lines become concat pieces; batches respect max-lines', () => {
  assert.deepEqual(multilineLimits('max-bytes=8192,max-lines=100'), { maxBytes: 8192, maxLines: 100 });
  const text = ['a', '', 'é'.repeat(300), ...Array(4).fill('x')].join('\n');
  const batches = multilineBatches(text, { maxBytes: 8192, maxLines: 4 }, 400);
  const lines = batches.flat();
  assert.equal(batches.length, 2);
  assert.ok(batches.every((b) => b.length <= 4 && !b[0].concat), 'a batch never starts with a continuation');
  assert.deepEqual(lines.slice(0, 2), [{ text: 'a', concat: false }, { text: '', concat: false }]);
  assert.equal(lines[2].text + lines[3].text, 'é'.repeat(300), 'the long line is cut at characters (200 of 2 bytes per piece)');
  assert.equal(new TextEncoder().encode(lines[2].text).length, 400);
  assert.equal(lines[3].concat, true);
});

test('plain text of several lines is one multiline send when the UI offers it', () => {
  const sent = [];
  const ctx = { send: (...a) => sent.push(['line', ...a]), sendMultiline: (t, x) => sent.push(['multi', t, x]), activeName: () => '#lab', activeKind: () => 'room', t: (k) => k };
  runInput('int x;\n\nreturn x;\n', ctx);
  assert.deepEqual(sent, [['multi', '#lab', 'int x;\n\nreturn x;']]);
});

test('a multiline message, a reply, reactions, typing and a delete', () => {
  const { s, clock, feed } = setup();
  // A PRIVMSG line cannot hold a newline: Client builds this message from a multiline batch.
  s.onPrivmsg({ tags: { msgid: 'm2', time: '2026-12-01T11:59:01.000Z' }, source: 'bob!b@h', command: 'PRIVMSG', params: ['#lab', 'look:\n```c\nint main;\n```'] });
  const c = s.find('#lab');
  const m2 = c.messages.find((m) => m.msgid === 'm2');
  assert.equal(m2.multiline, true);
  feed('@msgid=m3;+draft/reply=m2 :carol!c@h PRIVMSG #lab :nice');
  assert.equal(c.messages.find((m) => m.msgid === 'm3').replyTo, 'm2');
  feed('@msgid=r1;+draft/reply=m2;+draft/react=👍 :carol!c@h TAGMSG #lab');
  feed('@msgid=r2;+draft/reply=m2;+draft/react=👍 :dave!d@h TAGMSG #lab');
  feed('@msgid=r2;+draft/reply=m2;+draft/react=👍 :dave!d@h TAGMSG #lab'); // the same one again
  assert.equal(m2.reactions.get('👍').size, 2);
  feed('@+typing=active :bob!b@h TAGMSG #lab');
  assert.deepEqual(s.typingNow(c), ['bob']);
  clock.t += 7000;
  assert.deepEqual(s.typingNow(c), [], 'active typing expires after 6 s');
  feed('@+typing=active :bob!b@h TAGMSG #lab');
  feed('@msgid=m4 :bob!b@h PRIVMSG #lab :done');
  assert.deepEqual(s.typingNow(c), [], 'a message ends typing');
  assert.deepEqual(feed(':carol!c@h REDACT #lab m2'), [{ type: 'redacted', conv: '#lab', msgid: 'm2' }]);
  assert.equal(c.messages.some((m) => m.msgid === 'm2'), false);
  assert.ok(c.messages.find((m) => m.msgid === 'm3').rev > 0, 'the reply is drawn again (its quote now says deleted)');
  assert.equal(s.canDelete(c, c.messages.find((m) => m.msgid === 'm4')), false, 'not another\'s message');
  feed(':labchat.local 353 alice = #lab :@alice bob');
  assert.equal(s.canDelete(c, c.messages.find((m) => m.msgid === 'm4')), true, 'a room operator may');
});
