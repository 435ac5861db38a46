// Voice calls: WebRTC audio between two browsers with Chromium's fake microphone, signalled
// over IRC (TAGMSG) through the real server; mute, hang-up, call quality and its summary in
// history; a call forced through the server's TURN relay; a call to the terminal client;
// and a page that is not a secure context (a lab PC on plain http) listening only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { launch, user, register, openDM, run, shot, tmuxTerminal, controlURL, webURL, bin, serverDir } from './harness.js';

const media = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  // Host candidates as plain addresses, not mDNS names (whose lookups would be multicast).
  '--disable-features=WebRtcHideLocalIpsWithMdns'];

let browser;
const users = [];
const report = {};

before(async () => { browser = await launch({ args: media }); });

after(async () => {
  await browser?.close();
  for (const u of users) assert.deepEqual(u.page.errors.map(String), [], 'no script errors in the page');
  console.log('voice measurements: ' + JSON.stringify(report));
});

async function person(name, settings = {}, b = browser) {
  const u = await user(b, { settings: { callTimeout: 15000, ...settings } });
  users.push(u);
  await register(u.page, name);
  return u;
}

// rtp sums the audio RTP counters of the page's latest call.
function rtp(page) {
  return page.evaluate(async () => {
    const v = window.labchat.voice.last;
    const r = { bytesIn: 0, packetsIn: 0, bytesOut: 0, packetsOut: 0, state: v?.pc?.connectionState ?? null };
    if (!v || !v.pc || v.pc.connectionState === 'closed') return r;
    for (const x of (await v.pc.getStats()).values()) {
      if (x.type === 'inbound-rtp' && x.kind === 'audio') { r.bytesIn += x.bytesReceived; r.packetsIn += x.packetsReceived; }
      if (x.type === 'outbound-rtp' && x.kind === 'audio') { r.bytesOut += x.bytesSent; r.packetsOut += x.packetsSent; }
    }
    return r;
  });
}

