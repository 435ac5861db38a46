import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInput, CommandError } from '../../lib/commands.js';
import { keys } from '../../lib/i18n.js';

function ctx(active = '#lab', kind = 'room') {
  const c = { sent: [], raw: [], opened: [], ui: {}, calls: [] };
  c.send = (...a) => c.sent.push(a);
  c.sendRaw = (l) => c.raw.push(l);
  c.activeName = () => active;
  c.activeKind = () => kind;
  c.t = (k) => k;
  c.ui = {
    open: (n) => c.opened.push(n), setAway: (t) => c.sent.push(['away', t]), call: (n) => c.calls.push(n),
    help: (list) => { c.help = list; },
  };
  return c;
}

test('plain text goes to the open conversation, one PRIVMSG per line', () => {
  const c = ctx();
  runInput('hello\nworld', c);
  assert.deepEqual(c.sent, [['PRIVMSG', '#lab', 'hello'], ['PRIVMSG', '#lab', 'world']]);
  runInput('//not a command', c);
  assert.deepEqual(c.sent.at(-1), ['PRIVMSG', '#lab', '/not a command']);
});

test('the terminal client\'s commands', () => {
  const c = ctx('bob', 'dm');
  runInput('/join lab2', c);
  runInput('/msg carol hi there', c);
  runInput('/me waves', c);
  runInput('/away at lunch', c);
  runInput('/call', c);
  runInput('/help', c);
  assert.deepEqual(c.sent, [['JOIN', '#lab2'], ['PRIVMSG', 'carol', 'hi there'], ['PRIVMSG', 'bob', '\x01ACTION waves\x01'], ['away', 'at lunch']]);
  assert.deepEqual(c.opened, ['#lab2', 'carol']);
  assert.deepEqual(c.calls, ['bob']);
  assert.ok(c.help.includes('/join #room [key]'));
});

test('unknown commands pass through; usage errors are CommandErrors', () => {
  const c = ctx();
  runInput('/stats u', c);
  runInput('/mode #lab +i', c);
  assert.deepEqual(c.raw, ['STATS u', 'MODE #lab +i']);
  assert.throws(() => runInput('/msg bob', c), CommandError);
  assert.throws(() => runInput('/call #lab', ctx('#lab', 'room')), CommandError);
  assert.throws(() => runInput('hi', ctx(null, 'server')), CommandError);
});

test('both languages have every string', () => {
  assert.deepEqual(keys('zh').sort(), keys('en').sort());
});

test('room operator commands', () => {
  const c = ctx('#lab', 'room');
  runInput('/kick bob too loud', c);
  runInput('/ban bob', c);
  runInput('/ban *!*@10.0.3.*', c);
  runInput('/invite carol', c);
  runInput('/op carol', c);
  runInput('/devoice dave', c);
  assert.deepEqual(c.sent, [['KICK', '#lab', 'bob', 'too loud'], ['MODE', '#lab', '+b', 'bob!*@*'], ['MODE', '#lab', '+b', '*!*@10.0.3.*'],
    ['INVITE', 'carol', '#lab'], ['MODE', '#lab', '+o', 'carol'], ['MODE', '#lab', '-v', 'dave']]);
  assert.throws(() => runInput('/kick bob', ctx('bob', 'dm')), CommandError);
});
