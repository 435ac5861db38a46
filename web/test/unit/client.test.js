import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, backoffDelay, classifySASL, classifyRegisterFail } from '../../lib/client.js';
import { FakeServer, FakeTimers, tick } from './fakes.js';

const capLS = ':srv CAP * LS :sasl=PLAIN draft/account-registration=before-connect server-time message-tags echo-message batch draft/chathistory away-notify extended-monitor';

// serveLogin scripts the server side of a SASL login that succeeds or fails with text.
function serveLogin(server, { fail = '', welcomeNick = 'alice' } = {}) {
  server.onSend = (ws, line) => {
    if (line === 'CAP LS 302') ws.push(capLS);
    else if (line.startsWith('CAP REQ')) ws.push(':srv CAP * ACK :' + line.slice(9).replace(/^:/, ''));
    else if (line === 'AUTHENTICATE PLAIN') ws.push('AUTHENTICATE +');
    else if (line.startsWith('AUTHENTICATE ') && line !== 'AUTHENTICATE +') {
      if (fail) ws.push(':srv 904 * :SASL authentication failed: ' + fail);
      else ws.push(':srv 900 * x!x@h alice :You are now logged in as alice', ':srv 903 * :SASL authentication successful');
    } else if (line === 'CAP END') ws.push(':srv 001 ' + welcomeNick + ' :Welcome');
  };
}

test('login negotiates caps, authenticates with SASL PLAIN and resolves at the welcome', async () => {
  const server = new FakeServer();
  serveLogin(server);
  const c = new Client({ url: 'ws://x/', WebSocket: server.WebSocket(), timers: new FakeTimers() });
  const states = [];
  c.on('status', (s) => states.push(s.state));
  const got = await c.login({ account: 'alice', password: 'pw' });
  assert.deepEqual(got, { nick: 'alice', account: 'alice' });
  const sent = server.last.sent;
  assert.deepEqual(sent.slice(0, 3), ['CAP LS 302', 'NICK alice', 'USER alice 0 * alice']);
  assert.match(sent[3], /^CAP REQ :sasl draft\/account-registration server-time message-tags echo-message batch draft\/chathistory away-notify extended-monitor$/);
  assert.equal(sent[5], 'AUTHENTICATE ' + Buffer.from('\0alice\0pw').toString('base64'));
  assert.equal(sent[6], 'CAP END');
  assert.deepEqual(server.last.protocols, ['text.ircv3.net']);
  assert.deepEqual(states, ['connecting', 'registered']);
  assert.ok(c.caps.has('echo-message'));
});

test('login errors are specific', async () => {
  for (const [fail, code] of [
    ['wrong password for account alice', 'wrong-password'],
    ['there is no account named alice (create it with REGISTER, or labchat connect --register)', 'no-account'],
    ['too many failed logins from your address: try again in 42s', 'throttled'],
  ]) {
    const server = new FakeServer();
    serveLogin(server, { fail });
    const c = new Client({ url: 'ws://x/', WebSocket: server.WebSocket(), timers: new FakeTimers() });
    await assert.rejects(c.login({ account: 'alice', password: 'pw' }), (err) => err.code === code);
    assert.ok(server.last.closed, 'a refused login closes its connection');
  }
  assert.equal(classifySASL('too many failed logins from your address: try again in 42s').wait, 42);
  assert.equal(classifySASL('too many failed logins for account alice from your address: try again in 7s').wait, 7);
  assert.equal(classifySASL('account alice is locked by the administrator').code, 'locked');
});

test('server down is told apart from a refusal', async () => {
  const server = new FakeServer();
  server.refuse = true;
  const c = new Client({ url: 'ws://x/', WebSocket: server.WebSocket(), timers: new FakeTimers() });
  await assert.rejects(c.login({ account: 'a', password: 'b' }), (err) => err.code === 'server-down');
});

test('register sends REGISTER before CAP END and maps FAIL codes', async () => {
  const server = new FakeServer();
  server.onSend = (ws, line) => {
    if (line === 'CAP LS 302') ws.push(capLS);
    else if (line.startsWith('CAP REQ')) ws.push(':srv CAP * ACK :sasl draft/account-registration batch');
    else if (line.startsWith('REGISTER')) ws.push(':srv FAIL REGISTER ACCOUNT_EXISTS bob :Account bob already exists; log in, or choose another nick');
  };
  const c = new Client({ url: 'ws://x/', WebSocket: server.WebSocket(), timers: new FakeTimers() });
  await assert.rejects(c.login({ account: 'bob', password: 'secret', register: true }), (err) => err.code === 'name-taken');
  assert.ok(server.last.sent.includes('REGISTER bob * secret'));
  assert.ok(!server.last.sent.includes('CAP END'));
  const short = classifyRegisterFail('UNACCEPTABLE_PASSWORD', 'Passwords must be 4 to 300 bytes without control characters');
  assert.equal(short.code, 'password-short');
  assert.equal(short.min, 4);
  assert.equal(classifyRegisterFail('BAD_ACCOUNT_NAME', 'x').code, 'bad-name');
  assert.equal(classifyRegisterFail('TEMPORARILY_UNAVAILABLE', 'Too many registrations from your address; try again in 30s').code, 'throttled');
});

