// ChatState is what the browser client knows: conversations (rooms, direct chats, the
// server), their messages, unread counts and members, everybody's presence, contacts, and
// calls. apply() takes one IRC message and returns the effects the UI acts on (a sound, a
// desktop notification, a request to send); the UI renders from this state only, never
// from IRC lines. No DOM here, so node --test drives it with plain messages.

import { parseSource, casefold, isRoom, parseCTCP, parseCall, messageTime, mentions, stripFormatting } from './irc.js';
import { parseSummary } from './rtc.js';
import { welcomeEndToken } from './client.js';

export const SERVER = '*server';

// Quiet numerics end lists, carry machine data or were already turned into state.
const quietNumerics = new Set([
  '001', '002', '003', '004', '005', '250', '251', '252', '253', '254', '255', '265', '266',
  '321', '322', '323', '329', '333', '352', '353', '315', '372', '375', '376', '422',
  '730', '731', '732', '733', '900', '903', '305', '306', '332', '331', '301', '341', '318', '369',
]);

// The WHOIS replies gathered into one card (RPL_WHOISUSER starts it, RPL_ENDOFWHOIS shows it).
const whoisParts = new Set(['311', '312', '313', '317', '319', '330', '335', '301', '276', '320', '338', '378', '379', '671']);

const groupGap = 5 * 60 * 1000; // messages closer than this from one sender form a group

let localSeq = 0;

export class ChatState {
  constructor({ now = () => Date.now(), callTimeout = 30000 } = {}) {
    this.now = now;
    this.callTimeout = callTimeout;
    this.me = { nick: '', account: '', away: '', autoAway: false };
    this.convs = new Map();
    this.users = new Map();
    this.contacts = [];
    this.monList = null; // 732 lines being collected until 733: the account's saved contacts
    this.markers = new Map(); // casefolded conversation → read marker (ms), from MARKREAD
    this.onMarkRead = null; // (conv, time) => void: tell the server this conversation was read
    this.realnames = new Map(); // casefolded nick → display name (extended-join, SETNAME, WHO)
    this.calls = new Map();
    this.active = null;
    this.visible = true;
    this.connectedAt = 0;
    this.echo = true;
    this.serverName = '';
    this.previousLogin = '';
    this.loginNoticeShown = false;
    this.announcements = [];
    this.whois = null;
    this.conv(SERVER, 'server');
  }

  // ---- conversations ----

  conv(name, kind) {
    const key = name === SERVER ? SERVER : casefold(name);
    let c = this.convs.get(key);
    if (!c) {
      c = {
        key, name, kind: kind || (isRoom(name) ? 'room' : 'dm'),
        messages: [], seen: new Set(), unread: 0, mention: false, members: new Map(),
        topic: '', joined: false, historyDone: false, divider: null, muted: false, last: null,
      };
      this.convs.set(key, c);
    }
    return c;
  }

  find(name) {
    return this.convs.get(name === SERVER ? SERVER : casefold(name));
  }

  // list returns the sidebar's conversations: rooms first, then direct chats, each by
  // latest activity.
  list() {
    const all = [...this.convs.values()].filter((c) => c.kind !== 'server' && (c.kind === 'dm' || c.joined));
    const t = (c) => (c.last ? c.last.time : 0);
    return all.sort((a, b) => (a.kind === b.kind ? t(b) - t(a) || a.name.localeCompare(b.name) : a.kind === 'room' ? -1 : 1));
  }

  // showLoginNotice adds the previous-login line once per login: the server sends it again
  // after every reconnect, and the student already read it.
  showLoginNotice(c) {
    const n = this.loginNotice;
    this.loginNotice = null;
    if (this.loginNoticeShown) return;
    this.loginNoticeShown = true;
    this.system(c, '', { ...n, login: true });
  }

  setActive(name) {
    const prev = this.active && this.convs.get(this.active);
    if (prev && prev.key !== (name && casefold(name))) prev.divider = null;
    const c = name ? this.conv(name) : null;
    this.active = c ? c.key : null;
    if (c && this.visible) this.markRead(c);
    if (c && c.kind !== 'server' && this.loginNotice) this.showLoginNotice(c);
    return c;
  }

  setVisible(visible) {
    this.visible = visible;
    if (visible && this.active) this.markRead(this.convs.get(this.active));
  }

  markRead(c) {
    c.unread = 0;
    c.mention = false;
    const last = this.lastMessageTime(c);
    if (last && last > (this.markers.get(c.key) || 0)) {
      this.markers.set(c.key, last);
      if (this.onMarkRead) this.onMarkRead(c, last);
    }
  }

  // lastMessageTime is the time of c's newest chat message (not a system line), or 0.
  lastMessageTime(c) {
    for (let i = c.messages.length - 1; i >= 0; i--) {
      if (c.messages[i].kind !== 'system') return c.messages[i].time;
    }
    return 0;
  }

  // recountUnread sets c's unread count and divider from its read marker: every message of
  // someone else newer than the marker is unread, also those that came while offline.
  // The conversation on screen gets the divider only: it is being read.
  recountUnread(c) {
    if (!this.markers.has(c.key)) return;
    const marker = this.markers.get(c.key);
    const unread = c.messages.filter((m) => m.kind !== 'system' && !m.self && m.time > marker);
    c.divider = unread.length ? unread[0].id : null;
    if (c.key === this.active && this.visible) {
      this.markRead(c);
      return;
    }
    c.unread = unread.length;
    if (!unread.length) c.mention = false;
  }

