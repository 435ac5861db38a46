// Shared set-up of the browser tests: Debian's Chromium driven by playwright-core, users
// as browser contexts, a terminal user as the real `labchat connect` binary, waits with
// deadlines (never sleeps), and screenshots saved as test artifacts.
//
// The Go test (web_test.go) starts the real server and passes, in the environment:
//   LABCHAT_WEB_URL      the web port's URL (the client and IRC over WebSocket)
//   LABCHAT_IRC_ADDR     the TCP IRC address, for `labchat connect` users
//   LABCHAT_TURN_ADDR    the server's TURN relay (UDP); GET <LABCHAT_CONTROL_URL>/turn is
//                        the bytes it has relayed
//   LABCHAT_BIN          the labchat binary
//   LABCHAT_CONTROL_URL  POST <url>/restart restarts the server on the same ports
//   LABCHAT_ARTIFACTS    where screenshots go
//   LABCHAT_SERVER_DIR   the server's own data directory (to see an offline message stored)
//   POST <LABCHAT_CONTROL_URL>/stop and /start stop the server and start it again
//   CHROMIUM             the browser (default /usr/lib/chromium/chromium)

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

export const webURL = process.env.LABCHAT_WEB_URL;
export const ircAddr = process.env.LABCHAT_IRC_ADDR;
export const bin = process.env.LABCHAT_BIN;
export const controlURL = process.env.LABCHAT_CONTROL_URL;
export const serverDir = process.env.LABCHAT_SERVER_DIR;
export const artifacts = process.env.LABCHAT_ARTIFACTS || path.resolve('web/test/artifacts');

if (!webURL) throw new Error('LABCHAT_WEB_URL is not set: run these tests through go test -run TestBrowser');

// A unique suffix keeps accounts and rooms of one run apart from earlier runs on the same
// data directory.
export const run = Date.now().toString(36).slice(-5);

// launch starts Chromium; args adds flags (the voice scenarios' fake media devices).
export async function launch({ args = [] } = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/lib/chromium/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required', ...args],
  });
}

// user opens a browser context (one person) on the client. init runs before the page's
// scripts: settings (short timeouts for tests) go into localStorage there.
export async function user(browser, { locale = 'en-US', viewport = { width: 1200, height: 780 }, colorScheme = 'light', settings = {}, notifications = false, init = null } = {}) {
  const ctx = await browser.newContext({ locale, viewport, colorScheme });
  if (notifications) await ctx.grantPermissions(['notifications'], { origin: new URL(webURL).origin });
  await ctx.addInitScript(({ settings }) => {
    for (const [k, v] of Object.entries(settings)) {
      if (localStorage.getItem('labchat.v1.' + k) === null) localStorage.setItem('labchat.v1.' + k, JSON.stringify(v));
    }
    // Record desktop notifications so a test can see that one was shown.
    window.__notifications = [];
    const N = window.Notification;
    if (N) {
      window.Notification = class extends N {
        constructor(title, opts) { super(title, opts); window.__notifications.push({ title, body: opts && opts.body }); }
      };
    }
  }, { settings });
  if (init) await ctx.addInitScript(init);
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e));
  await page.goto(webURL);
  return { ctx, page };
}

export async function register(page, name, password = 'secret-' + name) {
  await page.click('#tab-register');
  await page.fill('#login-account', name);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  await page.waitForSelector('#chat-screen:not([hidden])', { timeout: 15000 });
}

export async function login(page, name, password = 'secret-' + name) {
  await page.click('#tab-login');
  await page.fill('#login-account', name);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  await page.waitForSelector('#chat-screen:not([hidden])', { timeout: 15000 });
}

// say types a line into the composer and presses Enter.
export async function say(page, text) {
  await page.fill('#input', text);
  await page.press('#input', 'Enter');
}

export async function openConv(page, key) {
  await page.click(`#conv-list [data-conv="${key}"]`);
  await page.waitForFunction((k) => window.labchat.state.active === k, key);
}

// joinRoom uses the join dialog and waits until the room is open.
export async function joinRoom(page, room) {
  await page.click('#join-btn');
  await page.fill('#prompt-input', room);
  await page.click('#prompt-ok');
  await page.waitForFunction((k) => window.labchat.state.active === k && window.labchat.state.find(k)?.joined, room.toLowerCase(), { timeout: 10000 });
}

export async function openDM(page, nick) {
  await page.click('#dm-btn');
  await page.fill('#prompt-input', nick);
  await page.click('#prompt-ok');
  await page.waitForFunction((k) => window.labchat.state.active === k, nick.toLowerCase());
}

export function messageText(page, text) {
  return page.locator('#messages .msg .bubble', { hasText: text });
}

