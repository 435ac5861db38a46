// The desktop side of the page: the service worker (installable app, offline shell), the
// app badge with the unread count, notifications that open their conversation when clicked,
// and, when the page comes from `labchat open`, the link to the local server: the page
// reports its state there for the tray icon, takes the tray's commands (away, mute, focus,
// quit) from an event stream, and has a Quit button.
//
// Everything here needs a secure context (https:, or the loopback page of labchat open) and
// quietly does nothing without one.

const probeEvery = 3000;

export class Desktop {
  constructor(app) {
    this.app = app;
    this.local = null; // /open/info of labchat open, or null
    this.reported = '';
    this.badge = 0;
    this.reportTimer = null;
    this.events = null;
    this.probing = false;
  }

  async start() {
    this.registerWorker();
    if ('serviceWorker' in navigator) {
      navigator.serviceWorker.addEventListener('message', (e) => this.onWorkerMessage(e.data));
    }
    const open = new URLSearchParams(location.search).get('open');
    if (open) this.pendingOpen = open;
    try {
      const resp = await fetch('/open/info', { cache: 'no-store', headers: { Accept: 'application/json' } });
      const info = resp.ok && (resp.headers.get('Content-Type') || '').startsWith('application/json') ? await resp.json() : null;
      if (info && info.labchat === 'open') this.startLocal(info);
    } catch { /* the server's own web port, or offline */ }
    if (!this.local && !(await this.reachable())) this.serverDown(); // the shell came from the cache
  }

  registerWorker() {
    if (!('serviceWorker' in navigator) || !globalThis.isSecureContext) return;
    navigator.serviceWorker.register('sw.js').catch((err) => console.warn('labchat: no service worker:', err));
  }

  // ---- labchat open ----

  startLocal(info) {
    this.local = info;
    document.body.classList.add('local-app');
    for (const b of document.querySelectorAll('.quit-app')) {
      b.hidden = false;
      b.onclick = () => this.quit();
    }
    this.events = new EventSource('/open/events');
    this.events.onmessage = (e) => this.onCommand(e.data);
    this.report(true);
  }

  onCommand(cmd) {
    const app = this.app;
    switch (cmd) {
      case 'away': if (app.mode === 'chat') app.setAway(app.t('awayDefault')); break;
      case 'back': if (app.mode === 'chat') app.setAway(''); break;
      case 'mute': if (app.sounds.enabled) app.toggleSound(); break;
      case 'unmute': if (!app.sounds.enabled) app.toggleSound(); break;
      case 'focus': globalThis.focus(); break;
      case 'quit': this.quitted(); break;
    }
    this.report();
  }

  async quit() {
    try { await fetch('/open/quit', { method: 'POST' }); } catch { /* gone already */ }
    this.quitted();
  }

  quitted() {
    if (this.events) this.events.close();
    this.events = null;
    const app = this.app;
    if (app.client) app.client.quit('labchat closed');
    app.client = null;
    app.stopAllCalls();
    app.mode = 'quit'; // nothing renders any more
    this.local = null; // nor reports
    for (const id of ['login-screen', 'chat-screen']) document.getElementById(id).hidden = true;
    document.body.append(Object.assign(document.createElement('p'), { className: 'quit-note', textContent: app.t('quitDone') }));
    globalThis.close(); // closes an app window the page opened; others stay with the note
  }

  // state is what the tray shows: attention counts unread DMs and mentions, and ringing calls.
  state() {
    const app = this.app;
    const st = app.state;
    let attention = 0;
    let from = '';
    let newest = 0;
    if (app.mode === 'chat') {
      for (const c of st.convs.values()) {
        if (c.muted || !c.unread || !(c.kind === 'dm' || c.mention)) continue;
        attention++;
        const at = c.last ? c.last.time || 0 : 0;
        if (at >= newest) { newest = at; from = c.kind === 'dm' ? c.name : (c.last && c.last.from) || c.name; }
      }
      const ringing = st.ringingCalls();
      if (ringing.length) { attention += ringing.length; from = ringing[0].peer; }
    }
    return {
      connected: !!(app.client && app.client.connected),
      loggedIn: app.mode === 'chat',
      away: !!st.me.away,
      unread: app.mode === 'chat' ? st.totalUnread() : 0,
      attention,
      from,
      muted: !app.sounds.enabled,
    };
  }

