// What the server says, as the browser shows it: translated numerics and FAIL codes, kicks,
// announcements, the WHOIS card, one line per call (live and from the history), one direct
// chat across a nick change, the previous-login notice once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatState, SERVER } from '../../lib/state.js';
import { parseLine } from '../../lib/irc.js';
import { numericSentence, failSentence, kickSentence, numericTable } from '../../lib/numerics.js';

function setup(now = Date.parse('2026-12-01T12:00:00Z')) {
  const clock = { t: now };
  const s = new ChatState({ now: () => clock.t, callTimeout: 30000 });
  s.apply(parseLine(':labchat.local 001 alice :Welcome'));
  const feed = (line) => s.apply(parseLine(line));
  return { s, feed, clock };
}

test('numerics read as sentences in English and Chinese, with no epoch seconds', () => {
  assert.equal(numericSentence('404', ['#lab', 'Cannot send to channel (+m)'], 'en'), 'you cannot talk in #lab: the room is moderated: only operators and voiced members may talk');
  assert.match(numericSentence('404', ['#lab', 'Cannot send to channel (+m)'], 'zh'), /^你不能在 #lab 发言：聊天室处于管制发言状态/);
  const idle = numericSentence('317', ['alice', '185', '1764588000', 'seconds idle, signon time'], 'zh');
  assert.match(idle, /^alice 已空闲 3 分钟，自 .*2025.* 起在线$/);
  assert.doesNotMatch(idle, /1764588000/);
  for (const code of Object.keys(numericTable)) assert.match(code, /^\d{3}$/);
  assert.equal(numericSentence('999', [], 'en'), null);
  assert.equal(failSentence('QUEUE_FULL', 'bob', 'x', 'zh'), 'bob 不在线，等待的消息太多了；请等对方登录后再试');
  assert.equal(kickSentence({ by: 'teacher', who: 'mei', room: '#lab', reason: 'please stop', me: true }, 'en'), 'teacher removed you from #lab: please stop');
  assert.equal(kickSentence({ by: 'teacher', who: 'mei', room: '#lab', reason: '', me: false }, 'zh'), 'teacher 把 mei 移出了 #lab');
});

test('a kick is a line in the room with who, by whom and why', () => {
  const { s, feed } = setup();
  feed(':alice!a@h JOIN #lab');
  const fx = feed(':teacher!t@h KICK #lab alice :please stop');
  assert.deepEqual(fx[0].kick, { by: 'teacher', who: 'alice', room: '#lab', reason: 'please stop', me: true });
  assert.equal(s.find('#lab').messages.at(-1).kick.reason, 'please stop');
  assert.equal(s.find('#lab').joined, false);
});

test('an announcement (NOTICE $*) is a banner, not a direct chat', () => {
  const { s, feed } = setup();
  const fx = feed('@msgid=a1 :teacher!t@h NOTICE $* :The lab closes at 18:00');
  assert.equal(fx[0].type, 'announce');
  assert.equal(s.announcements[0].text, 'The lab closes at 18:00');
  assert.equal(s.find('teacher'), undefined, 'no direct chat with the sender');
  assert.equal(s.find('$*'), undefined);
  feed('@msgid=a1 :teacher!t@h NOTICE $* :The lab closes at 18:00');
  assert.equal(s.announcements.length, 1, 'the same announcement once');
  s.dismissAnnouncement('a1');
  assert.equal(s.announcements.length, 0);
});

test('WHOIS replies become one card', () => {
  const { s, feed } = setup();
  s.setActive(SERVER);
  feed(':srv 311 alice bob ~bob 10.0.0.7 * :Bob B');
  feed(':srv 312 alice bob labchat.local :labchat');
  feed(':srv 317 alice bob 9 1796411371 :seconds idle, signon time');
  feed(':srv 330 alice bob bob :is logged in as');
  feed(':srv 318 alice bob :End of /WHOIS list');
  const msgs = s.find(SERVER).messages;
  assert.equal(msgs.length, 1);
  assert.deepEqual(Object.keys(msgs[0].whois.parts).sort(), ['311', '312', '317', '330']);
});

test('server operators moderate every room', () => {
  const { s, feed } = setup();
  feed(':alice!a@h JOIN #lab');
  feed(':srv 353 alice = #lab :alice bob');
  assert.equal(s.amOp(s.find('#lab')), false);
  feed(':srv 381 alice :You are now an IRC operator');
  assert.equal(s.amOp(s.find('#lab')), true);
  feed(':alice MODE alice -o');
  assert.equal(s.amOp(s.find('#lab')), false);
});

test('one line per call: the history gives a call its outcome, merged with the live line', () => {
  const { s, feed } = setup();
  const hist = [
    '@msgid=h1;time=2026-12-01T11:00:00.000Z :alice!a@h PRIVMSG ken :\x01CALL c1 RING\x01',
    '@msgid=h2;time=2026-12-01T11:00:10.000Z :ken!k@h NOTICE alice :\x01CALL c1 DECLINE\x01',
    '@msgid=h3;time=2026-12-01T11:01:00.000Z :alice!a@h PRIVMSG ken :\x01CALL c2 RING\x01',
    '@msgid=h4;time=2026-12-01T11:01:30.000Z :alice!a@h PRIVMSG ken :\x01CALL c2 CANCEL\x01',
    '@msgid=h5;time=2026-12-01T11:02:00.000Z :alice!a@h PRIVMSG ken :\x01CALL c3 RING\x01',
    '@msgid=h6;time=2026-12-01T11:02:05.000Z :ken!k@h NOTICE alice :\x01CALL c3 ANSWER\x01',
    '@msgid=h7;time=2026-12-01T11:03:05.000Z :ken!k@h PRIVMSG alice :\x01CALL c3 HANGUP\x01',
  ].map(parseLine);
  s.applyHistory('ken', hist);
  assert.deepEqual(s.find('ken').messages.map((m) => m.call.state), ['declined', 'no-answer', 'hungup']);
  s.startCall('ken', 'c4');
  s.applyHistory('ken', [parseLine('@msgid=h8;time=2026-12-01T12:00:00.000Z :alice!a@h PRIVMSG ken :\x01CALL c4 RING\x01')]);
  assert.equal(s.find('ken').messages.length, 4, 'the echo of our own ring is the same line');
  s.callTimedOut('c4');
  assert.deepEqual(s.find('ken').messages.map((m) => m.call.state).at(-1), 'no-answer');
  assert.equal(s.find('ken').messages.length, 4);
});

test('a nick change keeps one direct chat; the previous-login notice is shown once', () => {
  const { s, feed } = setup();
  feed('@msgid=d1 :tom!t@h PRIVMSG alice :hi');
  feed('@msgid=d2 :tom!t@h NICK tommy');
  feed('@msgid=d3 :tommy!t@h PRIVMSG alice :still me');
  assert.equal(s.find('tom'), undefined);
  assert.deepEqual(s.find('tommy').messages.filter((m) => m.kind === 'msg').map((m) => m.text), ['hi', 'still me']);
  s.setActive('tommy');
  feed(':labchat.local NOTICE alice :Previous login: 2026-12-01T10:00:00Z from 10.0.0.7');
  feed(':labchat.local 001 alice :Welcome');
  feed(':labchat.local NOTICE alice :Previous login: 2026-12-01T10:00:00Z from 10.0.0.7');
  assert.equal(s.find('tommy').messages.filter((m) => m.login).length, 1);
});
