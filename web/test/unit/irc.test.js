import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLine, formatLine, parseSource, casefold, parseCTCP, parseCall, linkify, mentions, splitMessage, applyISupport, stripFormatting, utf8Base64 } from '../../lib/irc.js';

test('parseLine reads tags, source, command and a trailing parameter', () => {
  const m = parseLine('@time=2026-12-01T10:00:00.000Z;msgid=abc;x=a\\sb\\:c :alice!u@h PRIVMSG #lab :hello  there');
  assert.deepEqual(m.tags, { time: '2026-12-01T10:00:00.000Z', msgid: 'abc', x: 'a b;c' });
  assert.equal(m.source, 'alice!u@h');
  assert.equal(m.command, 'PRIVMSG');
  assert.deepEqual(m.params, ['#lab', 'hello  there']);
});

test('parseLine tolerates repeated spaces, uppercases the command, rejects empty lines', () => {
  assert.deepEqual(parseLine('ping   x  y').params, ['x', 'y']);
  assert.equal(parseLine('ping x').command, 'PING');
  assert.equal(parseLine(''), null);
  assert.equal(parseLine(':src'), null);
  assert.deepEqual(parseLine(':s 001 me :').params, ['me', '']);
});

test('formatLine adds a trailing colon only when needed and refuses line breaks', () => {
  assert.equal(formatLine('PRIVMSG', ['#a', 'hi']), 'PRIVMSG #a hi');
  assert.equal(formatLine('PRIVMSG', ['#a', 'hi there']), 'PRIVMSG #a :hi there');
  assert.equal(formatLine('PRIVMSG', ['#a', ':)']), 'PRIVMSG #a ::)');
  assert.equal(formatLine('AWAY', ['']), 'AWAY :');
  assert.throws(() => formatLine('PRIVMSG', ['#a', 'x\r\nQUIT']));
  assert.throws(() => formatLine('PRIVMSG', ['a b', 'x']));
  assert.equal(formatLine('TAGMSG', ['#a'], { '+typing': 'active' }), '@+typing=active TAGMSG #a');
});

test('round trip: what formatLine writes, parseLine reads back', () => {
  for (const params of [['#r', 'plain'], ['bob', ':starts with colon'], ['x', '中文 消息'], ['a', '']]) {
    assert.deepEqual(parseLine(formatLine('PRIVMSG', params)).params, params);
  }
});

test('parseSource and casefold (CASEMAPPING=ascii)', () => {
  assert.deepEqual(parseSource('bob!b@127.0.0.1'), { nick: 'bob', user: 'b', host: '127.0.0.1' });
  assert.equal(parseSource('labchat.local').nick, 'labchat.local');
  assert.equal(casefold('Bob[]'), 'bob[]');
  assert.equal(casefold('ÄB'), 'Äb');
});

test('CTCP and CALL parsing follow client_calls.go', () => {
  assert.deepEqual(parseCTCP('\x01ACTION waves\x01'), { command: 'ACTION', args: 'waves' });
  assert.deepEqual(parseCTCP('\x01CALL 0a1b2c3d RING\x01'), { command: 'CALL', args: '0a1b2c3d RING' });
  assert.equal(parseCTCP('hello'), null);
  assert.deepEqual(parseCall('0a1b2c3d ring'), { id: '0a1b2c3d', verb: 'RING' });
  assert.equal(parseCall('bad-id RING'), null);
  assert.equal(parseCall('abc'), null);
});

test('linkify makes only http(s) links and leaves trailing punctuation out', () => {
  assert.deepEqual(linkify('see http://x.org/a. ok'), [{ text: 'see ' }, { text: 'http://x.org/a', href: 'http://x.org/a' }, { text: '. ok' }]);
  assert.deepEqual(linkify('javascript:alert(1)'), [{ text: 'javascript:alert(1)' }]);
  assert.deepEqual(linkify('www.example.com'), [{ text: 'www.example.com', href: 'http://www.example.com' }]);
  assert.deepEqual(linkify('(https://a.b/c_(d))'), [{ text: '(' }, { text: 'https://a.b/c_(d))', href: 'https://a.b/c_(d))' }]);
});

test('mentions matches the nick as a word only', () => {
  assert.ok(mentions('hi Bob!', 'bob'));
  assert.ok(mentions('bob: look', 'bob'));
  assert.ok(!mentions('bobby', 'bob'));
  assert.ok(!mentions('hi', ''));
});

test('splitMessage keeps each piece within the byte budget without cutting a character', () => {
  const long = '字'.repeat(300); // 900 bytes
  const parts = splitMessage(long, 400);
  assert.equal(parts.join(''), long);
  for (const p of parts) assert.ok(new TextEncoder().encode(p).length <= 400);
  const words = ('word '.repeat(200)).trim();
  const wp = splitMessage(words, 100);
  assert.ok(wp.every((p) => !p.startsWith(' ') && !p.endsWith(' ') && p.length <= 100));
  assert.equal(wp.join(' '), words);
  assert.deepEqual(splitMessage('short'), ['short']);
});

test('ISUPPORT, formatting and SASL base64', () => {
  const is = applyISupport({}, ['me', 'MONITOR=100', 'CASEMAPPING=ascii', 'WHOX', 'are supported']);
  assert.deepEqual(is, { MONITOR: '100', CASEMAPPING: 'ascii', WHOX: true });
  assert.equal(stripFormatting('\x02bold\x02 \x0304,01red\x03'), 'bold red');
  assert.equal(utf8Base64('\0alice\0pässword'), Buffer.from('\0alice\0pässword').toString('base64'));
});