// grows waits until field of rtp(page) rose by more than by.
async function grows(page, field, by = 1000, ms = 15000) {
  const first = (await rtp(page))[field];
  const end = Date.now() + ms;
  for (;;) {
    const now = (await rtp(page))[field];
    if (now - first > by) return now - first;
    if (Date.now() > end) throw new Error(`${field} grew ${now - first} in ${ms} ms, want more than ${by}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// call rings callee from caller and answers; it returns when both are in the call.
async function call(caller, callee, calleeName) {
  await openDM(caller.page, calleeName);
  await caller.page.click('#call-btn');
  await callee.page.locator('#ring-dialog[open]').waitFor();
  await callee.page.click('#ring-answer');
  for (const u of [caller, callee]) await u.page.locator('#call-bar [data-call-state="active"]').waitFor();
}

async function relayedBytes() {
  const res = await fetch(controlURL + '/turn');
  return Number(await res.text());
}

test('two browsers talk: audio both ways, quality on the call bar, mute, hang-up, summary in history', async () => {
  const A = 'va' + run;
  const B = 'vb' + run;
  const alice = await person(A);
  const bob = await person(B);
  await call(alice, bob, B);
  assert.ok(await alice.page.evaluate(() => window.labchat.sounds.log.some((s) => s.name === 'call')), 'the caller heard the ringing tone');
  await Promise.all([grows(alice.page, 'bytesIn'), grows(bob.page, 'bytesIn')]);
  const first = await Promise.all([alice, bob].map((u) => u.page.waitForFunction(() => window.labchat.voice.last.firstAudioMs, null, { timeout: 10000 }).then((h) => h.jsonValue())));
  report.answerToFirstAudioMs = { caller: Math.round(first[0]), callee: Math.round(first[1]) };
  report.setupMarks = { caller: await alice.page.evaluate(() => window.labchat.voice.last.marks), callee: await bob.page.evaluate(() => window.labchat.voice.last.marks) };
  assert.equal(await alice.page.evaluate(() => window.labchat.voice.last.relayed), false, 'one machine: a direct (host) path');

  // The call bar: timer, mute, and every 2 s the figures.
  await alice.page.locator('#call-quality', { hasText: /RTT \d+ ms · loss \d+\.\d% · jitter \d+ ms/ }).waitFor({ timeout: 8000 });
  assert.match(await alice.page.textContent('#call-timer'), /^\d+:\d\d$/);
  await shot(alice.page, 'voice-call-bar');

  // The RTT on loopback: its median over the 2-second samples.
  const rtts = [];
  for (let i = 0; i < 5; i++) {
    await alice.page.waitForTimeout(2000); // the samples come every 2 s: this test measures them
    const r = await alice.page.evaluate(() => window.labchat.voice.last.stats?.rtt);
    if (typeof r === 'number') rtts.push(r);
  }
  rtts.sort((x, y) => x - y);
  report.medianRttMs = rtts[Math.floor(rtts.length / 2)];
  report.rttSamplesMs = rtts.map((r) => Math.round(r * 10) / 10);

  // Mute: nothing is sent, so bob receives nothing; unmute brings it back.
  await alice.page.click('#mute');
  assert.equal(await alice.page.getAttribute('#mute', 'aria-pressed'), 'true');
  await alice.page.waitForTimeout(300); // packets in flight when the mute was pressed
  const before = await rtp(bob.page);
  const sentBefore = await rtp(alice.page);
  await alice.page.waitForTimeout(1500);
  const afterMute = await rtp(bob.page);
  const sentAfter = await rtp(alice.page);
  assert.equal(sentAfter.packetsOut, sentBefore.packetsOut, 'a muted caller sends no audio packets');
  assert.equal(afterMute.packetsIn, before.packetsIn, 'the callee receives none');
  assert.ok((await rtp(alice.page)).packetsIn > sentBefore.packetsIn, 'the muted side still hears');
  await alice.page.click('#mute');
  await grows(bob.page, 'packetsIn', 10);

  // Hang-up closes the peer connection on both sides, and the summary line is in both
  // conversations, live and from the server's history.
  await alice.page.click('#hangup');
  for (const u of [alice, bob]) {
    await u.page.waitForFunction(() => window.labchat.voice.last.pc.connectionState === 'closed', null, { timeout: 5000 });
    await u.page.locator('#messages .call-entry[data-call="summary"]', { hasText: /Call \d+:\d\d · loss \d+\.\d% · RTT \d+ ms/ }).waitFor();
  }
  assert.equal(await bob.page.locator('audio[data-call]').count(), 0, 'the audio element is gone');
  // Another device of bob's, logged in afterwards, reads the summary from the server's history.
  const again = await user(browser, {});
  users.push(again);
  await again.page.click('#tab-login');
  await again.page.fill('#login-account', B);
  await again.page.fill('#login-password', 'secret-' + B);
  await again.page.click('#login-submit');
  await again.page.waitForSelector('#chat-screen:not([hidden])');
  await openDM(again.page, A);
  await again.page.locator('#messages .call-entry[data-call="summary"]').waitFor({ timeout: 10000 });
  // labchat history on the server's logs: the call is one line, with its quality.
  const out = spawnSync(bin, ['history', '--dir', path.join(serverDir, 'logs'), '--with', A], { encoding: 'utf8', env: { ...process.env, LABCHAT_CONFIG: '' } });
  assert.equal(out.status, 0, out.stderr);
  assert.match(out.stdout, new RegExp('call from ' + A + ', answered, \\d+ s, loss \\d+\\.\\d% average, RTT \\d+ ms, jitter \\d+ ms'));
  report.historyLine = out.stdout.split('\n').find((l) => l.includes('call from'));
});

test('a call forced through the TURN relay (iceTransportPolicy relay) carries audio', async () => {
  const A = 'ta' + run;
  const B = 'tb' + run;
  const alice = await person(A, { iceTransportPolicy: 'relay' });
  const bob = await person(B, { iceTransportPolicy: 'relay' });
  assert.ok(await alice.page.evaluate(() => !!window.labchat.client.isupport['LABCHAT/TURN']), 'the server gave a TURN credential at login');
  const relayedBefore = await relayedBytes();
  const t0 = Date.now();
  await call(alice, bob, B);
  report.turnCallSetupMs = Date.now() - t0;
  await Promise.all([grows(alice.page, 'bytesIn', 2000), grows(bob.page, 'bytesIn', 2000)]);
  report.turnAudioMs = Date.now() - t0;
  report.turnFirstAudioMs = await alice.page.evaluate(() => window.labchat.voice.last.firstAudioMs);
  await alice.page.waitForFunction(() => window.labchat.voice.last.relayed === true, null, { timeout: 8000 });
  await alice.page.locator('#call-quality', { hasText: 'via TURN' }).waitFor({ timeout: 8000 });
  const relayed = (await relayedBytes()) - relayedBefore;
  assert.ok(relayed > 4000, `the server relayed ${relayed} bytes`);
  report.turnRelayedBytes = relayed;
  const rtt = await alice.page.evaluate(() => window.labchat.voice.last.stats?.rtt);
  report.turnRttMs = rtt;
  await shot(alice.page, 'voice-call-turn');
  await bob.page.click('#hangup');
  await alice.page.waitForFunction(() => window.labchat.voice.last.pc.connectionState === 'closed', null, { timeout: 5000 });
});

test('a refused microphone: the user is told, and the call goes on listen-only', async () => {
  // Without --use-fake-ui-for-media-stream a headless Chromium dismisses the permission prompt.
  const refusing = await launch({ args: ['--use-fake-device-for-media-stream', '--disable-features=WebRtcHideLocalIpsWithMdns'] });
  try {
    const A = 'ra' + run;
    const B = 'rb' + run;
    const alice = await person(A);
    const bob = await person(B, {}, refusing);
    await call(alice, bob, B);
    await bob.page.locator('#call-note', { hasText: /microphone is blocked|could not be opened/ }).waitFor();
    await grows(bob.page, 'bytesIn', 2000);
    assert.equal((await rtp(bob.page)).packetsOut, 0, 'nothing sent without a microphone');
    await bob.page.click('#hangup');
    await alice.page.waitForFunction(() => window.labchat.voice.last.pc.connectionState === 'closed', null, { timeout: 5000 });
  } finally {
    await refusing.close();
  }
});

const haveTmux = spawnSync('tmux', ['-V']).status === 0;

test('a voice call to the terminal client rings there; its /answer is a call without audio', { skip: !haveTmux && 'tmux is not installed' }, async () => {
  const A = 'ka' + run;
  const dan = 'kd' + run;
  const alice = await person(A);
  const term = tmuxTerminal(dan);
  try {
    await term.waitFor(/Welcome|logged in|#lobby/i);
    await openDM(alice.page, dan);
    await alice.page.click('#call-btn');
    await term.waitFor(new RegExp('voice call from ' + A + ': answer in the browser \\(labchat open\\)'));
    await term.keys('/answer');
    await term.waitFor(/you answered/);
    await alice.page.locator('#call-bar [data-call-state="active"]').waitFor();
    await alice.page.locator('#call-note', { hasText: 'terminal client' }).waitFor();
    assert.equal(await alice.page.evaluate(() => window.labchat.voice.last.pc), null, 'no peer connection for a peer without audio');
    await alice.page.click('#hangup');
    await term.waitFor(new RegExp(A + ' hung up'));

    // And /decline declines.
    await alice.page.click('#call-btn');
    await term.waitFor(/voice call from[\s\S]*voice call from/);
    await term.keys('/decline');
    await alice.page.locator('#messages .call-entry[data-call="declined"]').waitFor();
  } finally {
    await term.close();
  }
});

test('on plain http from another PC (not a secure context) the page says why it has no microphone, and listens', async () => {
  const port = new URL(webURL).port;
  const lab = await launch({ args: [...media, '--host-resolver-rules=MAP labserver.test 127.0.0.1'] });
  try {
    const A = 'ia' + run;
    const B = 'ib' + run;
    const alice = await person(A);
    const ctx = await lab.newContext();
    const page = await ctx.newPage();
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(e));
    await page.goto(`http://labserver.test:${port}/`);
    assert.equal(await page.evaluate(() => window.isSecureContext), false);
    const bob = { ctx, page };
    users.push(bob);
    await register(page, B);
    await call(alice, bob, B);
    await page.locator('#call-note', { hasText: 'not a secure context' }).waitFor();
    await grows(page, 'bytesIn', 2000); // listens to alice
    assert.equal((await rtp(page)).packetsOut, 0, 'sends nothing: it has no microphone');
    assert.equal(await page.locator('#mute').count(), 0, 'nothing to mute');
    await shot(page, 'voice-insecure-context');
    await page.click('#hangup');
    await alice.page.waitForFunction(() => window.labchat.voice.last.pc.connectionState === 'closed', null, { timeout: 5000 });
  } finally {
    await lab.close();
  }
});
