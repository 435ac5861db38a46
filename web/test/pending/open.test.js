// `labchat open` against the page a lab PC gets from the server directly. Chromium maps the
// made-up name labserver.test to 127.0.0.1 (no DNS query leaves the machine), so the direct
// page is what a lab PC sees at http://SERVER:8080/: not a secure context. The same login
// through labchat open (a loopback page) gets a service worker, the microphone,
// notifications, the app badge and an installable manifest, and the tray's state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { chromium } from 'playwright-core';
import { webURL, ircAddr, bin, run, register, openConv, setHidden, shot, terminal, until } from './harness.js';

const webPort = new URL(webURL).port;
const directURL = `http://labserver.test:${webPort}/`;
const B = 'openbob' + run;
const C = 'opencarol' + run;

let open; // the labchat open process
let openURL;
const openDir = fs.mkdtempSync(path.join(os.tmpdir(), 'labchat-open-'));

// startOpen runs the real binary on a free port and waits for the URL it prints.
function startOpen() {
  const proc = spawn(bin, ['open', '--no-browser', '--no-tray', '--addr', '127.0.0.1:0', '--data-dir', openDir, ircAddr],
    { env: { ...process.env, LABCHAT_CONFIG: '', LABCHAT_DATA: '', BROWSER: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  proc.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('labchat open printed no URL; stderr: ' + stderr)), 15000);
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
// installable in an incognito context, which newContext is); the init script records the
// Badging API's calls and the page's notifications before any of the page's scripts run.
async function context(origin, { notifications = false } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'labchat-profile-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/lib/chromium/chromium',
    args: chromiumArgs,
    viewport: { width: 1100, height: 720 },
  });
  const close = ctx.close.bind(ctx);
  ctx.close = async () => { await close(); fs.rmSync(profile, { recursive: true, force: true }); };
  if (notifications) await ctx.grantPermissions(['notifications', 'microphone'], { origin });
  await ctx.addInitScript(() => {
    window.__badges = [];
    if (navigator.setAppBadge) {
      const set = navigator.setAppBadge.bind(navigator);
      const clear = navigator.clearAppBadge.bind(navigator);
      navigator.setAppBadge = (n) => { window.__badges.push(n); return set(n); };
      navigator.clearAppBadge = () => { window.__badges.push(0); return clear(); };
    }
    window.__notifications = [];
    const N = window.Notification;
    if (N) {
      window.Notification = class extends N {
        constructor(title, opts) { super(title, opts); window.__notifications.push({ title, body: opts && opts.body }); }
      };
    }
  });
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e));
  return { ctx, page };
}

// powers is what the page may use: the things a plain-HTTP lab page lacks.
function powers(page) {
  return page.evaluate(async () => {
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
  });
}

async function openInfo() {
  const resp = await fetch(openURL + 'open/info');
  return resp.json();
}

before(async () => {
  ({ proc: open, url: openURL } = await startOpen());
});

after(async () => {
  if (open && open.exitCode === null) open.kill('SIGINT');
  fs.rmSync(openDir, { recursive: true, force: true });
});

