// Client owns one IRC-over-WebSocket connection: capability negotiation, SASL PLAIN login
// or draft/account-registration REGISTER, PING/PONG, batches (chathistory pages), the
// requests that wait for a reply (history, LIST), and reconnection with backoff. It knows
// nothing of the DOM; the UI listens to its events and keeps state in state.js.
//
// Events (on(type, fn)):
//   message  {msg}                  every line outside a batch, from connection start
//   batch    {type, params, messages} a finished BATCH (chathistory pages are also
//                                    delivered to the promise that asked for them)
//   status   {state, delay, reason} idle | connecting | registered | reconnecting | stopped
//   registered {nick, account, reconnect}
//   takenover {reason}              the account logged in elsewhere and this session ended
//   loginlost {error}               a reconnect's login was refused (password changed...)

import {
  parseLine, formatLine, casefold, utf8Base64,
  RPL_WELCOME, RPL_ISUPPORT, RPL_LOGGEDIN, RPL_SASLSUCCESS, ERR_SASLFAIL, ERR_SASLTOOLONG,
  ERR_SASLABORTED, ERR_NICKNAMEINUSE, ERR_ERRONEUSNICKNAME, ERR_PASSWDMISMATCH, RPL_LIST, RPL_LISTEND, applyISupport,
} from './irc.js';

// The capabilities the client asks for when the server offers them.
export const wantedCaps = [
  'sasl', 'draft/account-registration', 'server-time', 'message-tags', 'echo-message', 'batch',
  'draft/chathistory', 'away-notify', 'extended-monitor', 'account-notify', 'multi-prefix', 'cap-notify',
  'draft/multiline', 'draft/message-redaction', 'draft/event-playback',
  'draft/read-marker', 'setname', 'extended-join',
  'soju.im/search',
];

// multilineLimits reads the draft/multiline cap value ("max-bytes=8192,max-lines=100").
export function multilineLimits(value) {
  const out = { maxBytes: 4096, maxLines: 24 };
  for (const kv of (value || '').split(',')) {
    const [k, v] = kv.split('=');
    if (k === 'max-bytes' && Number(v) > 0) out.maxBytes = Number(v);
    if (k === 'max-lines' && Number(v) > 0) out.maxLines = Number(v);
  }
  return out;
}

// multilineBatches splits a text of several lines into the batches draft/multiline allows:
// each a list of {text, concat} lines, long lines cut (on character boundaries) into pieces
// of at most pieceBytes that join without a break.
export function multilineBatches(text, { maxBytes, maxLines }, pieceBytes = 400) {
  const enc = new TextEncoder();
  const lines = [];
  for (const line of text.split('\n')) {
    if (enc.encode(line).length <= pieceBytes) { lines.push({ text: line, concat: false }); continue; }
    let piece = '';
    let bytes = 0;
    let first = true;
    for (const ch of line) {
      const n = enc.encode(ch).length;
      if (bytes + n > pieceBytes) { lines.push({ text: piece, concat: !first }); first = false; piece = ''; bytes = 0; }
      piece += ch;
      bytes += n;
    }
    if (piece) lines.push({ text: piece, concat: !first });
  }
  const batches = [];
  let cur = [];
  let bytes = 0;
  for (const l of lines) {
    const n = enc.encode(l.text).length + 1;
    if (cur.length && (cur.length >= maxLines || bytes + n > maxBytes)) { batches.push(cur); cur = []; bytes = 0; }
    cur.push(cur.length ? l : { ...l, concat: false });
    bytes += n;
  }
  if (cur.length) batches.push(cur);
  return batches;
}

// LoginError is a refused login or registration; code is one of: wrong-password,
// no-account, name-taken, password-short, bad-name, throttled, registration-off,
// nick-in-use, locked, server-down, closed, timeout, failed. text is the server's words.
export class LoginError extends Error {
  constructor(code, text = '', extra = {}) {
    super(text || code);
    this.code = code;
    this.text = text;
    Object.assign(this, extra);
  }
}

