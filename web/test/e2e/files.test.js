// Files and search in the browser: a 5 MB pcap through the attach button (with its progress
// bar), a PNG pasted into the composer, a file dropped on the conversation; the other user
// sees a capture card and an image preview and downloads exactly the same bytes; refusals
// shown inline; nobody logged out can fetch a file; a terminal user's upload shows as a card;
// search finds a message and opens it in its conversation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawn } from 'node:child_process';
import { launch, user, register, say, joinRoom, openDM, openConv, messageText, shot, run, bin, ircAddr, webURL } from './harness.js';

let browser;
let alice;
let bob;
const A = 'filea' + run;
const B = 'fileb' + run;
const room = '#files' + run;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'labchat-files-'));

function pcap(size) {
  const parts = [Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0])];
  let n = 24;
  while (n < size) {
    parts.push(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0xdc, 0x05, 0, 0, 0xdc, 0x05, 0, 0]), crypto.randomBytes(1500));
    n += 1516;
  }
  return Buffer.concat(parts);
}

// png draws a small gradient PNG by hand (no image library in the tests).
function png(w, h) {
  const crc = (buf) => {
    let c = ~0;
    for (const b of buf) { c ^= b; for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1)); }
    return ~c >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  const rows = [];
  for (let y = 0; y < h; y++) {
    rows.push(0);
    for (let x = 0; x < w; x++) rows.push((x * 255) / w, (y * 255) / h, 180);
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.from(rows))), chunk('IEND', Buffer.alloc(0))]);
}

const capture = pcap(5 << 20);
const picture = png(96, 64);

before(async () => {
  browser = await launch();
  alice = await user(browser);
  bob = await user(browser);
  await register(alice.page, A);
  await register(bob.page, B);
  await joinRoom(alice.page, room);
  await joinRoom(bob.page, room);
});

after(async () => {
  await browser?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
  for (const u of [alice, bob]) assert.deepEqual(u.page.errors.map(String), [], 'no script errors in the page');
});

async function downloadBytes(page, card) {
  const [dl] = await Promise.all([page.waitForEvent('download'), card.locator('.file-download').click()]);
  const file = path.join(tmp, 'dl-' + crypto.randomUUID());
  await dl.saveAs(file);
  return { name: dl.suggestedFilename(), bytes: fs.readFileSync(file) };
}

test('a 5 MB pcap through the attach button: progress bar, capture card, same bytes for the other user', async () => {
  const file = path.join(tmp, 'lab3-ping.pcap');
  fs.writeFileSync(file, capture);
  // A slow link for alice, so the progress bar is seen moving.
  const cdp = await alice.page.context().newCDPSession(alice.page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 4 << 20 });
  await alice.page.setInputFiles('#file-input', file);
  const bar = alice.page.locator('#uploads progress');
  await bar.waitFor();
  await alice.page.waitForFunction(() => { const p = document.querySelector('#uploads progress'); return p && p.value > 0 && p.value < 100; });
  await shot(alice.page, 'files-upload-progress');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await alice.page.locator('#uploads').waitFor({ state: 'hidden', timeout: 30000 });

  const card = bob.page.locator('#messages .file-card.capture', { hasText: 'lab3-ping.pcap' });
  await openConv(bob.page, room.toLowerCase());
  await card.waitFor({ timeout: 15000 });
  assert.match(await card.innerText(), /Packet capture \(Wireshark\) · 5 MiB/);
  const got = await downloadBytes(bob.page, card);
  assert.equal(got.name, 'lab3-ping.pcap');
  assert.equal(got.bytes.length, capture.length);
  assert.ok(got.bytes.equals(capture), 'bob downloads exactly the bytes alice uploaded');
});