test('the direct page of a lab server is not a secure context', async () => {
  const { ctx, page } = await context(new URL(directURL).origin, { notifications: false });
  try { await ctx.grantPermissions(['notifications'], { origin: new URL(directURL).origin }); } catch { /* refused: as expected */ }
  await page.goto(directURL);
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

test('through labchat open: secure, installable, notifications, badge and the tray state', async () => {
  const { ctx, page } = await context(new URL(openURL).origin, { notifications: true });
  await page.goto(openURL);
  const p = await powers(page);
  assert.equal(p.secure, true);
  assert.equal(p.serviceWorker, true);
  assert.equal(p.badge, true);
  assert.equal(p.microphone, true, 'the microphone works: ' + p.microphone);
  assert.equal(p.notification, 'granted');
  const scope = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope);
  assert.equal(scope, openURL);
  const cdp = await ctx.newCDPSession(page);
  await until('the manifest to be read', async () => {
    const m = await cdp.send('Page.getAppManifest');
    return m.url && m.errors.length === 0 && m.data;
  });
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  assert.deepEqual(installabilityErrors, [], 'Chromium finds the app installable');
  assert.ok(await page.locator('#login-quit').isVisible(), 'the login screen offers Quit');

  await register(page, B); // through the bridge: the account is made on the real server
  await until('the page to report it is logged in', async () => (await openInfo()).state.loggedIn);
  assert.equal((await openInfo()).state.attention, 0);

  // A DM while the window is in the background: a notification, the badge, the tray state.
  await setHidden(page, true);
  const carol = terminal(C, { to: B });
  try {
    carol.send('psst, are you there?');
    await page.waitForFunction((from) => window.__notifications.some((n) => n.title.includes(from)), C, { timeout: 15000 });
    await page.waitForFunction(() => window.__badges.includes(1));
    await until('the tray state to show the DM', async () => {
      const st = (await openInfo()).state;
      return st.attention === 1 && st.unread === 1 && st.from.toLowerCase() === C;
    });
    await shot(page, 'open-dm-unread');
    // Read: the badge is cleared and the tray stops flashing.
    await setHidden(page, false);
    await openConv(page, C);
    await page.waitForFunction(() => window.__badges.at(-1) === 0);
    await until('the tray state to show it read', async () => (await openInfo()).state.attention === 0);
  } finally {
    await carol.close();
  }

  // The tray's commands reach the page: Set away from the menu, as open/events sends it.
  // (The tray itself is tested over D-Bus in open_tray_test.go.)
  assert.equal(await page.evaluate(() => !!window.labchat.state.me.away), false);

  // Nothing but the app shell is cached: no chat data, no API answers.
  const cached = await page.evaluate(async () => (await (await caches.open('labchat-shell-v1')).keys()).map((r) => r.url));
  assert.ok(cached.length >= 10, 'the shell is cached: ' + cached.join(' '));
  for (const u of cached) {
    assert.ok(!u.includes('/open/') && !u.includes('?'), 'only shell files are cached, not ' + u);
  }

  // Quit from the app ends labchat open; the installed app still opens from the cache and
  // says that it cannot reach the server.
  await page.click('#quit-btn');
  assert.equal(await open.exited, 0, 'labchat open exits 0 on Quit');
  await page.waitForSelector('.quit-note');
  await page.goto(openURL);
  await page.waitForSelector('#login-form');
  await page.waitForFunction(() => {
    const b = document.getElementById('offline-banner');
    return b && !b.hidden && b.textContent.includes('labchat cannot reach the server; retrying');
  }, null, { timeout: 15000 });
  await shot(page, 'open-offline-shell');
  await page.goto(openURL + 'no/such/page');
  await page.waitForSelector('#offline-text');
  assert.match(await page.textContent('#offline-text'), /labchat cannot reach the server; retrying/);
  assert.deepEqual(page.errors.map(String), []);
  await ctx.close();
});

test('the server\'s own web port is an installable app too (on a secure origin)', async () => {
  const { ctx, page } = await context(new URL(webURL).origin);
  await page.goto(webURL);
  await page.evaluate(() => navigator.serviceWorker.ready);
  const cdp = await ctx.newCDPSession(page);
  await until('the manifest to be read', async () => (await cdp.send('Page.getAppManifest')).data);
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  assert.deepEqual(installabilityErrors, []);
  const manifest = await (await fetch(webURL + 'manifest.webmanifest')).json();
  assert.equal(manifest.display, 'standalone');
  assert.ok(manifest.icons.some((i) => i.purpose === 'maskable'));
  for (const i of manifest.icons) {
    const resp = await fetch(new URL(i.src, webURL));
    assert.equal(resp.headers.get('content-type'), 'image/png', i.src);
  }
  await ctx.close();
});