  // report sends the state to labchat open when it changed (at most every 100 ms).
  report(now = false) {
    if (!this.local) return;
    if (this.reportTimer && !now) return;
    clearTimeout(this.reportTimer);
    this.reportTimer = setTimeout(() => {
      this.reportTimer = null;
      const body = JSON.stringify(this.state());
      if (body === this.reported) return;
      this.reported = body;
      fetch('/open/state', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body })
        .catch(() => { this.reported = ''; });
    }, now ? 0 : 100);
  }

  // ---- the badge ----

  setBadge(n) {
    if (n === this.badge) return;
    this.badge = n;
    try {
      if (n > 0 && navigator.setAppBadge) navigator.setAppBadge(n).catch(() => {});
      else if (n === 0 && navigator.clearAppBadge) navigator.clearAppBadge().catch(() => {});
    } catch { /* no Badging API */ }
  }

  // ---- notifications ----

  onWorkerMessage(msg) {
    if (!msg || msg.type !== 'notificationclick') return;
    globalThis.focus();
    const d = msg.data || {};
    // Before the login (a reload, the login screen) the conversation opens once logged in.
    if (d.open && this.app.mode === 'chat') this.app.open(d.open);
    else if (d.open) this.pendingOpen = d.open;
    if (d.ring) this.app.showRing();
  }

  // ---- offline ----

  // serverDown shows "labchat cannot reach the server; retrying…" on the login screen and
  // asks again every few seconds until the server answers.
  serverDown() {
    const banner = document.getElementById('offline-banner');
    if (!banner || this.probing) return;
    banner.textContent = this.app.t('offlineRetrying');
    banner.hidden = false;
    this.probing = true;
    const probe = async () => {
      if (await this.reachable()) {
        banner.hidden = true;
        this.probing = false;
        return;
      }
      setTimeout(probe, probeEvery);
    };
    setTimeout(probe, probeEvery);
  }

  // reachable asks the chat server (through labchat open, or the web port) whether it is up.
  async reachable() {
    try {
      const resp = await fetch('manifest.webmanifest?probe=' + Date.now(), { cache: 'no-store' });
      if (!resp.ok) return false;
    } catch { return false; }
    if (!this.local) return true; // the web port answered: the chat server is up
    return new Promise((resolve) => {
      let ws;
      try { ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/'); } catch { resolve(false); return; }
      const done = (ok) => { ws.onopen = ws.onclose = ws.onerror = null; try { ws.close(); } catch { /* closed */ } resolve(ok); };
      ws.onopen = () => done(true);
      ws.onclose = () => done(false);
      ws.onerror = () => done(false);
    });
  }
}

// notifyVia shows a desktop notification from the page (its click handler focuses the tab
// and opens the conversation), or, where pages may not make notifications (Android, some
// installed apps), through the service worker, whose click handler does the same with
// data.open.
export async function notifyVia(pageNotify, title, body, tag, onclick, data = {}) {
  const shown = pageNotify(title, body, tag, onclick);
  if (shown) return shown;
  const N = globalThis.Notification;
  if (!N || N.permission !== 'granted' || !('serviceWorker' in navigator) || !navigator.serviceWorker.controller) return null;
  try {
    const reg = await navigator.serviceWorker.ready;
    await reg.showNotification(title, { body, tag, renotify: !!tag, data, icon: 'icons/icon-192.png', badge: 'icons/icon-192.png' });
    return true;
  } catch {
    return null;
  }
}
