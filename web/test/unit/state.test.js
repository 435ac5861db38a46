import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatState, SERVER } from '../../lib/state.js';
import { parseLine } from '../../lib/irc.js';

function setup(now = Date.parse('2026-12-01T12:00:00Z')) {
  const clock = { t: now };
  const s = new ChatState({ now: () => clock.t, callTimeout: 30000 });
  s.apply(parseLine(':labchat.local 001 alice :Welcome'));
  const feed = (line) => s.apply(parseLine(line));
  return { s, feed, clock };
}

test('room messages: join, names, unread counts, mention, own echo not counted', () => {
  const { s, feed } = setup();
  assert.deepEqual(feed(':alice!a@h JOIN #lab'), [{ type: 'joined', conv: '#lab' }]);
  feed(':labchat.local 353 alice = #lab :@alice bob carol');
  assert.deepEqual([...s.find('#lab').members.values()].map((m) => m.prefix + m.nick), ['@alice', 'bob', 'carol']);
  s.setActive(SERVER);
  const fx = feed('@msgid=m1;time=2026-12-01T11:59:00.000Z :bob!b@h PRIVMSG #lab :hello all');
  assert.equal(fx[0].kind, 'message');
  const fx2 = feed('@msgid=m2 :carol!c@h PRIVMSG #lab :alice: look');
  assert.equal(fx2[0].kind, 'mention');
  feed('@msgid=m3 :alice!a@h PRIVMSG #lab :mine');
  const lab = s.find('#lab');
  assert.equal(lab.unread, 2);
  assert.ok(lab.mention);
  assert.equal(lab.divider, 'm1');
  assert.equal(lab.messages.at(-1).self, true);
  assert.equal(lab.last.text, 'mine');
  assert.equal(s.totalUnread(), 2);
  s.setActive('#lab');
  assert.equal(lab.unread, 0);
  assert.equal(lab.divider, 'm1', 'the divider stays while the conversation is open');
  s.setActive(SERVER);
  assert.equal(lab.divider, null);
  feed('@msgid=m1 :bob!b@h PRIVMSG #lab :hello all');
  assert.equal(lab.messages.filter((m) => m.msgid === 'm1').length, 1, 'a msgid is shown once');
});

test('a hidden tab counts unread in the open conversation too', () => {
  const { s, feed } = setup();
  feed(':alice!a@h JOIN #lab');
  s.setActive('#lab');
  s.setVisible(false);
  feed('@msgid=x :bob!b@h PRIVMSG #lab :hi');
  assert.equal(s.find('#lab').unread, 1);
  s.setVisible(true);
  assert.equal(s.find('#lab').unread, 0);
});

test('direct messages: the conversation is the peer, own echoes go to the target, offline ones are marked', () => {
  const { s, feed, clock } = setup();
  const fx = feed('@time=2026-12-01T08:00:00.000Z;msgid=o1 :bob!b@h PRIVMSG alice :while you were out');
  assert.equal(fx[0].kind, 'dm');
  assert.equal(fx[0].offline, true);
  assert.equal(s.find('bob').messages[0].offline, true);
  feed(':labchat.local PONG labchat.local labchat-welcome-end');
  clock.t += 1000;
  feed(`@time=${new Date(clock.t).toISOString()};msgid=o2 :bob!b@h PRIVMSG alice :now`);
  assert.equal(s.find('bob').messages[1].offline, false);
  feed('@msgid=o3 :alice!a@h PRIVMSG Bob :reply');
  assert.equal(s.find('bob').messages.length, 3);
  assert.equal(s.status('bob'), 'online');
  feed('@msgid=o4 :bob!b@h PRIVMSG alice :\x01ACTION waves\x01');
  assert.equal(s.find('bob').messages.at(-1).kind, 'action');
  assert.equal(s.find('bob').messages.at(-1).text, 'waves');
  feed(':labchat.local NOTICE alice :dave is offline; message stored for delivery at next login');
  assert.equal(s.find('dave').messages[0].i18n, 'storedOffline');
  assert.equal(s.status('dave'), 'offline');
});