// classifySASL maps a 904 text (commands.go loginErrorText) to a LoginError.
export function classifySASL(text) {
  const wait = /try again in (\d+)\s*s/i.exec(text);
  if (/too many|throttl/i.test(text)) return new LoginError('throttled', text, { wait: wait ? Number(wait[1]) : 60 });
  if (/no account/i.test(text)) return new LoginError('no-account', text);
  if (/is locked/i.test(text)) return new LoginError('locked', text);
  if (/wrong password|password incorrect|invalid credentials/i.test(text)) return new LoginError('wrong-password', text);
  return new LoginError('failed', text);
}

// classifyRegisterFail maps FAIL REGISTER <code> to a LoginError.
export function classifyRegisterFail(code, text) {
  const wait = /try again in (\d+)\s*s/i.exec(text);
  if (/too many|throttl|try again in/i.test(text) || code === 'RATE_LIMITED') {
    return new LoginError('throttled', text, { wait: wait ? Number(wait[1]) : 60 });
  }
  const min = /must be (\d+) to/i.exec(text);
  switch (code) {
    case 'ACCOUNT_EXISTS': return new LoginError('name-taken', text);
    case 'UNACCEPTABLE_PASSWORD': case 'WEAK_PASSWORD': return new LoginError('password-short', text, { min: min ? Number(min[1]) : 0 });
    case 'BAD_ACCOUNT_NAME': case 'ACCOUNT_NAME_MUST_BE_NICK': case 'NEED_NICK': return new LoginError('bad-name', text);
    case 'TEMPORARILY_UNAVAILABLE': case 'DISALLOWED': return new LoginError('registration-off', text);
  }
  return new LoginError('failed', text);
}

// backoffDelay is the wait before reconnect attempt n (0-based): 1 s doubling to 30 s, each
// cut by up to a third at random so a restarted server is not hit by every client at once.
export function backoffDelay(n, random = Math.random) {
  const base = Math.min(30000, 1000 * 2 ** n);
  return Math.round(base * (1 - random() / 3));
}

// welcomeEndToken is the PING sent right after the welcome (see state.js offline window).
export const welcomeEndToken = 'labchat-welcome-end';

const loginTimeout = 20000;
const requestTimeout = 15000;
const pingEvery = 45000; // a silent connection is probed, so a dead one is noticed

export class Client {
  constructor({ url, WebSocket: WS = globalThis.WebSocket, random = Math.random, timers = globalThis } = {}) {
    this.url = url;
    this.WS = WS;
    this.random = random;
    this.timers = timers;
    this.handlers = {};
    this.ws = null;
    this.state = 'idle';
    this.nick = '';
    this.account = '';
    this.isupport = {};
    this.caps = new Set();
    this.creds = null;
    this.attempt = 0;
    this.batches = new Map();
    this.historyWaits = []; // {target (folded), resolve, reject, timer}
    this.listWait = null;
    this.registeredOnce = false;
  }

  on(type, fn) {
    (this.handlers[type] ||= []).push(fn);
    return () => { this.handlers[type] = this.handlers[type].filter((f) => f !== fn); };
  }

  emit(type, ev) {
    for (const fn of this.handlers[type] || []) {
      try { fn(ev); } catch (err) { console.error('labchat: handler of', type, 'failed:', err); }
    }
  }

  setState(state, extra = {}) {
    this.state = state;
    this.emit('status', { state, ...extra });
  }

  // login connects and logs in (or registers the account first). It resolves when the
  // server welcomes us and rejects with a LoginError.
  login({ account, password, register = false, email = '*' }) {
    this.stopped = false;
    this.creds = { account, password };
    this.attempt = 0;
    return this.connect({ register, email });
  }

