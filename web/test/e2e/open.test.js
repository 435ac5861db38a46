// `labchat open` against the page a lab PC gets from the server directly. Chromium maps the
// made-up name labserver.test to 127.0.0.1 (no DNS query leaves the machine), so the direct
// page is what a lab PC sees at http://SERVER:8080/: not a secure context. The same login
// through labchat open (a loopback page) gets a service worker, the microphone,
// notifications (clicking one opens its conversation; missed calls have one), the app badge
// and an installable manifest, and the tray's state; after Quit the installed app still opens
// from the service worker's cache and says that it cannot reach the server.
//
// Every wait has a deadline and says what it waited for, and every browser and child process
// is closed in after() even when a test failed: a browser left open would keep node from
// ever reporting (web_test.go kills what is left, but the report is what says why).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { chromium } from 'playwright-core';
import { webURL, ircAddr, bin, run, register, openConv, openDM, setHidden, shot, terminal, until, launch, user } from './harness.js';

const webPort = new URL(webURL).port;
const directURL = `http://labserver.test:${webPort}/`;
const B = 'openbob' + run;
const C = 'opencarol' + run;
const D = 'opendan' + run;
const E = 'openeve' + run;
const callTimeout = 3000; // the ring runs out after 3 s in these tests (settings: callTimeout)

let open; // the labchat open process
let openURL;
let bob; // bob's app window through labchat open, shared by the tests in order
const openDir = fs.mkdtempSync(path.join(os.tmpdir(), 'labchat-open-'));
const contexts = new Set(); // every browser context still open, closed in after()
let callerBrowser; // dan's browser on the server's own web port

// within fails with what was awaited when promise takes longer than ms: page.evaluate,
// fetch, CDP calls and process exits have no deadline of their own.
async function within(what, promise, ms = 15000) {
  let timer;
  const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms); });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

// startOpen runs the real binary on a free port and waits for the URL it prints.
function startOpen() {
  const proc = spawn(bin, ['open', '--no-browser', '--no-tray', '--addr', '127.0.0.1:0', '--data-dir', openDir, ircAddr],
    { env: { ...process.env, LABCHAT_CONFIG: '', LABCHAT_DATA: '', BROWSER: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  proc.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  proc.stderrText = () => stderr;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('labchat open printed no URL; stderr: ' + stderr)), 15000);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`labchat open exited (${code}) before printing its URL; stderr: ${stderr}`)); });
    readline.createInterface({ input: proc.stdout }).once('line', (line) => {
      clearTimeout(timer);
      const m = /^labchat open: (http:\/\/127\.0\.0\.1:\d+\/) /.exec(line);
      if (!m) reject(new Error('labchat open printed ' + line));
      else resolve({ proc, url: m[1] });
    });
  });
}

const chromiumArgs = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--host-resolver-rules=MAP labserver.test 127.0.0.1',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];

