// The chat screen, rendered from ChatState: the sidebar (me, conversations, contacts), the
// conversation header, banners (connection, call), the message list and the member list.

import { h, $, icon } from './dom.js';
import { linkify, isRoom } from '../lib/irc.js';
import { SERVER } from '../lib/state.js';
import { numericSentence, failSentence, noticeSentence, kickSentence, formatters } from '../lib/numerics.js';
import { autoGrow, completeName } from '../main.js';
import { fileCards, wireFiles, openFileLink } from './files.js';

let wired = false;

function wire(app) {
  wired = true;
  wireFiles(app);
  $('away-btn').onclick = () => app.setAway(app.state.me.away ? '' : app.t('awayDefault'));
  $('join-btn').onclick = () => app.askJoin();
  $('list-btn').onclick = () => app.showRoomList();
  $('dm-btn').onclick = () => app.askDM();
  $('add-contact-btn').onclick = () => app.askContact();
  $('sound-btn').onclick = () => app.toggleSound();
  $('logout-btn').onclick = () => app.logout();
  $('mute-btn').onclick = () => app.toggleMute();
  $('room-menu-btn').onclick = (e) => app.roomMenu(e.currentTarget);
  $('call-btn').onclick = () => {
    const c = app.activeConv();
    try { if (c) app.call(c.name); } catch (err) { app.composerError(err.message); }
  };
  const toggle = (id) => {
    const el = $(id);
    const open = !el.classList.contains('open');
    el.classList.toggle('open', open);
    $('scrim').classList.toggle('open', open);
    $('scrim').hidden = !open;
  };
  $('menu-btn').onclick = () => toggle('sidebar');
  $('members-btn').onclick = () => toggle('members');
  $('scrim').onclick = () => {
    for (const id of ['sidebar', 'members']) $(id).classList.remove('open');
    $('scrim').classList.remove('open');
    $('scrim').hidden = true;
  };
  const input = $('input');
  $('composer').onsubmit = (e) => { e.preventDefault(); app.submitInput(); input.focus(); };
  input.addEventListener('input', () => {
    autoGrow(input);
    const c = app.activeConv();
    if (!c || c.kind === 'server') return;
    if (input.value.trim() && !input.value.startsWith('/')) app.typingActive(c.name);
    else app.typingDone(c.name);
  });
  input.addEventListener('keydown', (e) => {
    if (e.isComposing || e.keyCode === 229) return; // an input method (pinyin) is composing
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      app.submitInput();
    } else if (e.key === 'Tab' && !e.shiftKey && input.value) {
      if (completeName(app, input)) e.preventDefault();
    } else if (e.key === 'ArrowUp' && (input.value === '' || app.historyPos >= 0) && app.sentHistory.length) {
      e.preventDefault();
      app.historyPos = app.historyPos < 0 ? app.sentHistory.length - 1 : Math.max(0, app.historyPos - 1);
      input.value = app.sentHistory[app.historyPos];
      autoGrow(input);
    } else if (e.key === 'ArrowDown' && app.historyPos >= 0) {
      e.preventDefault();
      app.historyPos++;
      if (app.historyPos >= app.sentHistory.length) { app.historyPos = -1; input.value = ''; } else input.value = app.sentHistory[app.historyPos];
      autoGrow(input);
    }
  });
  const list = $('messages');
  app.atBottom = true;
  list.addEventListener('scroll', () => {
    const c = app.activeConv();
    app.atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    if (c && list.scrollTop < 60) app.loadOlder(c);
  }, { passive: true });
  // A narrower window (a phone turned, the keyboard shown) keeps the newest line in view.
  new ResizeObserver(() => { if (app.atBottom) list.scrollTop = list.scrollHeight; }).observe(list);
}

function dot(status, label) {
  return h('span', { class: 'dot ' + status, 'data-status': status, role: 'img', 'aria-label': label });
}

function statusLabel(app, nick) {
  const st = app.state.status(nick);
  const u = app.state.users.get(nick.toLowerCase());
  return st === 'away' && u && u.away.trim() ? app.t('awayMsg', u.away) : app.t(st);
}