  // displayName is the name to show for nick: its display name (张三) when it has one.
  displayName(nick) {
    const n = this.realnames.get(casefold(nick));
    return n && n !== nick ? n : '';
  }

  totalUnread() {
    let n = 0;
    for (const c of this.convs.values()) if (!c.muted && c.kind !== 'server') n += c.unread;
    return n;
  }

  isMe(nick) {
    return casefold(nick) === casefold(this.me.nick);
  }

  // ---- users and presence ----

  user(nick) {
    const key = casefold(nick);
    let u = this.users.get(key);
    if (!u) {
      u = { nick, status: '', away: '' };
      this.users.set(key, u);
    }
    return u;
  }

  status(nick) {
    if (this.isMe(nick)) return this.me.away ? 'away' : 'online';
    const u = this.users.get(casefold(nick));
    return (u && u.status) || 'offline';
  }

  setStatus(nick, status, away = '') {
    const u = this.user(nick);
    const before = u.status;
    u.status = status;
    u.away = status === 'away' ? away : '';
    return before;
  }

  addContact(nick) {
    if (!this.contacts.some((n) => casefold(n) === casefold(nick))) this.contacts.push(nick);
  }

  removeContact(nick) {
    this.contacts = this.contacts.filter((n) => casefold(n) !== casefold(nick));
  }

  isContact(nick) {
    return this.contacts.some((n) => casefold(n) === casefold(nick));
  }

  // watchList is who the client MONITORs: the contacts. The server keeps that list for the
  // account (its saved MONITOR list), so it is the contact list on every device.
  watchList() {
    const names = new Map();
    for (const n of this.contacts) names.set(casefold(n), n);
    names.delete(casefold(this.me.nick));
    return [...names.values()];
  }

  // dmPartners is who the user has a one-to-one conversation with (the unsaved watch list).
  dmPartners() {
    const names = new Map();
    for (const c of this.convs.values()) if (c.kind === 'dm') names.set(casefold(c.name), c.name);
    names.delete(casefold(this.me.nick));
    return [...names.values()];
  }

  // ---- messages ----

  // addMessage appends (or, for history, inserts in time order) a message to a conversation.
  // It returns the message, or null when its msgid was already shown.
  addMessage(c, m, { history = false, at = -1 } = {}) {
    if (m.msgid) {
      if (c.seen.has(m.msgid)) return null;
      c.seen.add(m.msgid);
    }
    m.id ||= m.msgid || 'l' + ++localSeq;
    if (at >= 0) {
      c.messages.splice(at, 0, m);
    } else if (history && c.messages.length && m.time < c.messages[c.messages.length - 1].time) {
      let i = c.messages.length;
      while (i > 0 && c.messages[i - 1].time > m.time) i--;
      c.messages.splice(i, 0, m);
    } else {
      c.messages.push(m);
    }
    if (m.kind !== 'system' && (!c.last || m.time >= c.last.time)) c.last = { from: m.from, text: m.text, kind: m.kind, time: m.time, call: m.call };
    return m;
  }

  system(c, text, extra = {}) {
    return this.addMessage(c, { kind: 'system', from: '', text, time: this.now(), ...extra });
  }

  // countUnread bumps c's unread count for a message the user has not seen, and places the
  // "new messages" divider before the first of them.
  countUnread(c, m) {
    if (c.key === this.active && this.visible) {
      this.markRead(c); // shown on this screen: read here, so read on the other devices too
      return;
    }
    c.unread++;
    if (!c.divider) c.divider = m.id;
  }

  // groupedWithPrevious tells the renderer whether message i continues its sender's group.
  groupedWithPrevious(c, i) {
    const m = c.messages[i];
    const p = c.messages[i - 1];
    return !!p && p.from === m.from && p.kind !== 'system' && m.kind !== 'system' && p.kind !== 'call' && m.kind !== 'call'
      && m.time - p.time < groupGap && p.id !== c.divider && m.id !== c.divider;
  }

  // ---- applying IRC ----

  apply(msg, opts = {}) {
    const h = handlers[msg.command];
    if (h) return h.call(this, msg, opts) || [];
    if (/^\d{3}$/.test(msg.command)) return this.onNumeric(msg) || [];
    return [];
  }

  // applyHistory adds a CHATHISTORY page for target; it reports how many were new. An
  // older page (BEFORE) goes in front of everything shown: messages of one millisecond
  // cannot be ordered by their time.
  applyHistory(target, msgs, { older = false } = {}) {
    let added = 0;
    for (const msg of msgs) {
      if (msg.command === 'TAGMSG') { this.onTagmsg(msg, { history: true, forceConv: target }); continue; }
      if (msg.command !== 'PRIVMSG' && msg.command !== 'NOTICE') continue;
      const before = this.find(target)?.messages.length || 0;
      this.onPrivmsg(msg, { history: true, forceConv: target, at: older ? added : -1 });
      if ((this.find(target)?.messages.length || 0) > before) added++;
    }
    const c = this.find(target);
    if (c && added) this.recountUnread(c);
    return added;
  }