// context opens a person's browser with a profile of its own (Chromium never finds an app
// installable in an incognito context, which newContext is); the init script sets the
// client's settings and records the Badging API's calls, the page's notifications (the
// objects too, to click them) and window.focus() before any of the page's scripts run.
// window.__pageNotificationsFail makes `new Notification` throw, as it does in an installed
// app on some systems, where the client falls back to the service worker's notifications.
async function context(origin, { notifications = false } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'labchat-profile-'));
  const ctx = await within('Chromium to start', chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/lib/chromium/chromium',
    args: chromiumArgs,
    viewport: { width: 1100, height: 720 },
  }), 30000);
  contexts.add(ctx);
  const close = ctx.close.bind(ctx);
  ctx.close = async () => {
    contexts.delete(ctx);
    await within('the browser to close', close());
    fs.rmSync(profile, { recursive: true, force: true });
  };
  if (notifications) await ctx.grantPermissions(['notifications', 'microphone'], { origin });
  await ctx.addInitScript((callTimeout) => {
    if (localStorage.getItem('labchat.v1.callTimeout') === null) localStorage.setItem('labchat.v1.callTimeout', JSON.stringify(callTimeout));
    window.__badges = [];
    if (navigator.setAppBadge) {
      const set = navigator.setAppBadge.bind(navigator);
      const clear = navigator.clearAppBadge.bind(navigator);
      navigator.setAppBadge = (n) => { window.__badges.push(n); return set(n); };
      navigator.clearAppBadge = () => { window.__badges.push(0); return clear(); };
    }
    window.__focused = 0;
    const focus = window.focus.bind(window);
    window.focus = () => { window.__focused++; return focus(); };
    window.__notifications = [];
    window.__notificationObjects = [];
    window.__workerNotifications = []; // the service worker's, as the page asks for them
    if (globalThis.ServiceWorkerRegistration) {
      const show = ServiceWorkerRegistration.prototype.showNotification;
      ServiceWorkerRegistration.prototype.showNotification = function (title, opts) {
        const rec = { title, at: Date.now() };
        window.__workerNotifications.push(rec);
        return show.call(this, title, opts).then(() => { rec.ok = Date.now(); }, (e) => { rec.error = String(e); throw e; });
      };
    }
    const N = window.Notification;
    if (N) {
      window.Notification = class extends N {
        constructor(title, opts) {
          if (window.__pageNotificationsFail) throw new TypeError("Failed to construct 'Notification': Illegal constructor");
          super(title, opts);
          window.__notifications.push({ title, body: opts && opts.body });
          window.__notificationObjects.push(this);
        }
      };
    }
  }, callTimeout);
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e));
  return { ctx, page };
}

// powers is what the page may use: the things a plain-HTTP lab page lacks.
function powers(page) {
  return within('the page to report its powers (Notification.requestPermission, getUserMedia)', page.evaluate(async () => {
    const out = {
      secure: window.isSecureContext,
      serviceWorker: 'serviceWorker' in navigator,
      mediaDevices: !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia),
      badge: typeof navigator.setAppBadge === 'function',
      notification: globalThis.Notification ? await Notification.requestPermission() : 'none',
      microphone: false,
    };
    if (out.mediaDevices) {
      try {
        const s = await navigator.mediaDevices.getUserMedia({ audio: true });
        out.microphone = s.getAudioTracks().length > 0;
        s.getTracks().forEach((t) => t.stop());
      } catch (e) { out.microphone = String(e); }
    }
    return out;
  }));
}

async function openInfo() {
  const resp = await fetch(openURL + 'open/info', { signal: AbortSignal.timeout(5000) });
  return resp.json();
}

// notified waits for a desktop notification whose title matches re.
function notified(page, re, what) {
  return page.waitForFunction((src) => window.__notifications.some((n) => new RegExp(src).test(n.title)), re.source, { timeout: 15000 })
    .catch((e) => { throw new Error(`no notification for ${what} (${re}): ${e.message}`); });
}

// clickNotification clicks the page's newest notification whose title matches re, as the
// desktop does when the student clicks it (headless Chromium shows none to click).
async function clickNotification(page, re) {
  const clicked = await page.evaluate((src) => {
    const n = window.__notificationObjects.findLast((x) => new RegExp(src).test(x.title));
    if (!n) return false;
    n.dispatchEvent(new Event('click'));
    return true;
  }, re.source);
  assert.ok(clicked, 'a notification to click: ' + re);
}

// showsConv waits until the page shows conversation key.
function showsConv(page, key, why) {
  return page.waitForFunction((k) => window.labchat.state.active === k, key, { timeout: 10000 })
    .catch(async (e) => { throw new Error(`${why}: the page shows ${await page.evaluate(() => window.labchat.state.active)}, not ${key} (${e.message})`); });
}

before(async () => {
  ({ proc: open, url: openURL } = await startOpen());
});

after(async () => {
  for (const ctx of [...contexts]) await ctx.close().catch(() => {});
  await callerBrowser?.close().catch(() => {});
  if (open && open.exitCode === null) {
    open.kill('SIGINT');
    const killer = setTimeout(() => open.kill('SIGKILL'), 5000);
    await open.exited;
    clearTimeout(killer);
  }
  fs.rmSync(openDir, { recursive: true, force: true });
});