export function renderSidebar(app) {
  if (!wired) wire(app);
  const { state: st, t } = app;
  const me = st.me;
  const myStatus = me.away ? 'away' : 'online';
  $('me-dot').className = 'dot ' + myStatus;
  $('me-dot').dataset.status = myStatus;
  $('me-dot').setAttribute('aria-label', t(myStatus));
  $('me-name').textContent = me.nick || app.account || '';
  $('away-btn').textContent = me.away ? t('setBack') : t('setAway');
  $('sound-btn').replaceChildren(icon(app.sounds.enabled ? 'bell' : 'bellOff'));
  $('sound-btn').setAttribute('aria-label', app.sounds.enabled ? t('soundOn') : t('soundOff'));
  $('sound-btn').title = app.sounds.enabled ? t('soundOn') : t('soundOff');
  $('sound-btn').setAttribute('aria-pressed', String(app.sounds.enabled));

  const convs = st.list();
  const unreadTotal = st.totalUnread();
  $('menu-badge').hidden = unreadTotal === 0;
  $('menu-badge').textContent = String(unreadTotal);
  $('conv-list').replaceChildren(...convs.map((c) => {
    const room = c.kind === 'room';
    const last = c.last ? lastLine(app, c) : '';
    const avatar = room ? h('span', { class: 'c-icon', 'aria-hidden': 'true' }, '#')
      : h('span', { class: 'c-icon' }, c.name.slice(0, 1).toUpperCase(), dot(st.status(c.name), statusLabel(app, c.name)));
    const badge = c.unread ? h('span', { class: 'badge' + (c.mention || c.kind === 'dm' ? ' mention' : ''), 'data-unread': c.unread, role: 'img', 'aria-label': t('unread', c.unread) }, String(c.unread))
      : c.muted ? h('span', { class: 'muted-mark' }, icon('bellOff', t('unmute'))) : h('span');
    return h('li', {},
      h('button', {
        type: 'button', class: 'conv' + (c.unread ? ' unread' : ''), 'data-conv': c.key,
        'aria-current': String(c.key === st.active),
        onclick: () => app.open(c.name),
        oncontextmenu: (e) => { if (c.kind === 'dm') { e.preventDefault(); app.personMenu(c.name, e.currentTarget); } },
      },
      avatar,
      h('span', { class: 'c-name' }, room ? c.name.slice(1) : c.name),
      badge,
      h('span', { class: 'c-last' }, last)));
  }));

  const contacts = [...st.contacts].sort((a, b) => rank(st.status(a)) - rank(st.status(b)) || a.localeCompare(b));
  $('contact-list').replaceChildren(...(contacts.length ? contacts.map((n) => personRow(app, n)) : [h('li', { class: 'empty' }, t('noContacts'))]));
}

function rank(status) {
  return { online: 0, away: 1, offline: 2 }[status] ?? 3;
}

function personRow(app, nick, prefix = '', room = null) {
  const st = app.state;
  const status = st.status(nick);
  const u = st.users.get(nick.toLowerCase());
  return h('li', {},
    h('button', {
      type: 'button', class: 'person', 'data-nick': nick,
      'aria-label': nick + ', ' + statusLabel(app, nick),
      onclick: (e) => (st.isMe(nick) ? null : app.personMenu(nick, e.currentTarget, room)),
    },
    dot(status, statusLabel(app, nick)),
    prefix ? h('span', { class: 'prefix' }, prefix) : null,
    h('span', { class: 'p-name' }, nick + (st.isMe(nick) ? ' (' + app.t('me') + ')' : '')),
    st.displayName(nick) ? h('span', { class: 'display-name' }, st.displayName(nick)) : null,
    status === 'away' && u && u.away.trim() ? h('span', { class: 'p-away' }, u.away) : null));
}

function lastLine(app, c) {
  const l = c.last;
  if (l.kind === 'call') return callText(app, { from: l.from, call: l.call, self: false }, c);
  if (!l.text) return '';
  const from = l.from && app.state.isMe(l.from) ? app.t('you') : l.from;
  if (l.kind === 'action') return '* ' + l.from + ' ' + l.text;
  return c.kind === 'room' || (from && from === app.t('you')) ? from + ': ' + l.text : l.text;
}