  onPrivmsg(msg, { history = false, forceConv = null, at = -1 } = {}) {
    const { nick } = parseSource(msg.source);
    const target = msg.params[0] || '';
    let text = msg.params[1] || '';
    const time = messageTime(msg, this.now()).getTime();
    const self = this.isMe(nick);
    const fromServer = !msg.source.includes('!') && !msg.source.includes('@') && (nick === this.serverName || nick.includes('.') || !nick);
    // NOTICE/PRIVMSG $* (or $server.name) is an operator's announcement to everyone.
    if (target.startsWith('$')) return history ? [] : this.onAnnouncement(msg, nick, text, time);
    if (fromServer && !history) return this.onServerNotice(msg, text);
    const room = isRoom(target);
    const convName = forceConv || (room ? target : self ? target : nick);
    if (!convName || convName === '*') return [];
    const ctcpMsg = parseCTCP(text);
    let kind = msg.command === 'NOTICE' ? 'notice' : 'msg';
    if (ctcpMsg) {
      if (ctcpMsg.command === 'ACTION') {
        kind = 'action';
        text = ctcpMsg.args;
      } else if (ctcpMsg.command === 'CALL' && !room) {
        return this.onCall(msg, nick, convName, ctcpMsg.args, { history, self, time, at });
      } else {
        return []; // other CTCP queries (VERSION, PING...) are not chat
      }
    }
    text = stripFormatting(text);
    const c = this.conv(convName);
    if (!room && c.name !== convName && !self) c.name = convName; // the peer's own spelling
    const offline = !history && !room && !self && this.offlineWindow;
    const replyTo = msg.tags['+draft/reply'] || '';
    const m = this.addMessage(c, { msgid: msg.tags.msgid, time, from: nick, text, kind, self, offline, history, replyTo, multiline: text.includes('\n') }, { history, at });
    if (m) {
      this.typingStopped(c, nick);
      this.attachPending(c);
    }
    if (!m || self || history) return [];
    if (room && c.joined && !c.members.has(casefold(nick))) c.members.set(casefold(nick), { nick, prefix: '' }); // a quiet room hides joins
    if (!room) this.setStatus(nick, this.status(nick) === 'away' ? 'away' : 'online', this.user(nick).away);
    this.countUnread(c, m);
    const mention = room && mentions(text, this.me.nick);
    if (mention) c.mention = true;
    return [{ type: 'notify', kind: !room ? 'dm' : mention ? 'mention' : 'message', conv: c.key, from: nick, text, offline }];
  }

  onAnnouncement(msg, nick, text, time) {
    const a = { id: msg.tags.msgid || 'a' + ++localSeq, from: nick, text: stripFormatting(text), time, self: this.isMe(nick) };
    if (this.announcements.some((x) => x.id === a.id)) return [];
    this.announcements.push(a);
    if (this.announcements.length > 5) this.announcements.shift();
    this.system(this.conv(SERVER), a.text, { i18n: 'announcement', args: [nick, a.text] });
    return a.self ? [] : [{ type: 'announce', announcement: a }];
  }

  dismissAnnouncement(id) {
    this.announcements = this.announcements.filter((a) => a.id !== id);
  }

  onServerNotice(msg, text) {
    const stored = /^(\S+) is offline; message stored/.exec(text);
    if (stored) {
      const c = this.conv(stored[1]);
      this.setStatus(stored[1], 'offline');
      // A ring stored for later is a missed call for them, as the terminal client does:
      // the UI sends the CANCEL that goes with it.
      for (const k of this.calls.values()) {
        if (k.outgoing && k.state === 'calling' && casefold(k.peer) === casefold(stored[1])) {
          return [...this.endCall(k, 'stored'), { type: 'callStored', call: k }];
        }
      }
      this.system(c, text, { i18n: 'storedOffline', args: [stored[1]] });
      return [];
    }
    const prev = /^Previous login: (\S+) from (\S+)/.exec(text);
    if (prev) this.previousLogin = prev[1];
    const notice = { serverNotice: true };
    this.system(this.conv(SERVER), text, notice);
    // A notice that answers what the user just did (a KILL's "Killed ...") goes where they are.
    if (!prev && this.active && this.active !== SERVER && /^Killed /.test(text)) this.system(this.convs.get(this.active), text, notice);
    // The login notice is for the student's eyes: it goes to the first conversation shown.
    if (prev) this.loginNotice = { i18n: 'previousLoginFrom', args: [prev[1], prev[2]] };
    else if (/^First login to this account/.test(text)) this.loginNotice = { i18n: 'firstLogin', args: [] };
    if (this.loginNotice && this.active && this.active !== SERVER) this.showLoginNotice(this.convs.get(this.active));
    return [];
  }

  // ---- calls (wire form in client_calls.go) ----