test('presence from MONITOR, away-notify and WHO', () => {
  const { s, feed } = setup();
  s.addContact('bob');
  assert.deepEqual(feed(':srv 731 alice :bob'), []);
  assert.equal(s.status('bob'), 'offline');
  const on = feed(':srv 730 alice :bob!b@h');
  assert.deepEqual(on, [{ type: 'presence', nick: 'bob', status: 'online', before: 'offline', contact: true }]);
  feed(':bob!b@h AWAY :lunch');
  assert.equal(s.status('bob'), 'away');
  assert.equal(s.user('bob').away, 'lunch');
  feed(':bob!b@h AWAY');
  assert.equal(s.status('bob'), 'online');
  feed(':srv 352 alice #lab c h srv carol G :0 carol');
  assert.equal(s.status('carol'), 'away');
  feed(':bob!b@h QUIT :bye');
  assert.equal(s.status('bob'), 'offline');
  assert.deepEqual(s.watchList(), ['bob']);
  feed(':srv 306 alice :You have been marked as being away');
  assert.equal(s.status('alice'), 'away');
  feed(':srv 305 alice :You are no longer marked as being away');
  assert.equal(s.status('alice'), 'online');
});

test('members follow part, quit, kick and nick changes', () => {
  const { s, feed } = setup();
  feed(':alice!a@h JOIN #lab');
  feed(':srv 353 alice = #lab :alice bob carol dave');
  feed(':bob!b@h PART #lab :later');
  feed(':carol!c@h QUIT :gone');
  feed(':alice!a@h KICK #lab dave :spam');
  feed(':alice!a@h NICK :alicia');
  const lab = s.find('#lab');
  assert.deepEqual([...lab.members.values()].map((m) => m.nick), ['alicia']);
  assert.equal(s.me.nick, 'alicia');
  assert.deepEqual(lab.messages.map((m) => m.i18n || (m.kick && 'kick:' + m.kick.reason)), ['left', 'quit', 'kick:spam', 'nick']);
  feed(':alicia!a@h PART #lab');
  assert.equal(lab.joined, false);
  assert.ok(!s.list().includes(lab));
});

test('history pages insert in time order and are not counted as unread', () => {
  const { s, feed } = setup();
  feed(':alice!a@h JOIN #lab');
  feed('@msgid=n1;time=2026-12-01T11:00:00.000Z :bob!b@h PRIVMSG #lab :new');
  s.setActive('#lab');
  const page = [
    '@msgid=h1;time=2026-12-01T09:00:00.000Z :bob!b@h PRIVMSG #lab :old one',
    '@msgid=h2;time=2026-12-01T09:01:00.000Z :carol!c@h PRIVMSG #lab :old two',
    '@msgid=n1;time=2026-12-01T11:00:00.000Z :bob!b@h PRIVMSG #lab :new',
  ].map(parseLine);
  assert.equal(s.applyHistory('#lab', page), 2);
  assert.deepEqual(s.find('#lab').messages.map((m) => m.msgid), ['h1', 'h2', 'n1']);
  assert.equal(s.find('#lab').unread, 0);
  assert.equal(s.find('#lab').messages[0].offline, false);
});

test('grouping: one sender within five minutes, broken by another sender or the divider', () => {
  const { s, feed } = setup();
  feed(':alice!a@h JOIN #lab');
  s.setActive('#lab');
  feed('@msgid=a;time=2026-12-01T11:00:00.000Z :bob!b@h PRIVMSG #lab :1');
  feed('@msgid=b;time=2026-12-01T11:01:00.000Z :bob!b@h PRIVMSG #lab :2');
  feed('@msgid=c;time=2026-12-01T11:20:00.000Z :bob!b@h PRIVMSG #lab :3');
  feed('@msgid=d;time=2026-12-01T11:20:30.000Z :carol!c@h PRIVMSG #lab :4');
  const lab = s.find('#lab');
  assert.deepEqual([0, 1, 2, 3].map((i) => s.groupedWithPrevious(lab, i)), [false, true, false, false]);
});

test('calls: an incoming ring is answered; the wire verbs match client_calls.go', () => {
  const { s, feed, clock } = setup();
  const now = new Date(clock.t).toISOString();
  const fx = feed(`@time=${now} :bob!b@h PRIVMSG alice :\x01CALL 0a1b2c3d RING\x01`);
  assert.equal(fx[0].type, 'call');
  assert.equal(s.ringingCalls().length, 1);
  const out = s.answerCall('0a1b2c3d');
  assert.deepEqual([out.command, out.target, out.verb], ['NOTICE', 'bob', 'ANSWER']);
  assert.equal(s.currentCall().peer, 'bob');
  const hang = s.hangUp('0a1b2c3d');
  assert.deepEqual([hang.command, hang.verb], ['PRIVMSG', 'HANGUP']);
  assert.deepEqual(s.find('bob').messages.map((m) => m.call.state), ['hungup'], 'one line per call, with its latest state');
});