export function renderHeader(app) {
  const c = app.activeConv();
  const { t, state: st } = app;
  const name = $('conv-name');
  if (!c || c.kind === 'server') {
    name.replaceChildren(t('server'));
    $('conv-topic').textContent = st.previousLogin ? t('previousLogin', new Date(st.previousLogin).toLocaleString(app.lang === 'zh' ? 'zh-CN' : undefined)) : '';
    $('call-btn').hidden = true;
    $('room-menu-btn').hidden = true;
    $('mute-btn').hidden = true;
    $('members-btn').hidden = true;
    return;
  }
  if (c.kind === 'dm') {
    name.replaceChildren(dot(st.status(c.name), statusLabel(app, c.name)), c.name);
    $('conv-topic').textContent = statusLabel(app, c.name);
  } else {
    name.replaceChildren(c.name);
    $('conv-topic').textContent = c.topic || t('members', c.members.size);
  }
  $('call-btn').hidden = c.kind !== 'dm' || !!st.currentCall();
  $('room-menu-btn').hidden = !(c.kind === 'room' && st.amOp(c));
  $('mute-btn').hidden = false;
  $('mute-btn').replaceChildren(icon(c.muted ? 'bellOff' : 'bell'));
  $('mute-btn').setAttribute('aria-label', c.muted ? t('unmute') : t('mute'));
  $('mute-btn').setAttribute('title', c.muted ? t('unmute') : t('mute'));
  $('mute-btn').setAttribute('aria-pressed', String(c.muted));
  $('members-btn').hidden = c.kind !== 'room';
}

export function renderBanner(app) {
  const b = $('banner');
  const cl = app.client;
  const { t } = app;
  if (!cl || cl.state === 'registered') { b.hidden = true; return; }
  let text;
  let button = null;
  if (cl.state === 'reconnecting') {
    const secs = Math.max(0, Math.ceil(((cl.reconnectAt || 0) - Date.now()) / 1000));
    text = secs ? t('reconnecting', secs) : t('reconnectingNow');
    button = h('button', { class: 'small', type: 'button', onclick: () => cl.reconnectNow() }, t('reconnectNow'));
    clearTimeout(app.bannerTimer);
    app.bannerTimer = setTimeout(() => app.scheduleRender(), 1000);
  } else if (cl.state === 'connecting') {
    text = t('reconnectingNow');
  } else {
    text = t('takenOver');
    button = h('button', { class: 'small primary', type: 'button', id: 'use-here', onclick: () => cl.reconnectNow() }, t('useHere'));
  }
  b.replaceChildren(h('span', {}, text), button);
  b.hidden = false;
}

// renderAnnouncements shows operators' announcements (NOTICE $*) as a banner above every
// conversation until the student dismisses them.
export function renderAnnouncements(app) {
  const box = $('announcements');
  const list = app.state.announcements;
  if (!list.length) { box.hidden = true; box.replaceChildren(); return; }
  box.replaceChildren(...list.map((a) => h('div', { class: 'announcement', 'data-announcement': a.id },
    icon('bell'),
    h('div', { class: 'a-body' },
      h('strong', {}, app.t('announcementFrom', a.from)), ' ',
      h('span', { class: 'a-text' }, ...textNodes(a.text)),
      h('time', { class: 'muted', datetime: new Date(a.time).toISOString() }, ' · ' + timeText(app, a.time))),
    h('button', { type: 'button', class: 'icon', 'aria-label': app.t('dismiss'), title: app.t('dismiss'), onclick: () => { app.state.dismissAnnouncement(a.id); app.render(); } }, '×'))));
  box.hidden = false;
}