  onCall(msg, nick, convName, args, { history, self, time, at = -1 }) {
    const summary = parseSummary(args);
    if (summary) { // a voice call's quality (lib/rtc.js), live or from history
      this.addMessage(this.conv(convName), { msgid: msg.tags.msgid, time, from: nick, text: '', kind: 'call', self, call: { state: 'summary', id: summary.id, summary } }, { history, at });
      return [];
    }
    const call = parseCall(args);
    if (!call) return [];
    const c = this.conv(convName);
    const peer = self ? msg.params[0] : nick;
    if (history) {
      // A call is one line: its RING starts it, and the replies that follow in the history
      // (CANCEL, ANSWER, DECLINE, HANGUP) give it its outcome, as on the device that saw it.
      const line = this.findCallLine(c, call.id);
      if (call.verb === 'RING') {
        if (line) this.callLine(c, call.id, {}, { msgid: msg.tags.msgid });
        else this.addMessage(c, { msgid: msg.tags.msgid, time, from: nick, text: '', kind: 'call', self, call: { state: self ? 'called' : 'rang', id: call.id, outgoing: self } }, { history: true, at });
        return [];
      }
      if (!line) return [];
      if (msg.tags.msgid) c.seen.add(msg.tags.msgid);
      const out = !!line.call.outgoing;
      const final = ['no-answer', 'cancelled', 'declined', 'missed', 'hungup', 'failed', 'stored', 'elsewhere'].includes(line.call.state);
      const next = {
        CANCEL: out ? 'no-answer' : 'missed',
        ANSWER: 'answered',
        DECLINE: 'declined',
        HANGUP: line.call.state === 'answered' ? 'hungup' : '',
      }[call.verb];
      if (next && !(final && call.verb !== 'HANGUP')) this.callLine(c, call.id, { state: next });
      return [];
    }
    const existing = this.calls.get(call.id);
    if (self) {
      // Our own reply, echoed from another tab or device of this account: stop ringing here.
      if (existing && !existing.outgoing && existing.state === 'ringing' && (call.verb === 'ANSWER' || call.verb === 'DECLINE')) {
        return this.endCall(existing, call.verb === 'ANSWER' ? 'elsewhere' : 'declined');
      }
      return [];
    }
    switch (call.verb) {
      case 'RING': {
        if (existing) return [];
        if (this.now() - time >= this.callTimeout) {
          if (this.findCallLine(c, call.id)) return [];
          const m = this.addMessage(c, { msgid: msg.tags.msgid, time, from: peer, text: '', kind: 'call', call: { state: 'missed', id: call.id } });
          if (m) this.countUnread(c, m);
          return m ? [{ type: 'notify', kind: 'missed', conv: c.key, from: peer }] : [];
        }
        const k = { id: call.id, peer, outgoing: false, state: 'ringing', at: time, conv: c.key, voice: '+labchat/voice' in msg.tags };
        this.calls.set(k.id, k);
        return [{ type: 'call', call: k }];
      }
      case 'CANCEL':
        if (existing && !existing.outgoing && existing.state === 'ringing') return this.endCall(existing, 'missed');
        return [];
      case 'ANSWER':
        if (existing && existing.outgoing && existing.state === 'calling') {
          existing.state = 'active';
          existing.peerVoice = '+labchat/voice' in msg.tags;
          this.callLine(c, call.id, { state: 'answered', outgoing: true }, { time, from: peer });
          return [{ type: 'call', call: existing }];
        }
        return [];
      case 'DECLINE':
        if (existing && existing.outgoing && existing.state === 'calling') return this.endCall(existing, 'declined');
        return [];
      case 'HANGUP':
        if (existing && existing.state === 'active') return this.endCall(existing, 'hungup');
        return [];
    }
    return [];
  }

  // startCall books an outgoing call; the UI sends the RING.
  startCall(peer, id) {
    for (const k of this.calls.values()) if (k.outgoing && k.state === 'calling') return null;
    const c = this.conv(peer);
    const k = { id, peer, outgoing: true, state: 'calling', at: this.now(), conv: c.key };
    this.calls.set(id, k);
    this.callLine(c, id, { state: 'calling', outgoing: true }, { time: k.at, from: this.me.nick, self: true });
    return k;
  }

  // answerCall / declineCall / hangUp / callTimedOut change a call and report the line to send.
  answerCall(id) {
    const k = this.calls.get(id);
    if (!k || k.outgoing || k.state !== 'ringing') return null;
    k.state = 'active';
    this.callLine(this.conv(k.peer), id, { state: 'answered' }, { time: this.now(), from: k.peer });
    return { command: 'NOTICE', target: k.peer, verb: 'ANSWER', call: k };
  }

  declineCall(id) {
    const k = this.calls.get(id);
    if (!k || k.outgoing || k.state !== 'ringing') return null;
    this.endCall(k, 'declined');
    return { command: 'NOTICE', target: k.peer, verb: 'DECLINE', call: k };
  }

  hangUp(id) {
    const k = this.calls.get(id);
    if (!k) return null;
    if (k.outgoing && k.state === 'calling') {
      this.endCall(k, 'cancelled');
      return { command: 'PRIVMSG', target: k.peer, verb: 'CANCEL', call: k };
    }
    if (k.state !== 'active') return null;
    this.endCall(k, 'hungup');
    return { command: 'PRIVMSG', target: k.peer, verb: 'HANGUP', call: k };
  }

