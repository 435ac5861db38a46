// The service worker: it makes labchat an installable app that opens without the network.
// It keeps the app shell (the page, its scripts, styles and icons) and nothing else: chat
// data travels over the WebSocket, which a service worker never sees, and the /open/ API of
// labchat open is always asked live. Every shell file is fetched from the network first and
// the cache is only the fallback, so a new labchat binary's files are used at once (never a
// stale script beside a new page). A page that cannot be fetched or found in the cache gets
// offline.html ("labchat cannot reach the server; retrying…"), which reloads once it can.
//
// Clicking one of its notifications focuses labchat's window (opening one if none is open)
// and asks the page to open the notification's conversation.

const CACHE = 'labchat-shell-v1';

// SHELL is every file of the app; web_test.go checks it against the embedded files.
const SHELL = [
  './', // index.html: the server redirects /index.html to / (a redirected answer cannot serve a page)
  'offline.html',
  'offline.js',
  'style.css',
  'main.js',
  'manifest.webmanifest',
  'favicon.svg',
  'favicon-unread.svg',
  'icons/icon-192.png',
  'icons/icon-512.png',
  'icons/icon-maskable-512.png',
  'lib/client.js',
  'lib/commands.js',
  'lib/files.js',
  'lib/i18n.js',
  'lib/irc.js',
  'lib/numerics.js',
  'lib/rtc.js',
  'lib/state.js',
  'lib/store.js',
  'ui/alerts.js',
  'ui/call.js',
  'ui/chat.js',
  'ui/desktop.js',
  'ui/dialogs.js',
  'ui/dom.js',
  'ui/files.js',
  'ui/login.js',
];

const shellURLs = new Set(SHELL.map((p) => new URL(p, self.registration.scope).href));

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  url.search = ''; // the shell's files take no query; a probe (?probe=...) is never cached
  const isShell = shellURLs.has(url.href) && new URL(req.url).search === '';
  if (req.mode === 'navigate') {
    event.respondWith(navigate(req, isShell));
  } else if (isShell) {
    event.respondWith(networkFirst(req));
  }
  // Anything else (the /open/ API, probes) goes to the network untouched.
});

async function networkFirst(req) {
  const cache = await caches.open(CACHE);
  try {
    const resp = await fetch(req);
    if (resp.ok) await cache.put(req, resp.clone());
    return resp;
  } catch (err) {
    const hit = await cache.match(req, { ignoreSearch: true });
    if (hit) return hit;
    throw err;
  }
}

async function navigate(req, isShell) {
  const cache = await caches.open(CACHE);
  try {
    const resp = await fetch(req);
    if (resp.ok && isShell) await cache.put(req, resp.clone());
    return resp;
  } catch {
    const url = new URL(req.url);
    const shell = url.pathname === new URL(self.registration.scope).pathname ? await cache.match('./') : null;
    return shell || (await cache.match('offline.html')) ||
      new Response('labchat cannot reach the server; retrying…', { status: 503, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
  }
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(openFromNotification(event.notification.data || {}));
});

// openFromNotification brings labchat's window forward on the notification's conversation,
// or opens a window on it when none is open. The page is told before focus() is asked: a
// browser may refuse focus (it allows it only while handling the user's click), and the
// conversation must open all the same; the page also focuses itself.
async function openFromNotification(data) {
  const wins = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const win = wins.find((w) => w.focused) || wins[0];
  if (win) {
    win.postMessage({ type: 'notificationclick', data });
    try { await win.focus(); } catch { /* refused: the page's own focus() is the fallback */ }
    return;
  }
  const q = data.open ? '?open=' + encodeURIComponent(data.open) : '';
  await self.clients.openWindow(new URL('./' + q, self.registration.scope).href);
}