export function renderCallBar(app) {
  const bar = $('call-bar');
  const k = app.state.currentCall();
  if (!k) { bar.hidden = true; return; }
  const text = k.state === 'calling' ? app.t('callCalling', k.peer) : app.t('callActive', k.peer);
  bar.replaceChildren(h('span', { 'data-call-state': k.state }, icon('phone'), ' ', text), app.voice.barItems(k),
    h('button', { class: 'danger small', type: 'button', id: 'hangup', onclick: () => app.hangUp() }, app.t('callHangUp')));
  bar.hidden = false;
}

export function callText(app, m, c) {
  const t = app.t;
  const peer = c.name;
  switch (m.call.state) {
    case 'ringing': return t('callRinging', peer);
    case 'calling': return t('callCalling', peer);
    case 'called': return t('callCalled', peer);
    case 'rang': return t('callRang', peer);
    case 'missed': return t('callMissed', peer);
    case 'answered': return m.call.outgoing ? t('callAnsweredOut', peer) : t('callAnsweredIn', peer);
    case 'declined': return m.call.outgoing ? t('callDeclinedOut', peer) : t('callDeclinedIn', peer);
    case 'no-answer': return t('callNoAnswer', peer);
    case 'cancelled': return t('callCancelled', peer);
    case 'hungup': return t('callHungUp', peer);
    case 'failed': return t('callFailed', peer);
    case 'stored': return t('callStored', peer);
    case 'elsewhere': return t('callElsewhere', peer);
    case 'summary': return app.voice.summaryText(m.call.summary);
  }
  return m.call.state;
}

function timeText(app, ms) {
  return new Date(ms).toLocaleTimeString(app.lang === 'zh' ? 'zh-CN' : undefined, { hour: '2-digit', minute: '2-digit' });
}

function dayText(app, ms) {
  const d = new Date(ms);
  const today = new Date();
  const y = new Date(Date.now() - 86400000);
  if (d.toDateString() === today.toDateString()) return app.t('today');
  if (d.toDateString() === y.toDateString()) return app.t('yesterday');
  return d.toLocaleDateString(app.lang === 'zh' ? 'zh-CN' : undefined, { year: 'numeric', month: 'long', day: 'numeric', weekday: 'short' });
}

function textNodes(text, app) {
  return linkify(text).map((p) => (p.href ? h('a', { href: p.href, target: '_blank', rel: 'noopener noreferrer nofollow', onclick: (e) => openFileLink(app, p.href, e) }, p.text) : p.text));
}

// blocks splits a message into text and ``` code fences; a fence left open runs to the end.
export function blocks(text) {
  const out = [];
  const re = /```([^\n`]*)\n?([\s\S]*?)(?:```|$)/g;
  let last = 0;
  for (let m; (m = re.exec(text)); ) {
    if (m.index === re.lastIndex) { re.lastIndex++; continue; }
    if (m.index > last) out.push({ text: text.slice(last, m.index) });
    out.push({ code: m[2].replace(/\n$/, ''), lang: m[1].trim() });
    last = re.lastIndex;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

function bodyNodes(text, app) {
  if (!text.includes('```')) return textNodes(text, app);
  return blocks(text).map((b) => (b.code !== undefined
    ? h('pre', { class: 'code', 'data-lang': b.lang || null }, h('code', {}, b.code))
    : h('span', {}, textNodes(b.text.replace(/^\n|\n$/g, ''), app))));
}

const quickReactions = ['👍', '❤️', '😂', '🎉', '👀', '✅'];

function snippet(text, n = 80) {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > n ? one.slice(0, n - 1) + '…' : one;
}

function quoteNode(app, c, m) {
  const parent = app.state.findMessage(c, m.replyTo);
  return h('button', {
    type: 'button', class: 'quote', 'data-reply-to': m.replyTo,
    onclick: () => { const el = document.querySelector('[data-msgid="' + CSS.escape(m.replyTo) + '"]'); if (el) { el.scrollIntoView({ block: 'center' }); el.classList.add('flash'); setTimeout(() => el.classList.remove('flash'), 1200); } },
  }, parent ? [h('b', {}, parent.from), ' ', snippet(parent.text)] : app.t('replyGone'));
}