test('a successful REGISTER ends CAP and resolves', async () => {
  const server = new FakeServer();
  server.onSend = (ws, line) => {
    if (line === 'CAP LS 302') ws.push(capLS);
    else if (line.startsWith('CAP REQ')) ws.push(':srv CAP * ACK :sasl draft/account-registration');
    else if (line.startsWith('REGISTER')) ws.push(':srv REGISTER SUCCESS carol :Account created', ':srv 900 carol carol!carol@h carol :You are now logged in as carol');
    else if (line === 'CAP END') ws.push(':srv 001 carol :Welcome');
  };
  const c = new Client({ url: 'ws://x/', WebSocket: server.WebSocket(), timers: new FakeTimers() });
  assert.deepEqual(await c.login({ account: 'carol', password: 'secret', register: true }), { nick: 'carol', account: 'carol' });
});

test('a dropped connection reconnects with backoff and logs in again', async () => {
  const server = new FakeServer();
  serveLogin(server);
  const timers = new FakeTimers();
  const c = new Client({ url: 'ws://x/', WebSocket: server.WebSocket(), timers, random: () => 0 });
  const regs = [];
  c.on('registered', (r) => regs.push(r.reconnect));
  await c.login({ account: 'alice', password: 'pw' });
  server.last.drop();
  assert.equal(c.state, 'reconnecting');
  assert.ok(timers.delays().includes(1000));
  server.refuse = true;
  timers.fire(1000);
  await tick(); await tick();
  assert.equal(c.state, 'reconnecting');
  assert.ok(timers.delays().includes(2000), 'the second wait doubles: ' + timers.delays());
  server.refuse = false;
  timers.fire(2000);
  for (let i = 0; i < 5; i++) await tick();
  assert.equal(c.state, 'registered');
  assert.deepEqual(regs, [false, true]);
  assert.equal(server.sockets.length, 3);
});

test('being logged in elsewhere stops this tab instead of fighting over the session', async () => {
  const server = new FakeServer();
  serveLogin(server);
  const timers = new FakeTimers();
  const c = new Client({ url: 'ws://x/', WebSocket: server.WebSocket(), timers });
  let taken = null;
  c.on('takenover', (e) => { taken = e.reason; });
  await c.login({ account: 'alice', password: 'pw' });
  server.last.push('ERROR :Closing link: Logged in from 10.0.0.2');
  server.last.drop();
  assert.equal(c.state, 'stopped');
  assert.match(taken, /Logged in from/);
  assert.equal(server.sockets.length, 1);
});

test('history resolves with its batch; batched lines are not emitted one by one', async () => {
  const server = new FakeServer();
  serveLogin(server);
  const c = new Client({ url: 'ws://x/', WebSocket: server.WebSocket(), timers: new FakeTimers() });
  await c.login({ account: 'alice', password: 'pw' });
  const emitted = [];
  c.on('message', ({ msg }) => emitted.push(msg.command));
  const p = c.history('BEFORE', '#Lab', 'msgid=abc', 20);
  assert.equal(server.last.sent.at(-1), 'CHATHISTORY BEFORE #Lab msgid=abc 20');
  server.last.push(':srv BATCH +b1 chathistory #lab', '@batch=b1;msgid=1 :bob!b@h PRIVMSG #lab :one', '@batch=b1;msgid=2 :bob!b@h PRIVMSG #lab :two', ':srv BATCH -b1');
  const msgs = await p;
  assert.deepEqual(msgs.map((m) => m.params[1]), ['one', 'two']);
  assert.deepEqual(emitted, []);
  server.last.push('PING :x');
  assert.equal(server.last.sent.at(-1), 'PONG x');
});

test('list collects 322 until 323', async () => {
  const server = new FakeServer();
  serveLogin(server);
  const c = new Client({ url: 'ws://x/', WebSocket: server.WebSocket(), timers: new FakeTimers() });
  await c.login({ account: 'alice', password: 'pw' });
  const p = c.list();
  server.last.push(':srv 321 alice Channel :Users Name', ':srv 322 alice #lab 3 :Lab three', ':srv 323 alice :End of /LIST');
  assert.deepEqual(await p, [{ name: '#lab', users: 3, topic: 'Lab three' }]);
});

test('backoff doubles to 30 s with jitter of at most a third', () => {
  assert.equal(backoffDelay(0, () => 0), 1000);
  assert.equal(backoffDelay(3, () => 0), 8000);
  assert.equal(backoffDelay(10, () => 0), 30000);
  assert.equal(backoffDelay(10, () => 1), 20000);
});