test('a pasted PNG and a dropped file: image preview, same bytes', async () => {
  await openConv(alice.page, room.toLowerCase());
  await alice.page.evaluate((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'image.png', { type: 'image/png' }));
    document.getElementById('input').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  }, picture.toString('base64'));
  const img = bob.page.locator('#messages .file-card.image img.file-preview');
  await img.waitFor();
  await bob.page.waitForFunction(() => { const i = document.querySelector('#messages .file-card.image img.file-preview'); return i && i.complete && i.naturalWidth === 96; });
  const card = bob.page.locator('#messages .file-card.image');
  assert.match(await card.innerText(), /pasted-\d{8}-\d{6}\.png/);
  const got = await downloadBytes(bob.page, card);
  assert.ok(got.bytes.equals(picture), 'the PNG arrives byte for byte');

  await alice.page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['tcpdump -i eth0 icmp\n'], 'commands.txt', { type: 'text/plain' }));
    const zone = document.getElementById('conversation');
    zone.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  const txt = bob.page.locator('#messages .file-card.file', { hasText: 'commands.txt' });
  await txt.waitFor();
  assert.equal((await downloadBytes(bob.page, txt)).bytes.toString(), 'tcpdump -i eth0 icmp\n');
  await shot(bob.page, 'files-cards');
});

test('refusals are shown inline in the composer', async () => {
  const tryUpload = async (name, content, type) => {
    await alice.page.evaluate(([n, c, t]) => {
      const dt = new DataTransfer();
      dt.items.add(new File([c], n, { type: t }));
      const input = document.getElementById('file-input');
      input.files = dt.files;
      input.dispatchEvent(new Event('change'));
    }, [name, content, type]);
    const err = alice.page.locator('#composer-error');
    await alice.page.waitForFunction((n) => document.getElementById('composer-error').textContent.includes(n), name);
    return err.innerText();
  };
  assert.match(await tryUpload('evil.svg', '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 'image/svg+xml'), /SVG carries script/);
  assert.match(await tryUpload('page.html', '<h1>hi</h1><script>alert(1)</script>', 'text/html'), /HTML files are not accepted/);
  assert.match(await tryUpload('<img src=x onerror=alert(1)>.png', 'x', 'image/png'), /bad file name/);
  await shot(alice.page, 'files-refused');
  // Too large: the server's limit is 25 MiB.
  await alice.page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(26 << 20)], 'huge.bin'));
    const input = document.getElementById('file-input');
    input.files = dt.files;
    input.dispatchEvent(new Event('change'));
  });
  await alice.page.waitForFunction(() => document.getElementById('composer-error').textContent.includes('huge.bin'), null, { timeout: 30000 });
  assert.match(await alice.page.locator('#composer-error').innerText(), /too large/);
  assert.equal(await bob.page.locator('#messages .file-card', { hasText: 'evil.svg' }).count(), 0);
});

test('nobody logged out can fetch a file; a logged-in user can', async () => {
  const href = await bob.page.locator('#messages .bubble a[href*="/files/"]').first().getAttribute('href');
  const p = new URL(href).pathname;
  const anon = await browser.newContext();
  const res = await anon.request.get(new URL(p, webURL).href);
  assert.equal(res.status(), 401);
  assert.match(await res.text(), /log in/);
  assert.match(res.headers()['www-authenticate'] || '', /Basic/);
  await anon.close();
});