test('the direct page of a lab server is not a secure context', async () => {
  const { ctx, page } = await context(new URL(directURL).origin, { notifications: false });
  try { await ctx.grantPermissions(['notifications'], { origin: new URL(directURL).origin }); } catch { /* refused: as expected */ }
  const resp = await page.goto(directURL);
  assert.equal(resp.status(), 200, 'the server answers to the name the students type (server.web_hosts)');
  const p = await powers(page);
  assert.equal(p.secure, false);
  assert.equal(p.serviceWorker, false, 'no service worker');
  assert.equal(p.mediaDevices, false, 'no microphone');
  assert.equal(p.badge, false, 'no app badge');
  assert.notEqual(p.notification, 'granted', 'no notification permission');
  await register(page, 'directuser' + run); // the page itself works
  assert.deepEqual(page.errors.map(String), []);
  await ctx.close();
});

test('through labchat open: secure, installable, a notification for a DM that opens it, the badge and the tray state', async () => {
  bob = await context(new URL(openURL).origin, { notifications: true });
  const { ctx, page } = bob;
  await page.goto(openURL);
  const p = await powers(page);
  assert.equal(p.secure, true);
  assert.equal(p.serviceWorker, true);
  assert.equal(p.badge, true);
  assert.equal(p.microphone, true, 'the microphone works: ' + p.microphone);
  assert.equal(p.notification, 'granted');
  const scope = await within('the service worker to be ready', page.evaluate(async () => (await navigator.serviceWorker.ready).scope));
  assert.equal(scope, openURL);
  const cdp = await ctx.newCDPSession(page);
  await until('the manifest to be read', async () => {
    const m = await within('CDP Page.getAppManifest', cdp.send('Page.getAppManifest'));
    return m.url && m.errors.length === 0 && m.data;
  });
  const { installabilityErrors } = await within('CDP Page.getInstallabilityErrors', cdp.send('Page.getInstallabilityErrors'));
  assert.deepEqual(installabilityErrors, [], 'Chromium finds the app installable');
  assert.ok(await page.locator('#login-quit').isVisible(), 'the login screen offers Quit');

  await register(page, B); // through the bridge: the account is made on the real server
  await until('the page to report it is logged in', async () => (await openInfo()).state.loggedIn);
  assert.equal((await openInfo()).state.attention, 0);
  const before = await page.evaluate(() => window.labchat.state.active);
  assert.notEqual(before, C);

  // A DM while the window is in the background: a notification, the badge, the tray state.
  await setHidden(page, true);
  const carol = terminal(C, { to: B });
  try {
    carol.send('psst, are you there?');
    await notified(page, new RegExp('Message from ' + C), 'the DM');
    await page.waitForFunction(() => window.__badges.includes(1), null, { timeout: 10000 });
    await until('the tray state to show the DM', async () => {
      const st = (await openInfo()).state;
      return st.attention === 1 && st.unread === 1 && st.from.toLowerCase() === C;
    });
    await shot(page, 'open-dm-unread');
    // Clicking the notification brings the window forward on carol's conversation; once the
    // window is in front it is read: the badge is cleared and the tray stops flashing.
    const focusedBefore = await page.evaluate(() => window.__focused);
    await clickNotification(page, new RegExp('Message from ' + C));
    await showsConv(page, C, 'clicking the DM\'s notification opens it');
    assert.ok(await page.evaluate((n) => window.__focused > n, focusedBefore), 'clicking the notification focuses the window');
    await setHidden(page, false);
    await page.waitForFunction(() => window.__badges.at(-1) === 0, null, { timeout: 10000 });
    await until('the tray state to show it read', async () => (await openInfo()).state.attention === 0);
  } finally {
    await carol.close();
  }
  assert.deepEqual(page.errors.map(String), []);
});

