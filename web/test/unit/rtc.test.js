// The voice calls' wire side: SDP split to fit the client tag budget and joined again,
// ICE candidates, the TURN token, getStats figures and the SUMMARY line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sdpMessages, parseSignal, SdpAssembler, tagDataLength, clientTagBudget, candidateMessage, turnFromISupport, unescapeISupport, sampleStats, qualityText, summaryArgs, parseSummary, durationText } from '../../lib/rtc.js';
import { formatLine, parseLine } from '../../lib/irc.js';

const sdp = ['v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
  ...Array.from({ length: 120 }, (_, i) => `a=rtpmap:${i} opus/48000/2; with spaces\\and;semicolons`)].join('\r\n') + '\r\n';

test('an SDP bigger than one line is split within 4094 bytes of tag data and joined again', () => {
  const msgs = sdpMessages('ab12cd34', 'offer', sdp);
  assert.ok(msgs.length >= 2, 'split into parts');
  const asm = new SdpAssembler();
  let whole = null;
  // Over the wire and back, parts out of order.
  for (const tags of [...msgs].reverse()) {
    const line = formatLine('TAGMSG', ['bob'], tags);
    const tagData = line.slice(1, line.indexOf(' '));
    assert.ok(Buffer.byteLength(tagData) <= clientTagBudget, `tag data ${Buffer.byteLength(tagData)} bytes`);
    assert.equal(tagDataLength(tags), Buffer.byteLength(tagData));
    const sig = parseSignal(parseLine(line).tags);
    assert.equal(sig.id, 'ab12cd34');
    whole = asm.add(sig) || whole;
  }
  assert.deepEqual(whole, { id: 'ab12cd34', kind: 'offer', sdp });
});

test('a small SDP is one message; candidates and junk', () => {
  assert.equal(sdpMessages('x1', 'answer', 'v=0\r\n').length, 1);
  const c = parseSignal(candidateMessage('x1', { candidate: 'candidate:1 1 udp 2122260223 10.0.0.5 50000 typ host', sdpMid: '0' }));
  assert.deepEqual(c, { id: 'x1', ice: { candidate: 'candidate:1 1 udp 2122260223 10.0.0.5 50000 typ host', sdpMid: '0' } });
  for (const bad of [{}, { '+labchat/call': 'no spaces!' }, { '+labchat/call': 'a', '+labchat/sdp': 'rollback' }, { '+labchat/call': 'a', '+labchat/sdp': 'offer', '+labchat/part': '3/2' }]) {
    assert.equal(parseSignal(bad), null, JSON.stringify(bad));
  }
});

test('the TURN credential from RPL_ISUPPORT', () => {
  assert.equal(unescapeISupport('a\\x3Db\\x20c'), 'a=b c');
  const t = turnFromISupport({ 'LABCHAT/TURN': '10.0.0.5:3478,1765000000:alice,AbC+/x\\x3D' });
  assert.deepEqual(t, { urls: ['turn:10.0.0.5:3478?transport=udp'], username: '1765000000:alice', credential: 'AbC+/x=', expires: 1765000000000 });
  assert.equal(turnFromISupport({ 'LABCHAT/TURN': '[::1]:3478,1:a,p' }).urls[0], 'turn:[::1]:3478?transport=udp');
  for (const bad of [{}, { 'LABCHAT/TURN': true }, { 'LABCHAT/TURN': 'host,only' }, { 'LABCHAT/TURN': 'h:1,nouser,p' }]) assert.equal(turnFromISupport(bad), null);
});

test('getStats figures: RTT, loss, jitter, bitrate, relayed', () => {
  const report = (bytes, lost, received) => new Map(Object.entries({
    t: { id: 't', type: 'transport', selectedCandidatePairId: 'p' },
    p: { id: 'p', type: 'candidate-pair', currentRoundTripTime: 0.003, localCandidateId: 'l', remoteCandidateId: 'r' },
    l: { id: 'l', type: 'local-candidate', candidateType: 'relay' },
    r: { id: 'r', type: 'remote-candidate', candidateType: 'host' },
    i: { id: 'i', type: 'inbound-rtp', kind: 'audio', jitter: 0.0012, packetsLost: lost, packetsReceived: received, bytesReceived: bytes },
    o: { id: 'o', type: 'outbound-rtp', kind: 'audio', bytesSent: bytes, packetsSent: received },
  }));
  const a = sampleStats(report(1000, 0, 50), null, 1000);
  const b = sampleStats(report(9000, 1, 99), a, 3000);
  assert.equal(a.kbps, null);
  assert.equal(b.kbps, 64); // 16000 bytes more in 2 s
  assert.equal(qualityText(b), 'RTT 3 ms · loss 1.0% · jitter 1 ms · 64 kbit/s · via TURN');
  assert.equal(qualityText(null), '');
});

test('the SUMMARY line round trip', () => {
  const args = summaryArgs('ab12', 63400, { loss: 0.25, rtt: 3.2, jitter: 1.4 });
  assert.equal(args, 'ab12 SUMMARY duration=63s loss=0.3% rtt=3ms jitter=1ms');
  assert.deepEqual(parseSummary(args), { id: 'ab12', duration: 63, loss: 0.3, rtt: 3, jitter: 1 });
  assert.equal(parseSummary('ab12 HANGUP'), null);
  assert.equal(parseSummary('ab12 SUMMARY loss=1%'), null, 'a summary has a duration');
  assert.equal(durationText(63000), '1:03');
  assert.equal(durationText(3723000), '1:02:03');
});