function reactionsNode(app, c, m) {
  if (!m.reactions || !m.reactions.size) return null;
  const me = app.state.me.nick.toLowerCase();
  return h('div', { class: 'reactions' }, [...m.reactions].map(([emoji, who]) => h('button', {
    type: 'button', class: 'reaction', 'data-react': emoji, 'data-count': who.size,
    'aria-pressed': String(who.has(me)),
    title: app.t('reactedBy', emoji, [...who].join(', ')),
    onclick: () => app.react(c, m, emoji),
  }, emoji + ' ' + who.size)));
}

function actionsNode(app, c, m) {
  if (!m.msgid || c.kind === 'server') return null;
  const t = app.t;
  const picker = h('div', { class: 'react-picker', hidden: true }, quickReactions.map((e) => h('button', {
    type: 'button', class: 'icon', 'data-pick': e, 'aria-label': e, onclick: () => { picker.hidden = true; app.react(c, m, e); },
  }, e)));
  return h('div', { class: 'msg-actions' },
    h('button', { type: 'button', class: 'icon', 'data-action': 'reply', 'aria-label': t('reply'), title: t('reply'), onclick: () => app.startReply(c, m) }, icon('reply')),
    h('button', { type: 'button', class: 'icon', 'data-action': 'react', 'aria-label': t('react'), title: t('react'), onclick: () => { picker.hidden = !picker.hidden; } }, icon('smile')),
    app.state.canDelete(c, m) ? h('button', { type: 'button', class: 'icon', 'data-action': 'delete', 'aria-label': t('deleteMsg'), title: t('deleteMsg'), onclick: () => app.deleteMessage(c, m) }, icon('trash')) : null,
    picker);
}

export function renderTyping(app) {
  const el = $('typing');
  const c = app.activeConv();
  const who = c && c.kind !== 'server' ? app.state.typingNow(c) : [];
  const text = who.length === 0 ? '' : who.length === 1 ? app.t('typing1', who[0]) : who.length === 2 ? app.t('typing2', who[0], who[1]) : app.t('typingMany');
  if (el.textContent !== text) el.textContent = text;
  clearTimeout(app.typingTimer);
  if (who.length) app.typingTimer = setTimeout(() => renderTyping(app), 1000);
  const bar = $('reply-bar');
  const r = app.replyTo && c && app.replyTo.conv === c.key ? app.replyTo : null;
  if (!r) { bar.hidden = true; bar.replaceChildren(); return; }
  bar.hidden = false;
  bar.replaceChildren(h('span', {}, app.t('replyingTo', r.from), ': ', h('span', { class: 'muted' }, snippet(r.text, 60))),
    h('button', { type: 'button', class: 'icon', id: 'cancel-reply', 'aria-label': app.t('cancelReply'), onclick: () => { app.replyTo = null; renderTyping(app); } }, icon('x')));
}

