// The labchat browser client: wires the IRC connection (lib/client.js) to the state
// (lib/state.js) and renders the screens from that state (ui/). The protocol side never
// touches the DOM; this file never parses IRC.

import { Client } from './lib/client.js';
import { ChatState, SERVER } from './lib/state.js';
import { Store } from './lib/store.js';
import { runInput, CommandError } from './lib/commands.js';
import { pickLanguage, translator, languages } from './lib/i18n.js';
import { casefold, isRoom, ctcp, splitMessage } from './lib/irc.js';
import { Sounds, TitleFlasher, notify as pageNotify, askNotificationPermission } from './ui/alerts.js';
import { Desktop, notifyVia } from './ui/desktop.js';
import { $, icon } from './ui/dom.js';
import { renderLogin, loginErrorView } from './ui/login.js';
import { renderSidebar, renderHeader, renderMessages, renderMembers, renderCallBar, renderBanner, renderTyping, renderAnnouncements } from './ui/chat.js';
import { kickSentence } from './lib/numerics.js';
import { openMenu, closeMenu, promptDialog, showRoomList } from './ui/dialogs.js';
import { Voice } from './ui/call.js';
import { upload, showProgress, uploadMessage } from './ui/files.js';

// How long a call rings: the terminal client's default call_timeout (tests shorten it).
const defaultCallTimeout = 30000;
const historyDays = 30;

class App {
  constructor() {
    this.store = new Store();
    this.lang = pickLanguage(this.store.get('lang', ''), navigator.languages || [navigator.language]);
    this.t = translator(this.lang);
    this.sounds = new Sounds();
    this.sounds.enabled = this.store.get('sound', true);
    this.title = new TitleFlasher(document, this.t);
    this.pageSize = this.store.get('pageSize', 50);
    this.callTimeout = this.store.get('callTimeout', defaultCallTimeout);
    this.idleMinutes = this.store.get('idleMinutes', 10);
    this.mode = 'login';
    this.sentHistory = [];
    this.historyPos = -1;
    this.monitored = new Set();
    this.watchedPartners = new Set(); // the unsaved MONITOR list: open DMs that are not contacts
    this.notes = new Map(); // conversation → its open desktop notification
    this.markPending = new Map(); // conversation → [name, time] of a MARKREAD about to go
    this.fetched = new Set(); // conversations whose latest page was asked for
    this.uploadSeq = 0;
    this.loadingOlder = new Set();
    this.loadingLatest = new Set(); // a LATEST page on its way: its answer says whether older ones exist
    this.callTimers = new Map();
    this.lastActivity = Date.now();
    this.renderQueued = false;
    this.hiddenOverride = null;
    this.voice = new Voice(this);
    this.desktop = new Desktop(this);
    this.newState();
  }

  newState() {
    this.state = new ChatState({ callTimeout: this.callTimeout });
    this.state.visible = !this.hidden();
    // Read here is read everywhere: the server keeps the marker (draft/read-marker) and
    // tells the account's other devices, which clear their badges and notifications.
    // A busy room read live sends one marker per quarter second, not one per message.
    this.state.onMarkRead = (c, time) => {
      const queued = this.markPending.has(c.key);
      this.markPending.set(c.key, [c.name, time]);
      if (queued) return;
      setTimeout(() => {
        const [name, at] = this.markPending.get(c.key) || [];
        this.markPending.delete(c.key);
        if (name && this.client && this.client.connected && this.client.caps.has('draft/read-marker')) {
          this.client.send('MARKREAD', name, 'timestamp=' + new Date(at).toISOString());
        }
      }, 250);
    };
  }

  hidden() {
    return this.hiddenOverride ?? document.hidden;
  }

  // ---- start ----

