// Makes one voice call between two headless Chromium users (fake microphones) on a running
// `labchat serve`, for LAB.md's "Capture a call": run tshark beside it.
//
//   node scripts/call-capture.mjs http://127.0.0.1:8080/ [seconds] [relay]
//
// "relay" forces the call through the server's TURN relay (serve --turn-listen).
// Needs playwright-core (npm ci) and Debian's chromium.
import { chromium } from 'playwright-core';

const [url, secondsArg = '5', policy = 'all'] = process.argv.slice(2);
if (!url) { console.error('usage: node scripts/call-capture.mjs WEB_URL [seconds] [relay]'); process.exit(2); }
const seconds = Number(secondsArg) || 5;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/lib/chromium/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--disable-features=WebRtcHideLocalIpsWithMdns'],
});
const tag = Date.now().toString(36).slice(-4);
async function person(name) {
  const ctx = await browser.newContext();
  await ctx.addInitScript((p) => localStorage.setItem('labchat.v1.iceTransportPolicy', JSON.stringify(p)), policy === 'relay' ? 'relay' : 'all');
  const page = await ctx.newPage();
  await page.goto(url);
  await page.click('#tab-register');
  await page.fill('#login-account', name);
  await page.fill('#login-password', 'secret-' + name);
  await page.click('#login-submit');
  await page.waitForSelector('#chat-screen:not([hidden])');
  return page;
}
const a = await person('mei' + tag);
const b = await person('raj' + tag);
await a.click('#dm-btn');
await a.fill('#prompt-input', 'raj' + tag);
await a.click('#prompt-ok');
await a.click('#call-btn');
await b.locator('#ring-dialog[open]').waitFor();
await b.click('#ring-answer');
await a.locator('#call-quality').waitFor({ timeout: 15000 });
await a.waitForTimeout(seconds * 1000);
console.log(await a.textContent('#call-quality'));
await a.click('#hangup');
await b.waitForFunction(() => window.labchat.voice.last.pc.connectionState === 'closed');
await browser.close();