export function renderMessages(app) {
  const el = $('messages');
  const c = app.activeConv() || app.state.conv(SERVER);
  const st = app.state;
  const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  const fromBottom = el.scrollHeight - el.scrollTop;
  const sameConv = app.renderedConv === c.key && app.renderedLang === app.lang;
  // Items are keyed; when the new list only adds items at the end (a new message), only
  // those are added to the page, so a screen reader hears the new line, not the whole log.
  const items = [];
  if (c.kind !== 'server') {
    const state = c.historyDone ? 'done' : app.loadingOlder.has(c.key) ? 'loading' : 'more';
    const text = { done: app.t('beginning'), loading: app.t('loadingOlder'), more: '' }[state];
    items.push({ key: 'note:' + state, make: () => h('div', { class: 'history-note', 'data-history': state }, text) });
  }
  let prevDay = '';
  c.messages.forEach((m, i) => {
    const day = new Date(m.time).toDateString();
    if (day !== prevDay) {
      items.push({ key: 'day:' + day, make: () => h('div', { class: 'day', role: 'separator' }, dayText(app, m.time)) });
      prevDay = day;
    }
    if (m.id === c.divider) items.push({ key: 'divider', make: () => h('div', { class: 'divider', role: 'separator', id: 'new-divider' }, app.t('newMessages')) });
    items.push({ key: 'm:' + m.id + ':' + (m.rev || 0) + (m.call ? ':' + m.call.state : ''), make: () => messageNode(app, c, m, st.groupedWithPrevious(c, i) && new Date(c.messages[i - 1].time).toDateString() === day) });
  });
  const keys = items.map((it) => it.key);
  const prev = sameConv ? app.renderedKeys || [] : null;
  if (prev && keys.length >= prev.length && prev.every((k, i) => keys[i] === k)) {
    el.append(...items.slice(prev.length).map((it) => it.make()));
  } else {
    el.replaceChildren(...items.map((it) => it.make()));
  }
  app.renderedKeys = keys;
  app.renderedLang = app.lang;
  el.setAttribute('aria-label', c.kind === 'server' ? app.t('server') : c.name);
  if (!sameConv || app.stickBottom) {
    const div = $('new-divider');
    if (div && c.unread === 0 && !sameConv) div.scrollIntoView({ block: 'center' });
    else el.scrollTop = el.scrollHeight;
    app.stickBottom = false;
  } else if (app.keepBottomOffset) {
    el.scrollTop = el.scrollHeight - fromBottom;
  } else if (atBottom) {
    el.scrollTop = el.scrollHeight;
  }
  app.keepBottomOffset = false;
  app.stickIfAtBottom = false;
  app.atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  app.renderedConv = c.key;
  // A page that does not fill the view gives no scroll to load the next one: ask now.
  if (c.kind !== 'server' && !c.historyDone && el.scrollHeight <= el.clientHeight + 10 && app.fetched.has(c.key) && c.messages.length) {
    setTimeout(() => app.loadOlder(c), 0);
  }
}

// systemText is a system line in the user's language: the server's numerics, FAIL codes
// and notices are translated (lib/numerics.js); only what the table lacks stays as sent.
function systemText(app, m, args) {
  if (m.kick) return kickSentence(m.kick, app.lang);
  if (m.i18n) return app.t(m.i18n, ...args);
  if (m.numeric && m.params) {
    const s = numericSentence(m.numeric, m.params, app.lang);
    if (s !== null) return s;
  }
  if (m.fail) return failSentence(m.fail, m.failContext || '', m.text, app.lang);
  if (m.serverNotice) return noticeSentence(m.text, app.lang) ?? m.text;
  return m.text;
}

const whoisLabels = {
  en: { title: 'About {0}', name: 'Name', account: 'Account', from: 'Connected from', server: 'Server', rooms: 'Rooms', idle: 'Idle', since: 'Online since', away: 'Away', role: 'Role', oper: 'Server operator', bot: 'Bot', notLoggedIn: 'not logged in' },
  zh: { title: '关于 {0}', name: '名字', account: '账号', from: '连接来源', server: '服务器', rooms: '聊天室', idle: '空闲', since: '上线时间', away: '离开', role: '身份', oper: '服务器管理员', bot: '机器人', notLoggedIn: '未登录' },
};

// whoisCard shows a WHOIS answer as a card: no epoch seconds, no raw parameters.
function whoisCard(app, w) {
  const L = whoisLabels[app.lang === 'zh' ? 'zh' : 'en'];
  const f = formatters(app.lang);
  const p = w.parts;
  const rows = [];
  const row = (label, value) => { if (value) rows.push(h('dt', {}, label), h('dd', {}, value)); };
  if (p['311']) { row(L.name, p['311'][4]); row(L.from, p['311'][2]); }
  row(L.account, p['330'] ? p['330'][1] : L.notLoggedIn);
  if (p['301']) row(L.away, p['301'][1]);
  if (p['319']) row(L.rooms, f.rooms(p['319'][1]));
  if (p['317']) {
    row(L.idle, f.duration(Number(p['317'][1]) * 1000));
    row(L.since, f.date(Number(p['317'][2]) * 1000));
  }
  if (p['312']) row(L.server, p['312'][1]);
  const roles = [p['313'] ? L.oper : '', p['335'] ? L.bot : ''].filter(Boolean).join(', ');
  row(L.role, roles);
  const title = L.title.replace('{0}', w.nick);
  return h('section', { class: 'whois-card', 'data-kind': 'whois', 'data-nick': w.nick, 'aria-label': title },
    h('h3', {}, title), h('dl', {}, ...rows));
}