  callTimedOut(id) {
    const k = this.calls.get(id);
    if (!k) return null;
    if (k.outgoing && k.state === 'calling') {
      this.endCall(k, 'no-answer');
      return { command: 'PRIVMSG', target: k.peer, verb: 'CANCEL', call: k };
    }
    if (!k.outgoing && k.state === 'ringing') return { effects: this.endCall(k, 'missed') };
    return null;
  }

  endCall(k, how) {
    this.calls.delete(k.id);
    k.state = how;
    const c = this.conv(k.peer);
    const m = this.callLine(c, k.id, { state: how, outgoing: k.outgoing }, { time: this.now(), from: k.outgoing ? this.me.nick : k.peer, self: k.outgoing });
    const fx = [{ type: 'call', call: k }];
    if (how === 'missed' && m) {
      this.countUnread(c, m);
      fx.push({ type: 'notify', kind: 'missed', conv: c.key, from: k.peer });
    }
    return fx;
  }

  findCallLine(c, id) {
    return c.messages.find((x) => x.kind === 'call' && x.call && x.call.id === id) || null;
  }

  // callLine adds the one line of call id, or updates it: each call shows once, with its
  // latest state ("Calling ken…" becomes "ken answered", then "The call with ken ended").
  callLine(c, id, call, fields = {}) {
    const old = this.findCallLine(c, id);
    if (!old) return this.addMessage(c, { text: '', kind: 'call', ...fields, call: { id, ...call } });
    old.call = { ...old.call, ...call };
    if (fields.msgid && !old.msgid) old.msgid = fields.msgid;
    if (fields.msgid) c.seen.add(fields.msgid);
    if (c.last && c.last.call && c.last.call.id === id) c.last = { ...c.last, call: old.call };
    return old;
  }

  currentCall() {
    for (const k of this.calls.values()) if (k.state === 'active' || k.state === 'calling') return k;
    return null;
  }

  ringingCalls() {
    return [...this.calls.values()].filter((k) => k.state === 'ringing');
  }

  // ---- replies, reactions, typing, deletes ----

  // convOf is the conversation a message to target from nick belongs to.
  convOf(target, nick) {
    return this.conv(isRoom(target) ? target : this.isMe(nick) ? target : nick);
  }

  findMessage(c, msgid) {
    return msgid ? c.messages.find((m) => m.msgid === msgid) : undefined;
  }

  // onTagmsg: +draft/react (with +draft/reply naming the message) adds a reaction;
  // +typing=active|paused|done says who is typing.
  onTagmsg(msg, { history = false, forceConv = null } = {}) {
    const { nick } = parseSource(msg.source);
    const target = msg.params[0] || '';
    if (!nick || !target) return [];
    const c = forceConv ? this.conv(forceConv) : this.convOf(target, nick);
    const react = msg.tags['+draft/react'];
    const parent = msg.tags['+draft/reply'];
    if (react && parent) {
      if (msg.tags.msgid) {
        if (c.seen.has(msg.tags.msgid)) return [];
        c.seen.add(msg.tags.msgid);
      }
      const m = this.findMessage(c, parent);
      if (!m) {
        (c.pendingReacts ||= []).push({ parent, react, nick });
        return [];
      }
      this.addReaction(m, react, nick);
      return [];
    }
    const typing = msg.tags['+typing'] || msg.tags['+draft/typing'];
    if (typing && !history && !this.isMe(nick)) {
      const now = this.now();
      if (typing === 'done') this.typingStopped(c, nick);
      else (c.typing ||= new Map()).set(casefold(nick), { nick, until: now + (typing === 'paused' ? 30000 : 6000) });
      return [{ type: 'typing', conv: c.key }];
    }
    return [];
  }

  addReaction(m, react, nick) {
    m.reactions ||= new Map();
    const who = m.reactions.get(react) || new Set();
    who.add(casefold(nick));
    m.reactions.set(react, who);
    m.rev = (m.rev || 0) + 1;
  }

  // attachPending gives messages loaded later the reactions that arrived before them.
  attachPending(c) {
    if (!c.pendingReacts?.length) return;
    c.pendingReacts = c.pendingReacts.filter((p) => {
      const m = this.findMessage(c, p.parent);
      if (m) this.addReaction(m, p.react, p.nick);
      return !m;
    });
  }

  typingStopped(c, nick) {
    if (c.typing?.delete(casefold(nick))) return true;
    return false;
  }

  // typingNow lists who is typing in c, dropping the expired.
  typingNow(c) {
    if (!c.typing) return [];
    const now = this.now();
    for (const [k, v] of c.typing) if (v.until <= now) c.typing.delete(k);
    return [...c.typing.values()].map((v) => v.nick);
  }

  // onRedact drops a deleted message from its conversation (and whatever replied to it keeps
  // a "deleted" quote).
  onRedact(msg) {
    const { nick } = parseSource(msg.source);
    const target = msg.params[0] || '';
    const msgid = msg.params[1] || '';
    const c = this.convOf(target, nick);
    const i = c.messages.findIndex((m) => m.msgid === msgid);
    if (i < 0) return [];
    const [gone] = c.messages.splice(i, 1);
    (c.redacted ||= new Set()).add(msgid);
    if (c.last && c.last.time === gone.time && c.last.text === gone.text) {
      const prev = [...c.messages].reverse().find((m) => m.kind !== 'system');
      c.last = prev ? { from: prev.from, text: prev.text, kind: prev.kind, time: prev.time, call: prev.call } : null;
    }
    for (const m of c.messages) if (m.replyTo === msgid) m.rev = (m.rev || 0) + 1;
    return [{ type: 'redacted', conv: c.key, msgid }];
  }