test('a notification shown by the service worker opens its conversation when clicked', async () => {
  assert.ok(bob, 'the previous test opened bob\'s window');
  const { ctx, page } = bob;
  await openConv(page, '#lobby');
  // As in an installed app where pages may not make notifications: the client shows the
  // DM's notification through the service worker, with the conversation in its data. (Eve,
  // not carol: a conversation whose page notification was shown before shares its tag.)
  await page.evaluate(() => { window.__pageNotificationsFail = true; });
  await setHidden(page, true);
  const eve = terminal(E, { to: B });
  const worker = () => ctx.serviceWorkers().at(-1); // the running one, should it have restarted
  try {
    eve.send('through the worker');
    let shown = [];
    let listed = [];
    await until('the service worker to show the DM\'s notification', async () => {
      listed = await within('the page to list the worker\'s notifications', page.evaluate(async () =>
        (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => ({ title: n.title, data: n.data }))));
      shown = worker() ? await within('the service worker to list its notifications', worker().evaluate(async () =>
        (await self.registration.getNotifications()).map((n) => ({ title: n.title, data: n.data })))) : [];
      return shown.some((n) => n.title.includes(E));
    }, 15000).catch(async (e) => {
      const seen = await page.evaluate((k) => {
        const c = window.labchat.state.find(k);
        return { controller: !!navigator.serviceWorker.controller, permission: Notification.permission, unread: c && c.unread,
          last: c && c.last && c.last.text, pageNotifications: window.__notifications.slice(-3), workerNotifications: window.__workerNotifications, now: Date.now() };
      }, E);
      throw new Error(`${e.message}; the worker lists ${JSON.stringify(shown)}, the page lists ${JSON.stringify(listed)}; the page: ${JSON.stringify(seen)}; workers: ${ctx.serviceWorkers().length}`);
    });
    assert.deepEqual(shown.find((n) => n.title.includes(E)).data, { open: E });
    // The desktop's click, as a notificationclick event in the service worker (headless
    // Chromium shows no notification to click, and a script's event may not focus a window:
    // the worker tells the page first, which focuses itself).
    const focusedBefore = await page.evaluate(() => window.__focused);
    await within('the service worker to dispatch the click', worker().evaluate(async (who) => {
      const n = (await self.registration.getNotifications()).find((x) => x.title.includes(who));
      self.dispatchEvent(new NotificationEvent('notificationclick', { notification: n }));
    }, E));
    await showsConv(page, E, 'the service worker\'s notificationclick opens the DM');
    assert.ok(await page.evaluate((n) => window.__focused > n, focusedBefore), 'the page focuses itself');
    await until('the clicked notification to be closed', async () =>
      (await worker().evaluate(async (who) => (await self.registration.getNotifications()).filter((x) => x.title.includes(who)).length, E)) === 0);
  } finally {
    await page.evaluate(() => { window.__pageNotificationsFail = false; });
    await setHidden(page, false);
    await eve.close();
  }
});

test('missed calls: hung up before the answer, and rung out; each has a notification that opens the caller', async () => {
  assert.ok(bob, 'the previous test opened bob\'s window');
  const { page } = bob;
  callerBrowser = await launch();
  const dan = await user(callerBrowser, { settings: { callTimeout: 60000 } }); // dan's calls ring until bob's side runs out
  await register(dan.page, D);
  await openDM(dan.page, B);
  await openConv(page, '#lobby');
  await setHidden(page, true);

  // Dan rings and hangs up before bob answers: the tray flashes while it rings.
  await dan.page.click('#call-btn');
  await dan.page.locator('#call-bar [data-call-state="calling"]').waitFor({ timeout: 10000 });
  await notified(page, new RegExp(D + ' is calling you'), 'the ringing call');
  await until('the tray state to show the ringing call', async () => {
    const st = (await openInfo()).state;
    return st.attention >= 1 && st.from.toLowerCase() === D;
  });
  await dan.page.click('#hangup');
  await notified(page, new RegExp('Missed call from ' + D), 'the call hung up before the answer');
  const missed = () => page.evaluate((k) => window.labchat.state.find(k).messages.filter((m) => m.kind === 'call' && m.call.state === 'missed').length, D);
  await until('the first missed call to be in dan\'s conversation', async () => (await missed()) === 1);

  // Dan rings again and nobody answers: bob's ring runs out (callTimeout), a missed call.
  const before = await page.evaluate(() => window.__notifications.length);
  await dan.page.click('#call-btn');
  await page.waitForFunction((n) => window.__notifications.length > n, before, { timeout: 10000 });
  await page.waitForFunction((src) => window.__notifications.filter((n) => new RegExp(src).test(n.title)).length >= 2,
    'Missed call from ' + D, { timeout: callTimeout + 10000 });
  await until('the second missed call to be in dan\'s conversation', async () => (await missed()) === 2);
  await dan.page.click('#hangup').catch(() => {}); // dan's side still rings: stop it

  // Clicking the missed-call notification opens the conversation with the caller.
  await clickNotification(page, new RegExp('Missed call from ' + D));
  await showsConv(page, D, 'clicking the missed call\'s notification opens the caller');
  await setHidden(page, false);
  await page.locator('#messages .call-entry[data-call="missed"]').nth(1).waitFor({ timeout: 10000 });
  await until('the tray to stop flashing once the missed calls are seen', async () => (await openInfo()).state.attention === 0);
  await shot(page, 'open-missed-calls');
  assert.deepEqual(page.errors.map(String), []);
  assert.deepEqual(dan.page.errors.map(String), []);
  await callerBrowser.close();
  callerBrowser = null;
});