function messageNode(app, c, m, grouped) {
  const st = app.state;
  if (m.kind === 'system') {
    if (m.whois) return whoisCard(app, m.whois);
    const args = m.i18n === 'previousLoginFrom' ? [new Date(m.args[0]).toLocaleString(app.lang === 'zh' ? 'zh-CN' : undefined), m.args[1]] : m.args || [];
    const text = systemText(app, m, args);
    const join = m.invite ? h('button', { type: 'button', class: 'small primary', 'data-invite': m.invite, onclick: () => { app.pendingOpen = m.invite.toLowerCase(); try { app.send('JOIN', m.invite); } catch (err) { app.composerError(err.message); } } }, app.t('join')) : null;
    return h('div', { class: 'sys' + (m.fail || m.numeric?.[0] === '4' ? ' error' : '') + (join ? ' invite' : ''), 'data-kind': 'system' }, text, join ? ' ' : null, join);
  }
  if (m.kind === 'call') {
    return h('div', { class: 'call-entry ' + m.call.state, 'data-call': m.call.state, 'data-kind': 'call' },
      icon('phone'), callText(app, m, c), h('span', { class: 'muted' }, ' · ' + timeText(app, m.time)));
  }
  const mention = !m.self && c.kind === 'room' && m.kind !== 'notice' && new RegExp('(^|[^\\w-])' + st.me.nick.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '($|[^\\w-])', 'i').test(m.text);
  const cls = ['msg', m.kind, m.self ? 'self' : '', mention ? 'mention' : '', m.offline ? 'offline' : '', m.multiline ? 'multiline' : '', m.msgid && c.highlight === m.msgid ? 'found' : ''].filter(Boolean).join(' ');
  const body = m.kind === 'action' ? ['* ' + m.from + ' ', ...textNodes(m.text, app)] : bodyNodes(m.text, app);
  const meta = grouped ? null : h('div', { class: 'meta' },
    m.self ? null : h('button', { type: 'button', class: 'from', onclick: (e) => app.personMenu(m.from, e.currentTarget) }, m.from,
      app.state.displayName(m.from) ? h('span', { class: 'display-name' }, app.state.displayName(m.from)) : null),
    h('time', { datetime: new Date(m.time).toISOString(), title: new Date(m.time).toLocaleString() }, timeText(app, m.time)));
  return h('div', { class: cls, 'data-msgid': m.msgid || '', 'data-from': m.from, 'data-kind': m.kind },
    meta,
    m.replyTo ? quoteNode(app, c, m) : null,
    h('div', { class: 'bubble' }, body, fileCards(app, m.text, m.self || app.state.me.oper)),
    reactionsNode(app, c, m),
    actionsNode(app, c, m),
    m.offline ? h('div', { class: 'offline-tag' }, icon('mail'), ' ' + app.t('offlineMsg') + ' · ' + new Date(m.time).toLocaleString(app.lang === 'zh' ? 'zh-CN' : undefined)) : null);
}

export function renderMembers(app) {
  const c = app.activeConv();
  const aside = $('members');
  const screen = $('chat-screen');
  if (!c || c.kind !== 'room') {
    aside.hidden = true;
    screen.classList.add('no-members');
    return;
  }
  aside.hidden = false;
  screen.classList.remove('no-members');
  const order = (p) => (p.includes('@') ? 0 : p.includes('+') ? 1 : 2);
  const members = [...c.members.values()].sort((a, b) => order(a.prefix) - order(b.prefix)
    || rank(app.state.status(a.nick)) - rank(app.state.status(b.nick)) || a.nick.localeCompare(b.nick));
  $('members-title').textContent = app.t('members', members.length);
  $('member-list').replaceChildren(...members.map((m) => personRow(app, m.nick, m.prefix.slice(0, 1), c)));
}

export { isRoom };