test('calls: an unanswered ring becomes a missed call; a stale stored ring is missed at once', () => {
  const { s, feed, clock } = setup();
  feed(`@time=${new Date(clock.t).toISOString()} :bob!b@h PRIVMSG alice :\x01CALL aa RING\x01`);
  feed(':bob!b@h PRIVMSG alice :\x01CALL aa CANCEL\x01');
  assert.equal(s.find('bob').messages.at(-1).call.state, 'missed');
  assert.equal(s.find('bob').unread, 1);
  feed(`@time=${new Date(clock.t - 60000).toISOString()} :carol!c@h PRIVMSG alice :\x01CALL bb RING\x01`);
  assert.equal(s.ringingCalls().length, 0);
  assert.equal(s.find('carol').messages[0].call.state, 'missed');
  feed(`@time=${new Date(clock.t).toISOString()} :dave!d@h PRIVMSG alice :\x01CALL cc RING\x01`);
  const timedOut = s.callTimedOut('cc');
  assert.ok(timedOut.effects.some((e) => e.type === 'notify' && e.kind === 'missed'), 'a ring that times out notifies a missed call');
  assert.equal(s.find('dave').messages.at(-1).call.state, 'missed');
});

test('calls: outgoing is answered, declined, times out, or fails when the peer is offline', () => {
  const { s, feed } = setup();
  assert.ok(s.startCall('bob', 'c1'));
  assert.equal(s.startCall('carol', 'c2'), null, 'one outgoing call at a time');
  feed(':bob!b@h NOTICE alice :\x01CALL c1 ANSWER\x01');
  assert.equal(s.currentCall().state, 'active');
  feed(':bob!b@h PRIVMSG alice :\x01CALL c1 HANGUP\x01');
  assert.equal(s.currentCall(), null);
  s.startCall('bob', 'c3');
  feed(':bob!b@h NOTICE alice :\x01CALL c3 DECLINE\x01');
  assert.equal(s.find('bob').messages.at(-1).call.state, 'declined');
  s.startCall('bob', 'c4');
  const t = s.callTimedOut('c4');
  assert.deepEqual([t.command, t.verb], ['PRIVMSG', 'CANCEL']);
  s.startCall('zed', 'c5');
  feed(':srv 401 alice zed :No such nick/channel');
  assert.equal(s.find('zed').messages.find((m) => m.call && m.call.id === 'c5' && m.call.state === 'failed') !== undefined, true);
});

test('a call answered on another device of the same account stops ringing here', () => {
  const { s, feed, clock } = setup();
  feed(`@time=${new Date(clock.t).toISOString()} :bob!b@h PRIVMSG alice :\x01CALL dd RING\x01`);
  feed(':alice!a@h NOTICE bob :\x01CALL dd ANSWER\x01');
  assert.equal(s.ringingCalls().length, 0);
  assert.equal(s.find('bob').messages.at(-1).call.state, 'elsewhere');
});

test('numerics without state become system lines in the open conversation; FAIL too', () => {
  const { s, feed } = setup();
  feed(':alice!a@h JOIN #lab');
  s.setActive('#lab');
  feed(':srv 482 alice #lab :You\'re not a room operator');
  s.conv('bob');
  feed(':srv FAIL PRIVMSG QUEUE_FULL bob :bob is offline and already has 100 messages waiting');
  const lab = s.find('#lab');
  assert.match(lab.messages.at(-1).text, /not a room operator/);
  assert.match(s.find('bob').messages.at(-1).text, /already has 100/);
  feed(':srv 375 alice :- MOTD');
  assert.equal(lab.messages.length, 1);
});

test('an older page goes in front even when its times equal the shown ones', () => {
  const { s, feed } = setup();
  feed(':alice!a@h JOIN #lab');
  const t = '2026-12-01T11:00:00.000Z';
  s.applyHistory('#lab', [3, 4].map((i) => parseLine(`@msgid=m${i};time=${t} :bob!b@h PRIVMSG #lab :${i}`)));
  s.applyHistory('#lab', [1, 2].map((i) => parseLine(`@msgid=m${i};time=${t} :bob!b@h PRIVMSG #lab :${i}`)), { older: true });
  assert.deepEqual(s.find('#lab').messages.map((m) => m.text), ['1', '2', '3', '4']);
});

