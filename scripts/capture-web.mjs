// Drives the real browser client through LAB.md Part 5's session, so that a capture (or the
// server's --trace) shows what the page itself sends: carol registers, logs out, logs in
// again (SASL PLAIN), joins a room, says one line and logs out.
//
//   node scripts/capture-web.mjs http://127.0.0.1:8088/ [account] [room]
//
// The password is $LABCHAT_PASSWORD (labpass1 when unset), as in LAB.md's command blocks.
// Each step is printed on stdout as "step NAME" once the page has done it, so a capture can
// be read against the steps. scripts/capture-web.sh runs the whole capture; the Go test
// TestLabWebFramesAreWhatThePageSends runs this script against a traced server.
// Needs playwright-core (npm ci) and Debian's chromium ($CHROMIUM overrides its path).
import { chromium } from 'playwright-core';

const [url, account = 'carol', room = '#lab'] = process.argv.slice(2);
if (!url) {
  console.error('usage: node scripts/capture-web.mjs WEB_URL [account] [room]');
  process.exit(2);
}
const password = process.env.LABCHAT_PASSWORD || 'labpass1';
const line = process.env.LABCHAT_LINE || 'hello from the browser';
const timeout = 20000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/lib/chromium/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const ctx = await browser.newContext({ locale: 'en-US' });
  const page = await ctx.newPage();
  page.setDefaultTimeout(timeout);
  const step = (name) => console.log('step ' + name);

  await page.goto(url);
  await page.waitForSelector('#login-screen:not([hidden])');
  step('page loaded');

  await page.click('#tab-register');
  await page.fill('#login-account', account);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  await page.waitForSelector('#chat-screen:not([hidden])');
  // The client's first PING after the welcome marks the end of stored messages; its PONG
  // means the whole login exchange is over.
  await page.waitForFunction(() => window.labchat.client?.state === 'registered');
  step('registered');

  await page.click('#logout-btn');
  await page.waitForSelector('#login-screen:not([hidden])');
  step('logged out');

  await page.click('#tab-login');
  await page.fill('#login-account', account);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  await page.waitForSelector('#chat-screen:not([hidden])');
  step('logged in');

  await page.click('#join-btn');
  await page.fill('#prompt-input', room);
  await page.click('#prompt-ok');
  await page.waitForFunction((k) => window.labchat.state.active === k && window.labchat.state.find(k)?.joined, room.toLowerCase());
  step('joined ' + room);

  await page.fill('#input', line);
  await page.press('#input', 'Enter');
  // The server echoes the line back (echo-message): the bubble appears with its msgid.
  await page.locator('#messages .msg .bubble', { hasText: line }).waitFor();
  step('said');

  await page.click('#logout-btn');
  await page.waitForSelector('#login-screen:not([hidden])');
  step('logged out');
} finally {
  await browser.close();
}