test('a terminal user\'s --upload shows as a card in the browser', async () => {
  const file = path.join(tmp, 'from-terminal.pcapng');
  fs.writeFileSync(file, Buffer.concat([Buffer.from([0x0a, 0x0d, 0x0d, 0x0a]), crypto.randomBytes(3000)]));
  await openDM(bob.page, A);
  const term = 'filet' + run;
  const reg = spawn(bin, ['connect', '--user', term, '--register', '--to', term, '--data-dir', tmp, ircAddr], { env: { ...process.env, LABCHAT_PASSWORD: 'secret-' + term }, stdio: ['pipe', 'pipe', 'pipe'] });
  reg.stdin.end();
  await new Promise((r) => reg.once('exit', r));
  const up = spawn(bin, ['connect', '--user', term, '--upload', file, '--to', B, '--data-dir', tmp, ircAddr], { env: { ...process.env, LABCHAT_PASSWORD: 'secret-' + term }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  up.stderr.on('data', (d) => { stderr += d; });
  const code = await new Promise((r) => up.once('exit', r));
  assert.equal(code, 0, stderr);
  assert.match(stderr, /upload from-terminal\.pcapng: 100%/);
  await bob.page.locator(`#conv-list [data-conv="${term}"]`).click();
  const card = bob.page.locator('#messages .file-card.capture', { hasText: 'from-terminal.pcapng' });
  await card.waitFor();
  assert.ok((await downloadBytes(bob.page, card)).bytes.equals(fs.readFileSync(file)));
});

test('search finds a message and opens it in its conversation', async () => {
  await openConv(alice.page, room.toLowerCase());
  const marker = 'needle' + run;
  await say(alice.page, 'before the ' + marker);
  await say(alice.page, 'the ' + marker + ' is in the haystack');
  for (let i = 0; i < 12; i++) await say(alice.page, 'filler line ' + i);
  await messageText(alice.page, 'filler line 11').waitFor();
  await openConv(bob.page, A); // somewhere else first
  await bob.page.click('#search-btn');
  await bob.page.fill('#search-input', marker + ' haystack');
  await bob.page.press('#search-input', 'Enter');
  const hit = bob.page.locator('#search-results .search-hit', { hasText: 'is in the haystack' });
  await hit.waitFor({ timeout: 5000 }).catch(async (e) => {
    throw new Error(e.message + '\nsearch dialog shows: ' + await bob.page.locator('#search-dialog').innerText() + '\ncaps: ' + await bob.page.evaluate(() => [...window.labchat.client.caps].join(' ')));
  });
  assert.equal(await bob.page.locator('#search-results .search-hit').count(), 1);
  await shot(bob.page, 'files-search');
  await hit.click();
  await bob.page.waitForFunction((k) => window.labchat.state.active === k, room.toLowerCase());
  const found = bob.page.locator('#messages .msg.found');
  await found.waitFor();
  assert.match(await found.innerText(), /is in the haystack/);
  assert.ok(await found.isVisible());
  // Search covers only what bob may read: a room he is not in stays out.
  const other = '#other' + run;
  await joinRoom(alice.page, other);
  await say(alice.page, 'secret-of-' + run + ' only here');
  await messageText(alice.page, 'secret-of-' + run).waitFor();
  await bob.page.click('#search-btn');
  await bob.page.fill('#search-input', 'secret-of-' + run);
  await bob.page.press('#search-input', 'Enter');
  await bob.page.locator('#search-results li', { hasText: 'Nothing found' }).waitFor();
  await bob.page.click('#search-close');
});

test('the uploader deletes a file; others then get "deleted"', async () => {
  await openConv(alice.page, room.toLowerCase());
  await openConv(bob.page, room.toLowerCase());
  const mine = alice.page.locator('#messages .file-card.file', { hasText: 'commands.txt' });
  await mine.waitFor();
  assert.equal(await bob.page.locator('#messages .file-card.file', { hasText: 'commands.txt' }).locator('.file-delete').count(), 0, 'no delete button on others\' files');
  alice.page.once('dialog', (d) => d.accept());
  await mine.locator('.file-delete').click();
  await alice.page.locator('#messages .file-card.deleted').waitFor();
  const href = await bob.page.locator('#messages .bubble a[href*="/commands.txt"]').getAttribute('href');
  const status = await bob.page.evaluate(async (p) => (await fetch(p, { headers: { Authorization: 'Bearer ' + window.labchat.client.isupport['DRAFT/FILEHOST'].split('/').pop() } })).status, new URL(href).pathname);
  assert.equal(status, 404);
});