  connect({ register = false, email = '*' } = {}) {
    this.clearReconnect();
    this.closeSocket();
    this.setState('connecting');
    const { account, password } = this.creds;
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new this.WS(this.url, ['text.ircv3.net']);
      } catch (err) {
        reject(new LoginError('server-down', String(err)));
        return;
      }
      this.ws = ws;
      const conn = { ws, registered: false, lastError: '', capLS: [], done: false };
      this.conn = conn;
      const finish = (err, value) => {
        if (conn.done) return;
        conn.done = true;
        this.timers.clearTimeout(conn.timer);
        if (err) {
          this.closeSocket();
          reject(err);
        } else resolve(value);
      };
      conn.timer = this.timers.setTimeout(() => finish(new LoginError('timeout', 'the server did not answer in time')), loginTimeout);
      conn.finish = finish;
      ws.onopen = () => {
        conn.opened = true;
        this.rawSend('CAP', ['LS', '302']);
        this.rawSend('NICK', [account]);
        this.rawSend('USER', [account, '0', '*', account]);
      };
      ws.onmessage = (e) => {
        if (this.ws !== ws) return;
        const text = typeof e.data === 'string' ? e.data : new TextDecoder().decode(e.data);
        for (const line of text.split(/\r?\n/)) {
          if (line) this.onLine(conn, line, { register, email, account, password });
        }
      };
      ws.onerror = () => {};
      ws.onclose = (e) => {
        if (this.ws === ws) this.ws = null;
        this.timers.clearTimeout(conn.pingTimer);
        if (!conn.registered) {
          finish(conn.opened || conn.lastError
            ? new LoginError('closed', conn.lastError || 'the server closed the connection')
            : new LoginError('server-down', 'cannot reach the server'));
          return;
        }
        this.onDisconnect(conn, e);
      };
    });
  }

  onLine(conn, line, login) {
    const msg = parseLine(line);
    if (!msg) return;
    this.lastHeard = Date.now();
    if (!conn.registered) {
      this.onLoginLine(conn, msg, login);
    }
    switch (msg.command) {
      case 'PING':
        this.rawSend('PONG', msg.params.slice(0, 1));
        return;
      case 'ERROR':
        conn.lastError = msg.params[msg.params.length - 1] || '';
        break;
      case 'BATCH':
        this.onBatch(msg);
        return;
      case RPL_ISUPPORT:
        applyISupport(this.isupport, msg.params);
        break;
      case 'NICK':
        if (casefold(msg.source.split('!')[0]) === casefold(this.nick)) this.nick = msg.params[0];
        break;
      case 'CAP':
        this.onCapChange(msg);
        break;
      case RPL_LIST:
        if (this.listWait) { this.listWait.rooms.push({ name: msg.params[1], users: Number(msg.params[2]) || 0, topic: msg.params[3] || '' }); return; }
        break;
      case RPL_LISTEND:
        if (this.listWait) { const w = this.listWait; this.listWait = null; this.timers.clearTimeout(w.timer); w.resolve(w.rooms); return; }
        break;
      case 'FAIL':
        if (msg.params[0] === 'SEARCH' && this.searchWait) {
          const w = this.searchWait;
          this.searchWait = null;
          this.timers.clearTimeout(w.timer);
          w.reject(new Error(msg.params[msg.params.length - 1]));
        }
        if (msg.params[0] === 'CHATHISTORY' && this.historyWaits.length) {
          const w = this.historyWaits.shift();
          this.timers.clearTimeout(w.timer);
          w.reject(new Error(msg.params[msg.params.length - 1]));
        }
        break;
    }
    const batchID = msg.tags.batch;
    if (batchID && this.batches.has(batchID)) {
      this.batches.get(batchID).messages.push(msg);
      return;
    }
    this.emit('message', { msg });
  }

  onLoginLine(conn, msg, { register, email, account, password }) {
    const last = msg.params[msg.params.length - 1] || '';
    switch (msg.command) {
      case 'CAP': {
        const sub = (msg.params[1] || '').toUpperCase();
        if (sub === 'LS') {
          const more = msg.params[2] === '*';
          conn.capLS.push(...(more ? msg.params[3] : msg.params[2] || '').split(' ').filter(Boolean));
          if (more) return;
          const offered = new Map(conn.capLS.map((c) => { const eq = c.indexOf('='); return eq < 0 ? [c, ''] : [c.slice(0, eq), c.slice(eq + 1)]; }));
          this.offered = offered;
          const req = wantedCaps.filter((c) => offered.has(c));
          if (req.length) this.rawSend('CAP', ['REQ', req.join(' ')]);
          else this.rawSend('CAP', ['END']);
        } else if (sub === 'ACK' && !conn.acked) {
          conn.acked = true;
          for (const c of last.split(' ')) if (c) this.caps.add(c.replace(/^-/, ''));
          if (register) {
            if (!this.caps.has('draft/account-registration')) {
              conn.finish(new LoginError('registration-off', 'this server does not offer account registration'));
              return;
            }
            this.rawSend('REGISTER', [account, email || '*', password]);
          } else if (this.caps.has('sasl')) {
            this.rawSend('AUTHENTICATE', ['PLAIN']);
          } else {
            this.rawSend('CAP', ['END']);
          }
        } else if (sub === 'NAK' && !conn.acked) {
          conn.acked = true;
          this.rawSend('CAP', ['END']);
        }
        return;
      }
      case 'AUTHENTICATE':
        if (msg.params[0] === '+') {
          const blob = utf8Base64('\0' + account + '\0' + password);
          for (let i = 0; i < blob.length; i += 400) this.rawSend('AUTHENTICATE', [blob.slice(i, i + 400)]);
          if (blob.length % 400 === 0) this.rawSend('AUTHENTICATE', ['+']);
        }
        return;
      case RPL_LOGGEDIN:
        this.account = msg.params[2] || account;
        return;
      case RPL_SASLSUCCESS:
        this.rawSend('CAP', ['END']);
        return;
      case ERR_SASLFAIL: case ERR_SASLTOOLONG: case ERR_SASLABORTED:
        conn.finish(classifySASL(last));
        return;
      case ERR_PASSWDMISMATCH:
        conn.finish(classifySASL(last));
        return;
      case 'REGISTER':
        if (msg.params[0] === 'SUCCESS') {
          this.account = msg.params[1] || account;
          this.rawSend('CAP', ['END']);
        }
        return;
      case 'FAIL':
        if (msg.params[0] === 'REGISTER') conn.finish(classifyRegisterFail(msg.params[1], last));
        return;
      case ERR_NICKNAMEINUSE:
        conn.finish(new LoginError('nick-in-use', last));
        return;
      case ERR_ERRONEUSNICKNAME:
        conn.finish(new LoginError('bad-name', last));
        return;
      case RPL_WELCOME: {
        conn.registered = true;
        this.nick = msg.params[0];
        const reconnect = this.registeredOnce;
        this.registeredOnce = true;
        this.attempt = 0;
        this.timers.clearTimeout(conn.timer);
        this.schedulePing(conn);
        // The server delivers stored (offline) messages right after the welcome, before it
        // reads anything we send next; the answer to this PING marks the end of them.
        this.rawSend('PING', [welcomeEndToken]);
        this.setState('registered');
        conn.finish(null, { nick: this.nick, account: this.account || account });
        this.emit('registered', { nick: this.nick, account: this.account || account, reconnect });
      }
    }
  }

  onCapChange(msg) {
    const sub = (msg.params[1] || '').toUpperCase();
    const list = (msg.params[msg.params.length - 1] || '').split(' ').filter(Boolean);
    if (sub === 'DEL') for (const c of list) this.caps.delete(c);
    if (sub === 'NEW' && this.conn?.registered) {
      const req = list.map((c) => c.split('=')[0]).filter((c) => wantedCaps.includes(c) && !this.caps.has(c) && c !== 'sasl');
      if (req.length) this.rawSend('CAP', ['REQ', req.join(' ')]);
    }
    if (sub === 'ACK' && this.conn?.registered) for (const c of list) this.caps.add(c);
  }

  onBatch(msg) {
    const ref = msg.params[0] || '';
    if (ref[0] === '+') {
      this.batches.set(ref.slice(1), { type: msg.params[1] || '', params: msg.params.slice(2), messages: [], tags: msg.tags, source: msg.source });
      return;
    }
    const b = this.batches.get(ref.slice(1));
    if (!b) return;
    this.batches.delete(ref.slice(1));
    if (b.type === 'draft/multiline') {
      // One message of many lines: it goes on as one PRIVMSG (or NOTICE) whose text holds
      // the lines, with the batch's tags (msgid, time, reply), into the batch it is part of.
      const lines = b.messages.filter((m) => m.command === 'PRIVMSG' || m.command === 'NOTICE');
      if (!lines.length) return;
      let text = '';
      lines.forEach((m, i) => { text += (i && !('draft/multiline-concat' in m.tags) ? '\n' : '') + (m.params[1] || ''); });
      const tags = { ...b.tags };
      const outer = tags.batch;
      delete tags.batch;
      const one = { tags, source: b.source || lines[0].source, command: lines[0].command, params: [b.params[0] || lines[0].params[0], text], multiline: true };
      if (outer && this.batches.has(outer)) this.batches.get(outer).messages.push(one);
      else this.emit('message', { msg: one });
      return;
    }
    if (b.type === 'soju.im/search' && this.searchWait) {
      const w = this.searchWait;
      this.searchWait = null;
      this.timers.clearTimeout(w.timer);
      w.resolve(b.messages);
    }
    if (b.type === 'chathistory' || b.type === 'draft/chathistory-targets') {
      const key = b.type === 'chathistory' ? casefold(b.params[0] || '') : '*targets';
      const i = this.historyWaits.findIndex((w) => w.target === key);
      if (i >= 0) {
        const [w] = this.historyWaits.splice(i, 1);
        this.timers.clearTimeout(w.timer);
        w.resolve(b.messages);
      }
    }
    this.emit('batch', b);
  }

  schedulePing(conn) {
    this.timers.clearTimeout(conn.pingTimer);
    conn.pingTimer = this.timers.setTimeout(() => {
      if (this.conn !== conn || !this.ws) return;
      if (Date.now() - (this.lastHeard || 0) > 2 * pingEvery) {
        this.ws.close(); // no answer to the last probe: the link is dead
        return;
      }
      if (Date.now() - (this.lastHeard || 0) >= pingEvery) this.rawSend('PING', ['labchat']);
      this.schedulePing(conn);
    }, pingEvery / 3);
  }

  onDisconnect(conn, e) {
    this.failWaits(new Error('disconnected'));
    if (this.stopped) {
      this.setState('stopped', { reason: conn.lastError });
      return;
    }
    if (/logged in from|another (client|session)|taken over/i.test(conn.lastError)) {
      this.stopped = true;
      this.setState('stopped', { reason: conn.lastError });
      this.emit('takenover', { reason: conn.lastError });
      return;
    }
    this.scheduleReconnect(conn.lastError || (e && e.reason) || '');
  }

  scheduleReconnect(reason) {
    const delay = backoffDelay(this.attempt++, this.random);
    this.reconnectAt = Date.now() + delay;
    this.setState('reconnecting', { delay, reason });
    this.reconnectTimer = this.timers.setTimeout(() => this.reconnectNow(), delay);
  }

  // reconnectNow tries at once (the browser came back online, or the user asked).
  reconnectNow() {
    if (!this.creds || this.state === 'connecting' || this.state === 'registered') return;
    this.stopped = false;
    this.connect().catch((err) => {
      if (['wrong-password', 'no-account', 'bad-name'].includes(err.code)) {
        this.stopped = true;
        this.setState('stopped', { reason: err.text });
        this.emit('loginlost', { error: err });
        return;
      }
      this.scheduleReconnect(err.text);
    });
  }

  clearReconnect() {
    if (this.reconnectTimer) this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  closeSocket() {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      try { ws.close(); } catch { /* already closed */ }
    }
  }

  // quit ends the session on purpose: no reconnect.
  quit(reason = 'Logged out') {
    this.stopped = true;
    this.clearReconnect();
    if (this.ws && this.conn?.registered) {
      try { this.rawSend('QUIT', [reason]); } catch { /* closing anyway */ }
    }
    this.closeSocket();
    this.creds = null;
    this.registeredOnce = false;
    this.failWaits(new Error('logged out'));
    this.setState('stopped', { reason });
  }

  failWaits(err) {
    for (const w of this.historyWaits) { this.timers.clearTimeout(w.timer); w.reject(err); }
    this.historyWaits = [];
    if (this.listWait) { this.timers.clearTimeout(this.listWait.timer); this.listWait.reject(err); this.listWait = null; }
    if (this.searchWait) { this.timers.clearTimeout(this.searchWait.timer); this.searchWait.reject(err); this.searchWait = null; }
    this.batches.clear();
  }

  get connected() {
    return this.state === 'registered' && !!this.ws;
  }

  rawSend(command, params = [], tags = null) {
    const line = formatLine(command, params, tags);
    if (!this.ws) return line; // the connection ended under us; the close handler runs next
    this.ws.send(line);
    return line;
  }

  // sendTagged writes a command with tags (client-only +tags need message-tags).
  sendTagged(command, params, tags) {
    if (!this.connected) return false;
    this.rawSend(command, params, this.caps.has('message-tags') ? tags : null);
    return true;
  }

  // sendMultiline sends text of several lines as draft/multiline batches (tags on each
  // batch), or without the cap as one message per non-blank line.
  sendMultiline(command, target, text, tags = null) {
    if (!this.connected) return false;
    if (!this.caps.has('draft/multiline') || !this.caps.has('batch')) {
      for (const line of text.split('\n')) if (line) this.sendTagged(command, [target, line], tags);
      return true;
    }
    const limits = multilineLimits(this.offered?.get('draft/multiline'));
    for (const lines of multilineBatches(text, limits)) {
      const ref = 'ml' + (++this.batchSeq || (this.batchSeq = 1));
      this.rawSend('BATCH', ['+' + ref, 'draft/multiline', target], this.caps.has('message-tags') ? tags : null);
      for (const l of lines) this.rawSend(command, [target, l.text], l.concat ? { batch: ref, 'draft/multiline-concat': '' } : { batch: ref });
      this.rawSend('BATCH', ['-' + ref]);
    }
    return true;
  }

  // send writes a command once logged in; it returns false when not connected.
  send(command, ...params) {
    if (!this.connected) return false;
    this.rawSend(command, params);
    return true;
  }

  // history asks CHATHISTORY <sub> target ref limit and resolves with the batch's messages.
  history(sub, target, ref, limit = 50) {
    return new Promise((resolve, reject) => {
      if (!this.connected || !this.caps.has('draft/chathistory') || !this.caps.has('batch')) {
        resolve([]);
        return;
      }
      const w = { target: casefold(target), resolve, reject };
      w.timer = this.timers.setTimeout(() => {
        this.historyWaits = this.historyWaits.filter((x) => x !== w);
        reject(new Error('history request timed out'));
      }, requestTimeout);
      this.historyWaits.push(w);
      this.rawSend('CHATHISTORY', [sub, target, ref, String(limit)]);
    });
  }

  // targets lists conversations with messages between two times (CHATHISTORY TARGETS).
  targets(from, to, limit = 50) {
    return new Promise((resolve, reject) => {
      if (!this.connected || !this.caps.has('draft/chathistory') || !this.caps.has('batch')) {
        resolve([]);
        return;
      }
      const w = { target: '*targets', resolve: (msgs) => resolve(msgs.map((m) => ({ name: m.params[1], time: m.params[2] }))), reject };
      w.timer = this.timers.setTimeout(() => {
        this.historyWaits = this.historyWaits.filter((x) => x !== w);
        reject(new Error('history request timed out'));
      }, requestTimeout);
      this.historyWaits.push(w);
      this.rawSend('CHATHISTORY', ['TARGETS', 'timestamp=' + from.toISOString(), 'timestamp=' + to.toISOString(), String(limit)]);
    });
  }

  // search runs SEARCH (soju.im/search) and resolves with the matching messages.
  search(attrs) {
    return new Promise((resolve, reject) => {
      if (!this.connected) { reject(new Error('not connected')); return; }
      if (!this.caps.has('soju.im/search') || !this.caps.has('batch')) { reject(new Error('no-search')); return; }
      if (this.searchWait) { this.timers.clearTimeout(this.searchWait.timer); this.searchWait.reject(new Error('replaced')); }
      const w = { resolve, reject };
      w.timer = this.timers.setTimeout(() => {
        if (this.searchWait === w) this.searchWait = null;
        reject(new Error('search timed out'));
      }, requestTimeout);
      this.searchWait = w;
      this.rawSend('SEARCH', [attrs]);
    });
  }

  // list runs LIST and resolves with [{name, users, topic}].
  list() {
    return new Promise((resolve, reject) => {
      if (!this.connected) { reject(new Error('not connected')); return; }
      if (this.listWait) { reject(new Error('a room list is already loading')); return; }
      this.listWait = { rooms: [], resolve, reject };
      this.listWait.timer = this.timers.setTimeout(() => {
        const w = this.listWait;
        this.listWait = null;
        if (w) w.reject(new Error('room list timed out'));
      }, requestTimeout);
      this.rawSend('LIST');
    });
  }
}