test('a NAMES reply replaces the member list; a speaker in a quiet room is a member', () => {
  const { s, feed } = setup();
  feed(':alice!a@h JOIN #lobby');
  feed(':srv 353 alice = #lobby :alice bob');
  feed(':srv 366 alice #lobby :End of /NAMES list');
  feed(':srv 353 alice = #lobby :alice carol');
  feed(':srv 366 alice #lobby :End of /NAMES list');
  assert.deepEqual([...s.find('#lobby').members.keys()], ['alice', 'carol']);
  feed('@msgid=q1 :dave!d@h PRIVMSG #lobby :hi');
  assert.ok(s.find('#lobby').members.has('dave'));
});

test('a ring stored for an offline account ends the call and asks for the CANCEL', () => {
  const { s, feed } = setup();
  s.startCall('dave', 'c9');
  const fx = feed(':labchat.local NOTICE alice :dave is offline; message stored for delivery at next login');
  assert.ok(fx.some((e) => e.type === 'callStored' && e.call.id === 'c9'));
  assert.equal(s.currentCall(), null);
  assert.equal(s.find('dave').messages.at(-1).call.state, 'stored');
});

test('MODE changes prefixes and room modes; INVITE offers the room', () => {
  const { s, feed } = setup();
  feed(':alice!a@h JOIN #lab');
  feed(':srv 353 alice = #lab :@alice bob carol');
  feed(':srv 366 alice #lab :End');
  feed(':srv 324 alice #lab +nt');
  assert.ok(s.amOp(s.find('#lab')));
  feed(':alice!a@h MODE #lab +mv-t bob');
  feed(':alice!a@h MODE #lab +ok carol secret');
  const lab = s.find('#lab');
  assert.equal(lab.members.get('bob').prefix, '+');
  assert.equal(lab.members.get('carol').prefix, '@');
  assert.deepEqual([...lab.modes].sort(), ['k', 'm', 'n']);
  feed(':alice!a@h MODE #lab -o carol');
  assert.equal(lab.members.get('carol').prefix, '');
  s.setActive('#lab');
  const fx = feed(':dave!d@h INVITE alice #secret');
  assert.equal(fx[0].kind, 'invite');
  assert.equal(lab.messages.at(-1).invite, '#secret');
});

test('the previous-login notice goes to the first conversation shown', () => {
  const { s, feed } = setup();
  feed(':labchat.local NOTICE alice :Previous login: 2026-11-30T09:00:00Z from 10.0.3.7');
  feed(':alice!a@h JOIN #lobby');
  s.setActive('#lobby');
  const m = s.find('#lobby').messages.at(-1);
  assert.equal(m.i18n, 'previousLoginFrom');
  assert.deepEqual(m.args, ['2026-11-30T09:00:00Z', '10.0.3.7']);
  s.setActive(SERVER);
  s.setActive('#lobby');
  assert.equal(s.find('#lobby').messages.filter((x) => x.login).length, 1);
});

test('one refusal for a typing notice and the message after it; voice lifts +m', () => {
  const { s, feed, clock } = setup();
  feed(':alice!a@h JOIN #quiet');
  feed(':labchat.local 353 alice = #quiet :alice @teacher');
  feed(':teacher!t@h MODE #quiet +m');
  const quiet = s.find('#quiet');
  assert.equal(s.maySpeak(quiet), false, 'moderated and not voiced');
  s.setActive('#quiet');
  const refusal = ':labchat.local 404 alice #quiet :Cannot send to channel (the room is moderated (+m): only operators and voiced members speak)';
  feed(refusal);
  feed(refusal);
  assert.equal(quiet.messages.filter((m) => m.numeric === '404').length, 1, 'the same refusal twice in a row is shown once');
  clock.t += 60000;
  feed(refusal);
  assert.equal(quiet.messages.filter((m) => m.numeric === '404').length, 2, 'a refusal a minute later is news');
  feed(':teacher!t@h MODE #quiet +v alice');
  assert.equal(s.maySpeak(quiet), true, 'voiced');
  assert.equal(s.maySpeak(s.conv('bob')), true, 'a DM has no +m');
});