// setHidden makes the page behave as a hidden tab (another tab in front): headless pages
// are always "visible", so the client's visibility source is overridden.
export async function setHidden(page, hidden) {
  await page.evaluate((h) => {
    window.labchat.hiddenOverride = h ? true : null;
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

export async function shot(page, name) {
  fs.mkdirSync(artifacts, { recursive: true });
  const file = path.join(artifacts, name + '.png');
  await page.screenshot({ path: file, animations: 'disabled' });
  return file;
}

// terminal starts `labchat connect` in pipeline mode: stdin lines go to `to`, incoming
// messages come out as JSON lines. lines() waits for one that matches.
export function terminal(name, { to, register = true, password = 'secret-' + name } = {}) {
  if (!bin || !ircAddr) throw new Error('LABCHAT_BIN and LABCHAT_IRC_ADDR are needed for terminal users');
  const termDir = fs.mkdtempSync(path.join(os.tmpdir(), 'labchat-term-' + name + '-'));
  const args = ['connect', '--user', name, '--follow', '--json', '--no-bell', '--data-dir', termDir, ...(register ? ['--register'] : []), ...(to ? ['--to', to] : []), ircAddr];
  const proc = spawn(bin, args, { env: { ...process.env, LABCHAT_PASSWORD: password }, stdio: ['pipe', 'pipe', 'pipe'] });
  const seen = [];
  const waiters = [];
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  readline.createInterface({ input: proc.stdout }).on('line', (line) => {
    let ev;
    try { ev = JSON.parse(line); } catch { ev = { text: line }; }
    seen.push(ev);
    for (const w of [...waiters]) if (w.match(ev)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(ev); }
  });
  return {
    proc,
    send(line) { proc.stdin.write(line + '\n'); },
    waitFor(match, ms = 10000) {
      const found = seen.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { match, resolve };
        waiters.push(w);
        setTimeout(() => { if (waiters.includes(w)) reject(new Error('terminal ' + name + ' did not see the event; stderr: ' + stderr + ' seen: ' + JSON.stringify(seen.slice(-5)))); }, ms);
      });
    },
    async close() {
      proc.stdin.end();
      const done = new Promise((r) => proc.once('exit', r));
      setTimeout(() => proc.kill('SIGTERM'), 3000).unref();
      await done;
      fs.rmSync(termDir, { recursive: true, force: true });
    },
  };
}

async function control(what) {
  if (!controlURL) throw new Error('LABCHAT_CONTROL_URL is not set');
  const res = await fetch(controlURL + '/' + what, { method: 'POST' });
  if (!res.ok) throw new Error(what + ': ' + res.status + ' ' + (await res.text()));
}

export const restartServer = () => control('restart');
export const stopServer = () => control('stop');
export const startServer = () => control('start');

// until polls cond every 50 ms until it holds, failing after ms: for what only the file
// system shows, such as a stored offline message.
export async function until(what, cond, ms = 10000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// tmuxTerminal runs the interactive `labchat connect` in a detached tmux session, as a
// student at a terminal: keys() types a line, screen() is what the terminal shows.
export function tmuxTerminal(name, { register = true, password = 'secret-' + name } = {}) {
  if (!bin || !ircAddr) throw new Error('LABCHAT_BIN and LABCHAT_IRC_ADDR are needed for terminal users');
  const session = 'labchat-e2e-' + name;
  const termDir = fs.mkdtempSync(path.join(os.tmpdir(), 'labchat-tmux-' + name + '-'));
  const tmux = (...args) => new Promise((resolve, reject) => {
    const p = spawn('tmux', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error('tmux ' + args[0] + ': ' + err))));
  });
  const cmd = [bin, 'connect', '--user', name, '--no-bell', '--data-dir', termDir, ...(register ? ['--register'] : []), ircAddr]
    .map((a) => "'" + a.replace(/'/g, "'\\''") + "'").join(' ');
  const started = tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '40', '-e', 'LABCHAT_PASSWORD=' + password, '-e', 'TERM=xterm', cmd);
  return {
    async ready() { await started; },
    async keys(line) { await started; await tmux('send-keys', '-t', session, '-l', line); await tmux('send-keys', '-t', session, 'Enter'); },
    async screen() { await started; return tmux('capture-pane', '-p', '-t', session); },
    async waitFor(re, ms = 15000) {
      const end = Date.now() + ms;
      let last = '';
      while (Date.now() < end) {
        last = await this.screen();
        if (re.test(last)) return last;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('the terminal of ' + name + ' never showed ' + re + '; it shows:\n' + last);
    },
    async close() {
      await tmux('kill-session', '-t', session).catch(() => {});
      fs.rmSync(termDir, { recursive: true, force: true });
    },
  };
}