  start() {
    this.applyStrings();
    renderLogin(this);
    document.addEventListener('visibilitychange', () => this.onVisibility());
    window.addEventListener('focus', () => this.onVisibility());
    window.addEventListener('online', () => this.client && this.client.reconnectNow());
    for (const ev of ['keydown', 'pointerdown', 'wheel', 'touchstart']) {
      window.addEventListener(ev, () => this.onActivity(), { passive: true, capture: true });
    }
    window.addEventListener('mousemove', () => { if (Date.now() - this.lastActivity > 5000) this.onActivity(); }, { passive: true });
    setInterval(() => this.checkIdle(), Math.min(5000, Math.max(250, this.idleMinutes * 30000)));
    document.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape') return;
      closeMenu();
      for (const id of ['sidebar', 'members']) $(id).classList.remove('open');
      $('scrim').classList.remove('open');
      $('scrim').hidden = true;
    });
    this.desktop.start();
    this.tryStoredLogin();
  }

  applyStrings() {
    for (const slot of document.querySelectorAll('.ico-slot')) slot.replaceChildren(icon(slot.dataset.icon));
    document.documentElement.lang = this.lang === 'zh' ? 'zh-CN' : 'en';
    for (const el of document.querySelectorAll('[data-t]')) {
      const target = el.querySelector(':scope > span[data-t]') ? null : el;
      if (target) target.textContent = this.t(el.dataset.t);
    }
    for (const el of document.querySelectorAll('[data-t-aria]')) el.setAttribute('aria-label', this.t(el.dataset.tAria));
    for (const el of document.querySelectorAll('[data-t-title]')) el.setAttribute('title', this.t(el.dataset.tTitle));
    $('sidebar').setAttribute('aria-label', this.t('conversations'));
    for (const id of ['login-lang', 'chat-lang']) {
      const sel = $(id);
      sel.replaceChildren(...Object.entries(languages).map(([k, name]) => new Option(name, k, false, k === this.lang)));
      sel.onchange = () => this.setLanguage(sel.value);
    }
  }

  setLanguage(lang) {
    this.lang = lang;
    this.t = translator(lang);
    this.title.t = this.t;
    this.store.set('lang', lang);
    this.applyStrings();
    if (this.mode === 'login') renderLogin(this);
    else this.render();
  }

  // ---- login ----

  async tryStoredLogin() {
    const stay = this.store.get('stay', '');
    if (!stay || !globalThis.PasswordCredential || !navigator.credentials) return;
    try {
      const cred = await navigator.credentials.get({ password: true, mediation: 'silent' });
      if (cred && cred.password) {
        $('login-account').value = cred.id;
        $('login-password').value = cred.password;
        $('login-stay').checked = true;
        this.submitLogin(false);
      }
    } catch { /* no stored credential: the form stays */ }
  }

  async submitLogin(register) {
    const account = $('login-account').value.trim();
    const password = $('login-password').value;
    const email = $('login-email').value.trim();
    const stay = $('login-stay').checked;
    if (!account) return this.showLoginError({ code: 'need-name' });
    if (!password) return this.showLoginError({ code: 'need-password' });
    this.sounds.unlock();
    askNotificationPermission();
    this.showLoginError(null);
    const btn = $('login-submit');
    btn.disabled = true;
    btn.textContent = this.t(register ? 'registering' : 'loggingIn');
    if (this.client) this.client.quit();
    const client = new Client({ url: wsURL() });
    this.client = client;
    this.newState();
    this.wireClient(client);
    try {
      const who = await client.login({ account, password, register, email: email || '*' });
      const display = register ? $('login-display').value.trim() : '';
      if (display) client.send('SETNAME', display); // the account's display name, kept by the server
      this.loggedIn(who, { password, stay });
    } catch (err) {
      if (this.client === client) this.client = null;
      this.showLoginError(err, { account, password });
    } finally {
      btn.disabled = false;
      renderLogin(this);
    }
  }

  showLoginError(err, ctx = {}) {
    const box = $('login-error');
    if (!err) { box.hidden = true; box.replaceChildren(); return; }
    if (err.code === 'server-down') this.desktop.serverDown();
    box.replaceChildren(...loginErrorView(this, err, ctx));
    box.hidden = false;
  }

  async loggedIn({ account }, { password, stay }) {
    this.store.rememberLogin(account, Date.now());
    if (stay && globalThis.PasswordCredential && navigator.credentials) {
      try {
        await navigator.credentials.store(new PasswordCredential({ id: account, password, name: account }));
        this.store.set('stay', account);
      } catch { this.store.set('stay', ''); }
    } else {
      this.store.set('stay', '');
    }
    $('login-password').value = '';
    this.mode = 'chat';
    $('login-screen').hidden = true;
    $('chat-screen').hidden = false;
    this.render();
    $('input').focus();
    if (this.desktop.pendingOpen) {
      this.open(this.desktop.pendingOpen);
      this.desktop.pendingOpen = null;
    }
  }

  logout() {
    if (this.client) this.client.quit('Logged out');
    this.client = null;
    this.store.set('stay', '');
    if (navigator.credentials && navigator.credentials.preventSilentAccess) navigator.credentials.preventSilentAccess().catch(() => {});
    this.stopAllCalls();
    this.newState();
    this.monitored.clear();
    this.watchedPartners.clear();
    this.fetched.clear();
    this.renderedConv = null;
    this.renderedKeys = null;
    this.mode = 'login';
    this.loginMode = 'login';
    $('chat-screen').hidden = true;
    $('login-screen').hidden = false;
    this.title.update(0, false, 'labchat');
    this.desktop.setBadge(0);
    this.desktop.report();
    renderLogin(this);
  }

  // ---- the connection ----

  wireClient(client) {
    client.on('message', ({ msg }) => {
      if (this.client !== client) return;
      if (msg.command === '381') this.state.me.oper = true; // RPL_YOUREOPER: may delete any file
      if (msg.command === 'TAGMSG' && this.voice.onTagmsg(msg)) return;
      const fx = this.state.apply(msg);
      this.handleEffects(fx);
      this.scheduleRender();
    });
    client.on('registered', ({ account, reconnect }) => {
      if (this.client !== client) return;
      this.state.me.account = account;
      if (!reconnect) {
        this.account = account;
        this.state.contacts = this.store.contacts(account);
        for (const c of this.store.muted(account)) this.state.conv(c).muted = true;
      }
      this.afterWelcome(reconnect);
    });
    client.on('status', () => { if (this.client === client) this.scheduleRender(); });
    client.on('takenover', () => { if (this.client === client) this.scheduleRender(); });
    client.on('loginlost', ({ error }) => {
      if (this.client !== client) return;
      this.logout();
      this.showLoginError({ code: 'login-lost', text: error.text });
    });
  }

  async afterWelcome(reconnect) {
    const st = this.state;
    const client = this.client;
    this.monitored.clear();
    this.watchedPartners.clear();
    const rooms = reconnect
      ? [...st.convs.values()].filter((c) => c.kind === 'room' && c.wasJoined).map((c) => c.name)
      : this.store.rooms(this.account);
    for (const r of rooms) client.send('JOIN', r);
    if (st.me.away) client.send('AWAY', st.me.away);
    if (!reconnect) {
      try {
        const to = new Date(Date.now() + 60000);
        const from = new Date(Date.now() - historyDays * 86400000);
        for (const t of await client.targets(from, to, 50)) {
          if (!isRoom(t.name)) {
            const c = st.conv(t.name, 'dm');
            if (!c.last) c.last = { from: '', text: '', time: Date.parse(t.time) || 0 };
          }
        }
      } catch { /* history is a nicety: the chat works without it */ }
    }
    this.syncMonitor();
    for (const c of [...st.convs.values()]) {
      if (c.kind === 'dm') this.fetchLatest(c, reconnect);
    }
    this.scheduleRender();
  }

  // fetchLatest loads a conversation's newest page, or after a reconnect what came since
  // the last message shown.
  async fetchLatest(c, catchUp = false) {
    const last = [...c.messages].reverse().find((m) => m.msgid);
    try {
      let msgs;
      if (catchUp && last) {
        msgs = await this.client.history('AFTER', c.name, 'msgid=' + last.msgid, 200);
      } else {
        if (this.fetched.has(c.key)) return;
        this.fetched.add(c.key);
        this.loadingLatest.add(c.key);
        try {
          msgs = await this.client.history('LATEST', c.name, '*', this.pageSize);
        } finally {
          this.loadingLatest.delete(c.key);
        }
        if (msgs.length < this.pageSize) c.historyDone = true;
      }
      this.state.applyHistory(c.name, msgs);
      this.scheduleRender({ stick: true });
    } catch { /* disconnected meanwhile: the reconnect catches up */ }
  }

  async loadOlder(c) {
    // Until the newest page is in, an older one would be asked for blindly (and twice the
    // work when the newest page turns out to be the whole history).
    if (c.historyDone || this.loadingOlder.has(c.key) || this.loadingLatest.has(c.key) || !this.client || !this.client.connected) return;
    const first = c.messages.find((m) => m.msgid);
    const ref = first ? 'msgid=' + first.msgid : c.messages.length ? 'timestamp=' + new Date(c.messages[0].time).toISOString() : '*';
    if (ref === '*') return this.fetchLatest(c);
    this.loadingOlder.add(c.key);
    this.scheduleRender();
    try {
      const msgs = await this.client.history('BEFORE', c.name, ref, this.pageSize);
      if (msgs.length < this.pageSize) c.historyDone = true;
      this.state.applyHistory(c.name, msgs, { older: true });
    } catch { /* retried on the next scroll */ }
    this.loadingOlder.delete(c.key);
    this.scheduleRender({ keepBottomOffset: true });
  }

  syncMonitor() {
    if (!this.client || !this.client.connected || !this.client.isupport.MONITOR) return;
    this.syncWatch(this.state.watchList(), this.monitored, null);
    // The people one has a conversation with, whose dot the header and the sidebar show,
    // on this connection only: the server's MONITOR list is the account's contacts, and
    // the labchat/unsaved tag keeps these out of it. Without message-tags the tag cannot
    // be sent, and a plain MONITOR would save them as contacts.
    if (this.client.caps.has('message-tags')) this.syncWatch(this.state.dmPartners(), this.watchedPartners, { 'labchat/unsaved': '' });
  }

  // syncWatch brings the server's MONITOR list (tags picks which) from have to names.
  syncWatch(names, have, tags) {
    const want = new Map(names.map((n) => [casefold(n), n]));
    const add = [...want.keys()].filter((k) => !have.has(k));
    const del = [...have].filter((k) => !want.has(k));
    if (del.length) this.client.sendTagged('MONITOR', ['-', del.join(',')], tags);
    for (let i = 0; i < add.length; i += 20) {
      this.client.sendTagged('MONITOR', ['+', add.slice(i, i + 20).map((k) => want.get(k)).join(',')], tags);
    }
    for (const k of add) have.add(k);
    for (const k of del) have.delete(k);
  }

  send(command, ...params) {
    if (!this.client || !this.client.send(command, ...params)) throw new CommandError(this.t('notConnected'));
  }

  sendText(target, text) {
    const tags = this.takeReplyTags(target);
    this.typingSent = null; // the message itself tells the others typing is over
    if (text.includes('\n')) {
      if (!this.client || !this.client.sendMultiline('PRIVMSG', target, text, tags)) throw new CommandError(this.t('notConnected'));
      return;
    }
    for (const part of splitMessage(text, 400)) {
      if (!this.client || !this.client.sendTagged('PRIVMSG', [target, part], tags)) throw new CommandError(this.t('notConnected'));
    }
  }

  // ---- replies, reactions, deletes, typing ----

  startReply(c, m) {
    this.replyTo = { conv: c.key, msgid: m.msgid, from: m.from, text: m.text };
    renderTyping(this);
    $('input').focus();
  }

  // takeReplyTags is the +draft/reply tag for a message to target, used up once sent.
  takeReplyTags(target) {
    const r = this.replyTo;
    if (!r || r.conv !== casefold(target)) return null;
    this.replyTo = null;
    return { '+draft/reply': r.msgid };
  }

  react(c, m, emoji) {
    const who = m.reactions?.get(emoji);
    if (who && who.has(casefold(this.state.me.nick))) return; // one reaction of each kind
    try {
      if (!this.client || !this.client.sendTagged('TAGMSG', [c.name], { '+draft/reply': m.msgid, '+draft/react': emoji })) throw new CommandError(this.t('notConnected'));
      if (!this.client.caps.has('echo-message')) { this.state.addReaction(m, emoji, this.state.me.nick); this.scheduleRender(); }
    } catch (err) { this.composerError(err.message); }
  }

  deleteMessage(c, m) {
    if (!globalThis.confirm(this.t('deleteConfirm'))) return;
    try { this.send('REDACT', c.name, m.msgid); } catch (err) { this.composerError(err.message); }
  }

  // typingActive tells the conversation the user is typing, typingDone that the box was
  // cleared without sending. The +typing spec: no notification within 3 seconds of another
  // for a target (a "done" waits out the rest), and none after a message, which says it.
  typingActive(target) {
    if (!this.client || !this.client.connected || !this.client.caps.has('message-tags')) return;
    if (!this.state.maySpeak(this.state.find(target))) return; // it would only be refused
    const now = Date.now();
    const k = casefold(target);
    const last = this.typingSent || this.typingLastDone;
    if (last?.conv === k && now - last.at < 3000) return;
    this.typingSent = { conv: k, at: now };
    this.client.sendTagged('TAGMSG', [target], { '+typing': 'active' });
  }

  typingDone(target) {
    const sent = this.typingSent;
    if (!sent || sent.conv !== casefold(target)) return;
    clearTimeout(this.typingDoneTimer);
    const wait = sent.at + 3000 - Date.now();
    if (wait > 0) {
      this.typingDoneTimer = setTimeout(() => { if (this.typingSent === sent && !$('input').value.trim()) this.typingDone(target); }, wait);
      return;
    }
    this.typingSent = null;
    this.typingLastDone = { conv: sent.conv, at: Date.now() };
    if (this.client && this.client.connected && this.client.caps.has('message-tags')) this.client.sendTagged('TAGMSG', [target], { '+typing': 'done' });
  }

  // ---- effects of incoming lines ----

  handleEffects(fx) {
    for (const e of fx) {
      switch (e.type) {
        case 'notify': this.onNotify(e); break;
        case 'markread': this.onMarkReadElsewhere(e.conv); break;
        case 'contacts': this.onContacts(); break;
        case 'presence': this.onPresence(e); break;
        case 'call': this.onCallChange(e.call); break;
        case 'callStored': this.callWire({ command: 'PRIVMSG', target: e.call.peer, verb: 'CANCEL', call: e.call }); break;
        case 'joined': this.onJoined(e.conv); break;
        case 'parted': this.onParted(e.conv); break;
        case 'kicked': this.onKicked(e); break;
        case 'announce': this.onAnnounce(e.announcement); break;
        case 'renamed': this.onRenamed(e); break;
      }
    }
  }

  // onMarkReadElsewhere closes the desktop notifications of a conversation read on another
  // device of the account.
  onMarkReadElsewhere(key) {
    const c = this.state.convs.get(key);
    if (c && c.unread === 0) {
      const n = this.notes.get(key);
      if (n) { try { n.close(); } catch { /* already gone */ } this.notes.delete(key); }
    }
  }

  // onContacts takes the account's contact list from the server (its saved MONITOR list):
  // the server MONITORs them for this connection already.
  onContacts() {
    this.monitored = new Set(this.state.contacts.map((n) => casefold(n)));
    if (this.account) this.store.setContacts(this.account, this.state.contacts);
  }

  onNotify(e) {
    const c = this.state.convs.get(e.conv);
    if (!c) return;
    if (c.kind === 'dm') this.syncMonitor();
    const seen = c.key === this.state.active && !this.hidden();
    if (c.muted) return;
    if (e.kind === 'missed') {
      this.sounds.stopRing();
      this.sounds.play('missed');
    } else if (!seen) this.playThrottled(e.kind === 'mention' ? 'mention' : 'message');
    if ((this.hidden() || (e.kind === 'missed' && !seen)) && (e.kind === 'dm' || e.kind === 'mention' || e.kind === 'missed' || e.kind === 'invite')) {
      const title = e.kind === 'dm' ? this.t('notifDM', e.from) : e.kind === 'mention' ? this.t('notifMention', e.from, c.name)
        : e.kind === 'invite' ? this.t('invited', e.from, e.text) : this.t('notifMissed', e.from);
      // A page notification is kept so that reading the conversation on another device closes it.
      notifyVia(pageNotify, title, e.text || '', 'conv:' + c.key, () => this.open(c.name), { open: c.name })
        .then((n) => { if (n && n !== true) this.notes.set(c.key, n); });
    }
  }

  playThrottled(name) {
    if (!this.sounds.enabled) return;
    const now = Date.now();
    if (now - (this.lastSound || 0) < 1200) return;
    this.lastSound = now;
    this.sounds.play(name);
  }

  onPresence(e) {
    if (e.status === 'online' && e.before === 'offline' && e.contact) {
      this.sounds.play('online');
    }
  }

  onJoined(key) {
    const c = this.state.convs.get(key);
    c.wasJoined = true;
    c.namesAt = Date.now();
    this.saveRooms();
    this.client.send('MODE', c.name);
    this.client.send('WHO', c.name);
    if (!this.state.active || this.state.active === SERVER || this.pendingOpen === key) {
      this.pendingOpen = null;
      this.open(c.name);
    }
    this.fetchLatest(c, c.messages.some((m) => m.msgid));
  }

  onParted(key) {
    const c = this.state.convs.get(key);
    c.wasJoined = false;
    this.saveRooms();
    if (this.state.active === key) {
      const next = this.state.list()[0];
      this.open(next ? next.name : null);
    }
  }

  // onKicked leaves the room and says why where the student lands, with a sound and, in a
  // hidden tab, a desktop notification: the room does not just vanish.
  onKicked(e) {
    this.onParted(e.conv);
    const c = this.activeConv() || this.state.conv(SERVER);
    if (c.key !== e.conv) this.state.system(c, '', { kick: e.kick });
    this.playThrottled('mention');
    if (this.hidden()) notify(kickSentence(e.kick, this.lang), '', 'kick:' + e.conv, () => this.open(c.name));
  }

  onAnnounce(a) {
    this.playThrottled('mention');
    if (this.hidden()) notify(this.t('notifAnnouncement', a.from), a.text, 'announce:' + a.id, () => window.focus());
  }

  onRenamed({ from, to }) {
    if (this.fetched.delete(casefold(from))) this.fetched.add(casefold(to));
    this.syncMonitor();
  }

  saveRooms() {
    const rooms = [...this.state.convs.values()].filter((c) => c.kind === 'room' && c.joined).map((c) => c.name);
    this.store.setRooms(this.account, rooms);
  }

  // ---- calls ----

  onCallChange(k) {
    const ringing = this.state.ringingCalls();
    if (k.state === 'ringing') {
      const left = Math.max(0, this.callTimeout - (Date.now() - k.at));
      this.callTimers.set(k.id, setTimeout(() => {
        const out = this.state.callTimedOut(k.id);
        this.afterCallTimeout(k.id);
        if (out && out.effects) this.handleEffects(out.effects.filter((e) => e.type === 'notify'));
      }, left));
      const c = this.state.convs.get(k.conv);
      if (!c || !c.muted) this.sounds.ring();
      if (this.hidden()) notifyVia(pageNotify, this.t('notifCall', k.peer), '', 'call:' + k.id, () => this.showRing(), { open: k.peer, ring: true });
    } else {
      clearTimeout(this.callTimers.get(k.id));
      this.callTimers.delete(k.id);
    }
    if (!ringing.length) this.sounds.stopRing();
    this.voice.ringback(k.state === 'calling' && k.outgoing);
    if (k.state === 'active' && k.outgoing) this.voice.answeredByPeer(k, k.peerVoice);
    else if (!['active', 'calling', 'ringing'].includes(k.state)) this.voice.ended(k);
    if (k.state === 'active') this.open(k.peer);
    this.showRing();
    this.scheduleRender();
  }

  afterCallTimeout(id) {
    this.callTimers.delete(id);
    if (!this.state.ringingCalls().length) this.sounds.stopRing();
    this.showRing();
    this.scheduleRender();
  }

  showRing() {
    const dlg = $('ring-dialog');
    const k = this.state.ringingCalls()[0];
    if (!k) {
      if (dlg.open) dlg.close();
      return;
    }
    $('ring-title').textContent = this.t('callRinging', k.peer);
    $('ring-answer').onclick = () => this.answer(k.id);
    $('ring-decline').onclick = () => this.decline(k.id);
    if (!dlg.open) dlg.showModal();
  }

  callWire(out) {
    if (!out) return;
    this.client && this.client.send(out.command, out.target, ctcp('CALL', out.call.id + ' ' + out.verb));
  }

  call(nick) {
    if (this.state.isMe(nick)) throw new CommandError('/call NICK');
    if (this.state.currentCall()) throw new CommandError(this.t('callBusy'));
    if (!this.client || !this.client.connected) throw new CommandError(this.t('notConnected'));
    const id = [...crypto.getRandomValues(new Uint8Array(4))].map((b) => b.toString(16).padStart(2, '0')).join('');
    const k = this.state.startCall(nick, id);
    if (!k) throw new CommandError(this.t('callBusy'));
    this.client.rawSend('PRIVMSG', [nick, ctcp('CALL', id + ' RING')], this.voice.tags());
    this.voice.dialing(k);
    this.callTimers.set(id, setTimeout(() => {
      this.callTimers.delete(id);
      this.callWire(this.state.callTimedOut(id));
      this.voice.ringback(false);
      this.voice.ended(k);
      this.scheduleRender();
    }, this.callTimeout));
    this.syncMonitor();
    this.open(nick);
  }

  answer(id) {
    id ||= this.state.ringingCalls()[0]?.id;
    const out = this.state.answerCall(id);
    if (!out) return;
    // The voice tag on the ANSWER promises the offer; the terminal's ANSWER has none.
    const voice = out.call.voice ? this.voice.tags() : null;
    if (this.client) this.client.rawSend(out.command, [out.target, ctcp('CALL', out.call.id + ' ' + out.verb)], voice);
    this.onCallChange(out.call);
    this.voice.answered(out.call);
  }

  decline(id) {
    id ||= this.state.ringingCalls()[0]?.id;
    const out = this.state.declineCall(id);
    if (!out) return;
    this.callWire(out);
    this.onCallChange(out.call);
  }

  hangUp() {
    const k = this.state.currentCall();
    if (!k) return;
    if (k.state === 'active') this.voice.hangingUp(k);
    this.callWire(this.state.hangUp(k.id));
    this.onCallChange(k);
  }

  stopAllCalls() {
    this.voice.stopAll();
    for (const t of this.callTimers.values()) clearTimeout(t);
    this.callTimers.clear();
    this.sounds.stopRing();
    const dlg = $('ring-dialog');
    if (dlg.open) dlg.close();
  }

  // ---- presence ----

  setAway(text, auto = false) {
    const st = this.state;
    st.me.autoAway = auto && !!text;
    st.me.away = text;
    if (this.client && this.client.connected) {
      if (text) this.client.send('AWAY', text);
      else this.client.send('AWAY');
    }
    this.scheduleRender();
  }

  onActivity() {
    this.lastActivity = Date.now();
    if (this.state.me.autoAway && this.mode === 'chat') this.setAway('');
  }

  checkIdle() {
    if (this.mode !== 'chat' || this.state.me.away || !this.idleMinutes) return;
    if (Date.now() - this.lastActivity >= this.idleMinutes * 60000) this.setAway(this.t('autoAway'), true);
  }

  onVisibility() {
    this.state.setVisible(!this.hidden());
    if (!this.hidden()) this.onActivity();
    this.scheduleRender();
  }

  // ---- navigation and the user's actions ----

  open(name) {
    closeMenu();
    // Each conversation keeps its own half-typed line.
    const input = $('input');
    const before = this.activeConv();
    // A command being run (/query, /call) is not a draft of the conversation it was typed in.
    if (before) before.draft = this.submitting ? '' : input.value;
    const c = this.state.setActive(name);
    if (c !== before) {
      input.value = (c && c.draft) || '';
      this.historyPos = -1;
      autoGrow(input);
    }
    this.stickBottom = true;
    $('sidebar').classList.remove('open');
    $('scrim').classList.remove('open');
    if (c && c.kind === 'dm') {
      this.fetchLatest(c);
      this.syncMonitor();
    }
    if (c && c.kind === 'room' && !c.joined && this.client) this.pendingOpen = c.key;
    // A quiet room (+u, the lobby) sends no JOIN or PART lines: refresh who is there.
    if (c && c.kind === 'room' && c.joined && this.client?.connected && Date.now() - (c.namesAt || 0) > 30000) {
      c.namesAt = Date.now();
      this.client.send('NAMES', c.name);
      this.client.send('WHO', c.name);
    }
    this.render();
    if (window.matchMedia('(pointer: fine)').matches) $('input').focus();
  }

  activeConv() {
    return this.state.active ? this.state.convs.get(this.state.active) : null;
  }

  submitInput() {
    const input = $('input');
    const line = input.value;
    if (!line.trim()) return;
    const ctx = {
      send: (...a) => (a[0] === 'PRIVMSG' && !a[2].startsWith('\x01') ? this.sendText(a[1], a[2]) : this.send(...a)),
      sendMultiline: (target, text) => this.sendText(target, text),
      sendRaw: (l) => {
        if (/[\r\n\0]/.test(l)) throw new CommandError('one line at a time');
        if (!this.client || !this.client.connected) throw new CommandError(this.t('notConnected'));
        this.client.ws.send(l);
      },
      activeName: () => this.activeConv()?.name || null,
      activeKind: () => this.activeConv()?.kind || 'server',
      t: this.t,
      ui: this,
    };
    this.submitting = true;
    const from = this.activeConv();
    try {
      runInput(line, ctx);
      if (from) from.draft = '';
      this.sentHistory.push(line);
      if (this.sentHistory.length > 100) this.sentHistory.shift();
      this.historyPos = -1;
      input.value = '';
      this.composerError('');
      autoGrow(input);
    } catch (err) {
      if (err instanceof CommandError) this.composerError(err.message);
      else { this.composerError(String(err.message || err)); console.error(err); }
    } finally {
      this.submitting = false;
    }
  }

  // uploadFile uploads one file (attach button, drop, paste) and sends its link to the
  // conversation open when the upload began.
  async uploadFile(file) {
    const c = this.activeConv();
    if (!c || c.kind === 'server') { this.composerError(this.t('uploadNoConv')); return; }
    const id = String(++this.uploadSeq);
    showProgress(this, id, file.name, 0, file.size);
    try {
      const link = await upload(this, file, (sent, total) => showProgress(this, id, file.name, sent, total));
      this.sendText(c.name, uploadMessage(file.name, file.size, link));
      this.composerError('');
    } catch (err) {
      this.composerError(this.t('uploadFailed', file.name, err.message));
    } finally {
      showProgress(this, id, file.name, 0, -1);
    }
  }

  composerError(text) {
    const box = $('composer-error');
    box.textContent = text;
    box.hidden = !text;
  }

  help(usages) {
    const c = this.activeConv() || this.state.conv(SERVER);
    this.state.system(c, this.t('helpIntro'));
    this.state.system(c, this.t('help') + ': ' + usages.join('   '));
    this.render();
  }

  addContact(nick) {
    this.state.addContact(nick);
    this.store.setContacts(this.account, this.state.contacts);
    this.syncMonitor();
    this.render();
  }

  removeContact(nick) {
    this.state.removeContact(nick);
    this.store.setContacts(this.account, this.state.contacts);
    this.syncMonitor();
    this.render();
  }

  toggleMute(c = this.activeConv()) {
    if (!c) return;
    c.muted = !c.muted;
    this.store.setMuted(this.account, [...this.state.convs.values()].filter((x) => x.muted).map((x) => x.name));
    this.render();
  }

  toggleSound() {
    this.sounds.enabled = !this.sounds.enabled;
    if (!this.sounds.enabled) this.sounds.stopRing();
    this.store.set('sound', this.sounds.enabled);
    this.render();
  }

  showRoomList() { showRoomList(this); }

  async askJoin() {
    const name = await promptDialog(this, this.t('roomName'), (v) => (v.trim() ? '' : this.t('roomName')));
    if (!name) return;
    const room = isRoom(name.trim()) ? name.trim() : '#' + name.trim();
    try { this.send('JOIN', room); this.pendingOpen = casefold(room); } catch (err) { this.composerError(err.message); }
  }

  async askDM() {
    const nick = await promptDialog(this, this.t('chatWith'), (v) => (/^[^\s#&,:*?!@]+$/.test(v.trim()) ? '' : this.t('chatWith')));
    if (nick) this.open(nick.trim());
  }

  async askContact() {
    const nick = await promptDialog(this, this.t('addContact'), (v) => (/^[^\s#&,:*?!@]+$/.test(v.trim()) ? '' : this.t('chatWith')));
    if (nick) this.addContact(nick.trim());
  }

  personMenu(nick, anchor, room = null) {
    if (this.state.isMe(nick)) return;
    const items = [
      { label: this.t('sendMessage'), run: () => this.open(nick) },
      { label: this.t('startCall'), run: () => { try { this.call(nick); } catch (err) { this.composerError(err.message); } } },
      this.state.isContact(nick)
        ? { label: this.t('removeContact'), run: () => this.removeContact(nick) }
        : { label: this.t('addToContacts'), run: () => this.addContact(nick) },
    ];
    if (room && room.kind === 'room' && this.state.amOp(room)) items.push(...this.operatorItems(room, nick));
    openMenu(anchor, nick, items);
  }

  // operatorItems are what a room operator may do to a member (KICK, MODE +b/+o/+v).
  operatorItems(room, nick) {
    const m = room.members.get(casefold(nick));
    const prefix = m ? m.prefix : '';
    const act = (fn) => () => { try { fn(); } catch (err) { this.composerError(err.message); } };
    return [
      { label: this.t('kick'), run: act(async () => {
        const reason = await promptDialog(this, this.t('kickReason'), () => '');
        if (reason !== null) this.send('KICK', room.name, nick, ...(reason.trim() ? [reason.trim()] : []));
      }) },
      { label: this.t('ban'), run: act(() => { this.send('MODE', room.name, '+b', nick + '!*@*'); this.send('KICK', room.name, nick); }) },
      prefix.includes('@')
        ? { label: this.t('deop'), run: act(() => this.send('MODE', room.name, '-o', nick)) }
        : { label: this.t('op'), run: act(() => this.send('MODE', room.name, '+o', nick)) },
      prefix.includes('+')
        ? { label: this.t('devoice'), run: act(() => this.send('MODE', room.name, '-v', nick)) }
        : { label: this.t('voice'), run: act(() => this.send('MODE', room.name, '+v', nick)) },
    ];
  }

  // roomMenu is the room operator's menu: invite, topic, moderation, invite-only.
  roomMenu(anchor) {
    const c = this.activeConv();
    if (!c || c.kind !== 'room') return;
    const modes = c.modes || new Set();
    const act = (fn) => () => { try { fn(); } catch (err) { this.composerError(err.message); } };
    openMenu(anchor, c.name, [
      { label: this.t('inviteSomeone'), run: act(async () => {
        const nick = await promptDialog(this, this.t('inviteWho'), (v) => (/^[^\s#&,:*?!@]+$/.test(v.trim()) ? '' : this.t('inviteWho')));
        if (nick) this.send('INVITE', nick.trim(), c.name);
      }) },
      { label: this.t('setTopic'), run: act(async () => {
        const topic = await promptDialog(this, this.t('topicText'), () => '', c.topic);
        if (topic !== null) this.send('TOPIC', c.name, topic);
      }) },
      modes.has('m')
        ? { label: this.t('moderatedOff'), run: act(() => this.send('MODE', c.name, '-m')) }
        : { label: this.t('moderatedOn'), run: act(() => this.send('MODE', c.name, '+m')) },
      modes.has('i')
        ? { label: this.t('inviteOnlyOff'), run: act(() => this.send('MODE', c.name, '-i')) }
        : { label: this.t('inviteOnlyOn'), run: act(() => this.send('MODE', c.name, '+i')) },
    ]);
  }

  // ---- rendering ----

  scheduleRender(opts = {}) {
    if (opts.keepBottomOffset) this.keepBottomOffset = true;
    if (opts.stick) this.stickIfAtBottom = true;
    if (this.renderQueued) return;
    this.renderQueued = true;
    setTimeout(() => { this.renderQueued = false; this.render(); }, 0);
  }

  render() {
    this.desktop.report();
    if (this.mode !== 'chat') return;
    const st = this.state;
    renderSidebar(this);
    renderHeader(this);
    renderBanner(this);
    renderAnnouncements(this);
    renderCallBar(this);
    renderMessages(this);
    renderTyping(this);
    renderMembers(this);
    const c = this.activeConv();
    const input = $('input');
    input.placeholder = c && c.kind !== 'server' ? this.t('composerPlaceholder', c.name) : this.t('composerNone');
    input.setAttribute('aria-label', input.placeholder);
    this.title.update(st.totalUnread(), this.hidden(), c && c.kind !== 'server' ? c.name + ' · labchat' : 'labchat');
    this.desktop.setBadge(st.totalUnread());
  }
}

function wsURL() {
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/';
}

export function autoGrow(el) {
  el.style.height = 'auto';
  el.style.height = Math.min(el.scrollHeight + 2, 160) + 'px';
}

// completeName finishes the word before the caret from the names in view.
export function completeName(app, input) {
  const pos = input.selectionStart;
  const before = input.value.slice(0, pos);
  const m = /(\S+)$/.exec(before);
  if (!m) return false;
  const word = m[1].toLowerCase();
  const c = app.activeConv();
  const names = new Set();
  if (c) for (const mem of c.members.values()) names.add(mem.nick);
  for (const n of app.state.contacts) names.add(n);
  for (const x of app.state.convs.values()) if (x.kind !== 'server') names.add(x.name);
  const cands = [...names].filter((n) => n.toLowerCase().startsWith(word) && !app.state.isMe(n)).sort();
  if (!cands.length) return false;
  const pick = cands[0];
  const start = pos - m[1].length;
  const suffix = start === 0 && !isRoom(pick) ? ': ' : ' ';
  input.value = input.value.slice(0, start) + pick + suffix + input.value.slice(pos);
  const caret = start + pick.length + suffix.length;
  input.setSelectionRange(caret, caret);
  return true;
}

const app = new App();
globalThis.labchat = app; // for the browser tests and the curious: window.labchat.state
app.start();