  // canDelete: one's own messages, any message in a room one runs, anything for an operator.
  canDelete(c, m) {
    return !!m.msgid && (m.self || this.me.oper || (c.kind === 'room' && this.amOp(c)));
  }

  // maySpeak reports whether the server would take a message from the user in room c, as
  // far as the client can tell (+m without voice; bans it cannot see).
  maySpeak(c) {
    if (!c || c.kind !== 'room' || !c.modes?.has('m')) return true;
    const me = c.members.get(casefold(this.me.nick));
    return !!me && /[~&@%+]/.test(me.prefix);
  }

  // amOp reports whether the user runs room c (@, or ~ & of other servers).
  amOp(c) {
    if (this.me.oper && c && c.kind === 'room') return true; // a server operator may moderate any room
    const me = c && c.members.get(casefold(this.me.nick));
    return !!me && /[~&@%]/.test(me.prefix);
  }

  // ---- the rest of the protocol ----

  onNumeric(msg) {
    if (this.whois && whoisParts.has(msg.command) && casefold(msg.params[1] || '') === casefold(this.whois.nick)) {
      this.whois.parts[msg.command] = msg.params.slice(1);
      return [];
    }
    if (msg.command === '311') {
      this.whois = { nick: msg.params[1], parts: { 311: msg.params.slice(1) }, at: this.active };
      return [];
    }
    if (msg.command === '318') return this.endWhois();
    if (quietNumerics.has(msg.command)) return [];
    const text = msg.params.slice(1).filter((p, i, a) => i === a.length - 1 || !/^[#&]/.test(p) || a.length === 2).join(' ');
    const c = (this.active && this.convs.get(this.active)) || this.conv(SERVER);
    const params = msg.params.slice(1);
    // A refusal said twice in a row adds nothing: a typing notification (TAGMSG) and the
    // message after it are both refused in a room where one may not speak.
    const prev = c.messages[c.messages.length - 1];
    if (msg.command[0] === '4' && prev && prev.numeric === msg.command && this.now() - prev.time < 10000 &&
        prev.params?.join('\x00') === params.join('\x00')) return [];
    this.system(c, text, { numeric: msg.command, params });
    return [];
  }

  endWhois() {
    const w = this.whois;
    this.whois = null;
    if (!w) return [];
    const c = (w.at && this.convs.get(w.at)) || this.conv(SERVER);
    this.system(c, w.nick, { whois: w });
    return [];
  }
}

const handlers = {
  MARKREAD(msg) { // draft/read-marker: this account read up to here, on some device
    const target = msg.params[0] || '';
    const v = msg.params[1] || '*';
    const time = v.startsWith('timestamp=') ? Date.parse(v.slice(10)) || 0 : 0;
    const key = casefold(target);
    if (time <= (this.markers.get(key) || 0) && this.markers.has(key)) return [];
    this.markers.set(key, time);
    const c = this.find(target);
    if (!c) return [];
    this.recountUnread(c);
    return [{ type: 'markread', conv: c.key }];
  },

  '732'(msg) { // RPL_MONLIST: the account's saved contacts, pushed at login and on change
    this.monList ||= [];
    for (const n of (msg.params[1] || '').split(',')) if (n) this.monList.push(n);
    return [];
  },

  '733'() { // RPL_ENDOFMONLIST
    this.contacts = this.monList || [];
    this.monList = null;
    return [{ type: 'contacts' }];
  },

  SETNAME(msg) {
    const { nick } = parseSource(msg.source);
    this.realnames.set(casefold(nick), msg.params[0] || '');
    return [];
  },

  PRIVMSG: ChatState.prototype.onPrivmsg,
  NOTICE: ChatState.prototype.onPrivmsg,
  TAGMSG: ChatState.prototype.onTagmsg,
  REDACT: ChatState.prototype.onRedact,

  '381'() { // RPL_YOUREOPER
    this.me.oper = true;
    return [];
  },

  '001'(msg) {
    this.me.nick = msg.params[0];
    this.me.oper = false; // a new connection starts without operator rights
    this.serverName = msg.source;
    this.connectedAt = this.now();
    // Direct messages from now until the PONG of the client's welcome PING are the ones
    // the server stored while we were offline (offline.go delivers them in the welcome).
    this.offlineWindow = true;
    return [{ type: 'welcome' }];
  },

  PONG(msg) {
    if (msg.params[msg.params.length - 1] === welcomeEndToken) this.offlineWindow = false;
    return [];
  },

  JOIN(msg) {
    const { nick } = parseSource(msg.source);
    if (msg.params.length >= 3) this.realnames.set(casefold(nick), msg.params[2]); // extended-join
    const c = this.conv(msg.params[0], 'room');
    if (this.isMe(nick)) {
      c.name = msg.params[0];
      c.joined = true;
      c.members.clear();
      return [{ type: 'joined', conv: c.key }];
    }
    c.members.set(casefold(nick), { nick, prefix: '' });
    const before = this.status(nick);
    if (before === 'offline') this.setStatus(nick, 'online');
    this.system(c, nick, { i18n: 'joined', args: [nick] });
    return [];
  },

  PART(msg) {
    const { nick } = parseSource(msg.source);
    const c = this.find(msg.params[0]);
    if (!c) return [];
    if (this.isMe(nick)) {
      c.joined = false;
      c.members.clear();
      return [{ type: 'parted', conv: c.key }];
    }
    c.members.delete(casefold(nick));
    this.typingStopped(c, nick); // who leaves is no longer typing (the +typing spec)
    this.system(c, nick, { i18n: 'left', args: [nick, msg.params[1] || ''] });
    return [];
  },

  KICK(msg) {
    const { nick: by } = parseSource(msg.source);
    const c = this.find(msg.params[0]);
    const who = msg.params[1];
    if (!c) return [];
    c.members.delete(casefold(who));
    const kick = { by, who, room: c.name, reason: msg.params[2] || '', me: this.isMe(who) };
    this.system(c, who, { kick });
    if (kick.me) {
      c.joined = false;
      c.members.clear();
      return [{ type: 'kicked', conv: c.key, kick }];
    }
    return [];
  },

  QUIT(msg) {
    const { nick } = parseSource(msg.source);
    for (const c of this.convs.values()) {
      this.typingStopped(c, nick);
      if (c.members.delete(casefold(nick))) this.system(c, nick, { i18n: 'quit', args: [nick, msg.params[0] || ''] });
    }
    const before = this.setStatus(nick, 'offline');
    return before && before !== 'offline' ? [{ type: 'presence', nick, status: 'offline' }] : [];
  },

  NICK(msg) {
    const { nick } = parseSource(msg.source);
    const to = msg.params[0];
    if (this.isMe(nick)) this.me.nick = to;
    for (const c of this.convs.values()) {
      const m = c.members.get(casefold(nick));
      if (m) {
        c.members.delete(casefold(nick));
        c.members.set(casefold(to), { ...m, nick: to });
        this.system(c, nick, { i18n: 'nick', args: [nick, to] });
      }
    }
    const u = this.users.get(casefold(nick));
    if (u) {
      this.users.delete(casefold(nick));
      this.users.set(casefold(to), { ...u, nick: to });
    }
    // One conversation per person: the direct chat follows the new nick, merged with one
    // that already exists under it.
    const dm = this.convs.get(casefold(nick));
    if (dm && dm.kind === 'dm' && casefold(nick) !== casefold(to)) {
      const into = this.convs.get(casefold(to));
      this.convs.delete(dm.key);
      if (into && into.kind === 'dm') {
        for (const m of dm.messages) if (!m.msgid || !into.seen.has(m.msgid)) this.addMessage(into, m, { history: true });
        into.unread += dm.unread;
        if (this.active === dm.key) this.active = into.key;
        this.system(into, '', { i18n: 'nick', args: [nick, to] });
      } else {
        dm.key = casefold(to);
        dm.name = to;
        this.convs.set(dm.key, dm);
        if (this.active === casefold(nick)) this.active = dm.key;
        this.system(dm, '', { i18n: 'nick', args: [nick, to] });
      }
      return [{ type: 'renamed', from: nick, to }];
    }
    return [];
  },

  TOPIC(msg) {
    const c = this.find(msg.params[0]);
    if (!c) return [];
    c.topic = msg.params[1] || '';
    const { nick } = parseSource(msg.source);
    this.system(c, c.topic, { i18n: 'topic', args: [nick, c.topic] });
    return [];
  },

  '332'(msg) { // RPL_TOPIC
    const c = this.conv(msg.params[1], 'room');
    c.topic = msg.params[2] || '';
    return [];
  },

  '353'(msg) { // RPL_NAMREPLY: a reply (at a join, or a refresh) replaces the list
    const c = this.conv(msg.params[2], 'room');
    if (!c.namesLoading) {
      c.namesLoading = true;
      c.members.clear();
    }
    for (const entry of (msg.params[3] || '').split(' ')) {
      if (!entry) continue;
      const m = /^([~&@%+]*)(.+)$/.exec(entry);
      const nick = parseSource(m[2]).nick;
      c.members.set(casefold(nick), { nick, prefix: m[1] });
      if (!this.isMe(nick) && this.status(nick) === 'offline') this.setStatus(nick, 'online');
    }
    return [];
  },

  '366'(msg) { // RPL_ENDOFNAMES
    const c = this.find(msg.params[1]);
    if (c) c.namesLoading = false;
    return [];
  },

  '352'(msg) { // RPL_WHOREPLY: me channel user host server nick flags :hops realname
    const nick = msg.params[5];
    const flags = msg.params[6] || '';
    if (!nick || this.isMe(nick)) return [];
    const u = this.user(nick);
    this.setStatus(nick, flags.includes('G') ? 'away' : 'online', flags.includes('G') ? u.away || ' ' : '');
    const realname = (msg.params[7] || '').replace(/^\d+ /, '');
    if (realname) this.realnames.set(casefold(nick), realname);
    return [];
  },

  AWAY(msg) {
    const { nick } = parseSource(msg.source);
    if (this.isMe(nick)) return [];
    const text = msg.params[0] || '';
    const before = this.setStatus(nick, text ? 'away' : 'online', text);
    return [{ type: 'presence', nick, status: text ? 'away' : 'online', before }];
  },

  '301'(msg) { // RPL_AWAY
    const nick = msg.params[1];
    this.setStatus(nick, 'away', msg.params[2] || '');
    return [];
  },

  '305'() { this.me.away = ''; this.me.autoAway = false; return [{ type: 'away' }]; },
  '381'(msg) { // RPL_YOUREOPER: operators may delete any message
    this.me.oper = true;
    return this.onNumeric(msg);
  },
  '306'() { this.me.away ||= ' '; return [{ type: 'away' }]; },

  '730'(msg) { // RPL_MONONLINE
    const fx = [];
    for (const t of (msg.params[1] || '').split(',')) {
      if (!t) continue;
      const nick = parseSource(t).nick;
      const before = this.user(nick).status;
      if (before === 'away') continue; // already known to be here
      this.setStatus(nick, 'online');
      if (before === 'offline') fx.push({ type: 'presence', nick, status: 'online', before, contact: this.isContact(nick) });
    }
    return fx;
  },

  '731'(msg) { // RPL_MONOFFLINE
    const fx = [];
    for (const t of (msg.params[1] || '').split(',')) {
      if (!t) continue;
      const nick = parseSource(t).nick;
      const before = this.setStatus(nick, 'offline');
      if (before && before !== 'offline') fx.push({ type: 'presence', nick, status: 'offline', before });
    }
    return fx;
  },

  '401'(msg) { // ERR_NOSUCHNICK: also ends a call to someone not online
    const nick = msg.params[1];
    const fx = [];
    for (const k of this.calls.values()) {
      if (k.outgoing && k.state === 'calling' && casefold(k.peer) === casefold(nick)) fx.push(...this.endCall(k, 'failed'));
    }
    const c = this.find(nick) || (this.active && this.convs.get(this.active)) || this.conv(SERVER);
    this.system(c, msg.params[2] || '', { i18n: 'noSuchNick', args: [nick], numeric: '401' });
    return fx;
  },

  FAIL(msg) {
    if (msg.params[0] === 'CHATHISTORY') return [];
    const text = msg.params[msg.params.length - 1] || '';
    const target = msg.params.length > 3 ? msg.params[2] : '';
    const c = (target && this.find(target)) || (this.active && this.convs.get(this.active)) || this.conv(SERVER);
    this.system(c, text, { fail: msg.params[1], failContext: msg.params.length > 3 ? msg.params[2] : '' });
    return [];
  },

  '324'(msg) { // RPL_CHANNELMODEIS: me room +modes [args]
    const c = this.find(msg.params[1]);
    if (c) c.modes = new Set((msg.params[2] || '').replace(/^\+/, '').split(''));
    return [];
  },

  MODE(msg) {
    const target = msg.params[0] || '';
    if (!isRoom(target) && this.isMe(target)) {
      let add = true;
      for (const ch of msg.params[1] || '') {
        if (ch === '+' || ch === '-') add = ch === '+';
        else if (ch === 'o') this.me.oper = add;
      }
      return [];
    }
    const c = this.find(target);
    if (!isRoom(target) || !c) return [];
    const { nick: by } = parseSource(msg.source);
    c.modes ||= new Set();
    const args = msg.params.slice(2);
    let add = true;
    for (const ch of msg.params[1] || '') {
      if (ch === '+' || ch === '-') { add = ch === '+'; continue; }
      const takesArg = 'ovbeIk'.includes(ch) || (ch === 'l' && add);
      const arg = takesArg ? args.shift() || '' : '';
      if (ch === 'o' || ch === 'v') {
        const m = c.members.get(casefold(arg));
        if (m) {
          const sym = ch === 'o' ? '@' : '+';
          m.prefix = add ? (m.prefix.includes(sym) ? m.prefix : (sym === '@' ? sym + m.prefix : m.prefix + sym)) : m.prefix.replace(sym, '');
        }
      } else if (!'beI'.includes(ch)) {
        if (add) c.modes.add(ch); else c.modes.delete(ch);
      }
    }
    this.system(c, '', { i18n: 'modeChange', args: [by, msg.params.slice(1).join(' ')] });
    return [];
  },

  INVITE(msg) {
    const { nick: by } = parseSource(msg.source);
    const [who, room] = msg.params;
    const c = (this.active && this.convs.get(this.active)) || this.conv(SERVER);
    if (!this.isMe(who)) {
      this.system(c, '', { i18n: 'inviteSeen', args: [by, who, room] }); // invite-notify
      return [];
    }
    this.system(c, '', { i18n: 'invited', args: [by, room], invite: room });
    return [{ type: 'notify', kind: 'invite', conv: c.key, from: by, text: room }];
  },

  ERROR(msg) {
    this.system(this.conv(SERVER), msg.params[0] || '');
    return [];
  },
};