test('Quit ends labchat open; the installed app then opens from the cache and says it cannot reach the server', async () => {
  assert.ok(bob, 'the previous test opened bob\'s window');
  const { ctx, page } = bob;
  // Nothing but the app shell is cached: no chat data, no API answers.
  const cached = await within('the shell cache to be listed', page.evaluate(async () => (await (await caches.open('labchat-shell-v1')).keys()).map((r) => r.url)));
  assert.ok(cached.length >= 10, 'the shell is cached: ' + cached.join(' '));
  for (const u of cached) {
    assert.ok(!u.includes('/open/') && !u.includes('?'), 'only shell files are cached, not ' + u);
  }

  await page.click('#quit-btn');
  assert.equal(await within('labchat open to exit after Quit', open.exited), 0, 'labchat open exits 0 on Quit; stderr: ' + open.stderrText());
  await page.waitForSelector('.quit-note', { timeout: 10000 });
  await page.goto(openURL);
  await page.waitForSelector('#login-form', { timeout: 15000 });
  await page.waitForFunction(() => {
    const b = document.getElementById('offline-banner');
    return b && !b.hidden && b.textContent.includes('labchat cannot reach the server; retrying');
  }, null, { timeout: 15000 }).catch((e) => { throw new Error('the cached shell shows no offline banner (is every module of the client in sw.js SHELL?): ' + e.message); });
  await shot(page, 'open-offline-shell');
  await page.goto(openURL + 'no/such/page');
  await page.waitForSelector('#offline-text', { timeout: 15000 });
  assert.match(await page.textContent('#offline-text'), /labchat cannot reach the server; retrying/);
  assert.deepEqual(page.errors.map(String), []);
  await ctx.close();
});

test('the server\'s own web port is an installable app too (on a secure origin)', async () => {
  const { ctx, page } = await context(new URL(webURL).origin);
  await page.goto(webURL);
  await within('the service worker to be ready', page.evaluate(() => navigator.serviceWorker.ready));
  const cdp = await ctx.newCDPSession(page);
  await until('the manifest to be read', async () => (await within('CDP Page.getAppManifest', cdp.send('Page.getAppManifest'))).data);
  const { installabilityErrors } = await within('CDP Page.getInstallabilityErrors', cdp.send('Page.getInstallabilityErrors'));
  assert.deepEqual(installabilityErrors, []);
  const manifest = await (await fetch(webURL + 'manifest.webmanifest', { signal: AbortSignal.timeout(5000) })).json();
  assert.equal(manifest.display, 'standalone');
  assert.ok(manifest.icons.some((i) => i.purpose === 'maskable'));
  for (const i of manifest.icons) {
    const resp = await fetch(new URL(i.src, webURL), { signal: AbortSignal.timeout(5000) });
    assert.equal(resp.headers.get('content-type'), 'image/png', i.src);
  }
  await ctx.close();
});
