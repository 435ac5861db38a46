// Voice calls' wire side, without the DOM or WebRTC objects (node --test covers it): the
// signalling carried over IRC, the TURN credential from RPL_ISUPPORT, and the call-quality
// figures read from getStats().
//
// A voice call is the CTCP CALL of client_calls.go (RING, ANSWER, DECLINE, CANCEL, HANGUP)
// plus:
//   - the client tag +labchat/voice on the RING and on the ANSWER: "this side has WebRTC".
//     A RING without it (the terminal client) is answered without audio; an ANSWER without
//     it means the callee has none (it answered in the terminal), so no offer comes.
//   - TAGMSG with client-only tags for the session description and ICE candidates, sent to
//     the peer's nick (the server gives it to every connection of that account; only the
//     one in the call has its id):
//       @+labchat/call=<id>;+labchat/sdp=offer|answer;+labchat/part=<i>/<n>;+labchat/data=<SDP piece> TAGMSG <peer>
//       @+labchat/call=<id>;+labchat/ice=<candidate line>;+labchat/mid=<sdpMid> TAGMSG <peer>
//     A description longer than one line's client tags (IRCv3: at most 4094 bytes of tag
//     data from a client) is split into parts, joined again by SdpAssembler. The server keeps
//     no +labchat/call TAGMSG in history (chathistory.go's ephemeralTagmsg) nor in offline
//     queues, so none of this lands in the chat logs.
//     The callee (the device that answered) makes the offer; the caller answers it.
//   - NOTICE <peer> :\x01CALL <id> SUMMARY duration=<s>s loss=<pct>% rtt=<ms>ms jitter=<ms>ms\x01
//     sent by the side that hangs up, just before its HANGUP: the call's quality, kept in
//     the conversation's history (labchat history and both clients show it).

export const voiceTag = '+labchat/voice';
const T = '+labchat/';

// Client tag data a client may send (IRCv3 message-tags).
export const clientTagBudget = 4094;

// escapedLength is how long s is once escaped as a tag value (';', ' ', '\', CR, LF take two
// bytes); SDP is ASCII, but a UTF-8 byte count keeps it right for anything else.
function escapedLength(ch) {
  if (ch === ';' || ch === ' ' || ch === '\\' || ch === '\r' || ch === '\n') return 2;
  const c = ch.codePointAt(0);
  return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
}

// tagDataLength is the wire length of tags after '@', escaped.
export function tagDataLength(tags) {
  let n = 0;
  for (const [k, v] of Object.entries(tags)) {
    n += (n ? 1 : 0) + k.length + (v === '' ? 0 : 1 + [...v].reduce((a, ch) => a + escapedLength(ch), 0));
  }
  return n;
}

// sdpMessages splits a session description into the tag sets of its TAGMSGs, each within
// the client tag budget.
export function sdpMessages(id, kind, sdp, budget = clientTagBudget) {
  const head = { [T + 'call']: id, [T + 'sdp']: kind, [T + 'part']: '99/99', [T + 'data']: '' };
  const room = budget - tagDataLength(head) - 1; // '=' before the data
  if (room < 64) throw new Error('tag budget too small');
  const pieces = [];
  let cur = '';
  let len = 0;
  for (const ch of sdp) {
    const l = escapedLength(ch);
    if (len + l > room) { pieces.push(cur); cur = ''; len = 0; }
    cur += ch;
    len += l;
  }
  if (cur || !pieces.length) pieces.push(cur);
  return pieces.map((data, i) => ({ [T + 'call']: id, [T + 'sdp']: kind, [T + 'part']: `${i + 1}/${pieces.length}`, [T + 'data']: data }));
}

export function candidateMessage(id, cand) {
  return { [T + 'call']: id, [T + 'ice']: cand.candidate || '', [T + 'mid']: cand.sdpMid ?? '' };
}

// parseSignal reads a TAGMSG's tags: {id, sdp: {kind, part, of, data}} or {id, ice: {candidate, sdpMid}}, or null.
export function parseSignal(tags) {
  const id = tags[T + 'call'];
  if (!id || !/^[0-9A-Za-z]{1,32}$/.test(id)) return null;
  if (T + 'sdp' in tags) {
    const kind = tags[T + 'sdp'];
    const m = /^(\d{1,2})\/(\d{1,2})$/.exec(tags[T + 'part'] || '1/1');
    if ((kind !== 'offer' && kind !== 'answer') || !m || +m[1] < 1 || +m[1] > +m[2]) return null;
    return { id, sdp: { kind, part: +m[1], of: +m[2], data: tags[T + 'data'] || '' } };
  }
  if (T + 'ice' in tags) return { id, ice: { candidate: tags[T + 'ice'], sdpMid: tags[T + 'mid'] || '0' } };
  return null;
}

// SdpAssembler joins the parts of each description; add returns {id, kind, sdp} when one is whole.
export class SdpAssembler {
  constructor() { this.pending = new Map(); }
  add(sig) {
    const key = sig.id + ' ' + sig.sdp.kind;
    let p = this.pending.get(key);
    if (!p || p.parts.length !== sig.sdp.of) { p = { parts: new Array(sig.sdp.of).fill(null), got: 0 }; this.pending.set(key, p); }
    if (p.parts[sig.sdp.part - 1] === null) p.got++;
    p.parts[sig.sdp.part - 1] = sig.sdp.data;
    if (p.got < p.parts.length) return null;
    this.pending.delete(key);
    return { id: sig.id, kind: sig.sdp.kind, sdp: p.parts.join('') };
  }
}

// unescapeISupport undoes RPL_ISUPPORT's \xHH escapes.
export function unescapeISupport(v) {
  return String(v).replace(/\\x([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

// turnFromISupport reads the server's labchat/TURN token ("HOST:PORT,USERNAME,PASSWORD")
// into an RTCIceServer, with the credential's expiry (ms), or null when there is none.
export function turnFromISupport(isupport) {
  const raw = isupport && isupport['LABCHAT/TURN'];
  if (!raw || raw === true) return null;
  const parts = unescapeISupport(raw).split(',');
  if (parts.length !== 3) return null;
  const [hostport, username, credential] = parts;
  const expiry = Number(username.split(':')[0]) * 1000;
  if (!/^(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):\d{1,5}$/.test(hostport) || !expiry) return null;
  return { urls: ['turn:' + hostport + '?transport=udp'], username, credential, expires: expiry };
}

// sampleStats reads one getStats() report into the call's figures. prev is the previous
// sample (for the bitrate); the first has no bitrate.
export function sampleStats(report, prev = null, now = Date.now()) {
  const s = { at: now, rtt: null, jitter: null, lost: 0, received: 0, bytesIn: 0, bytesOut: 0, packetsOut: 0, loss: null, kbps: null, relayed: false };
  let pair = null;
  const byId = new Map();
  for (const r of report.values ? report.values() : report) byId.set(r.id, r);
  for (const r of byId.values()) {
    if (r.type === 'inbound-rtp' && (r.kind || r.mediaType) === 'audio') {
      s.jitter = (r.jitter ?? 0) * 1000;
      s.lost += Math.max(0, r.packetsLost || 0);
      s.received += r.packetsReceived || 0;
      s.bytesIn += r.bytesReceived || 0;
    } else if (r.type === 'outbound-rtp' && (r.kind || r.mediaType) === 'audio') {
      s.bytesOut += r.bytesSent || 0;
      s.packetsOut += r.packetsSent || 0;
    } else if (r.type === 'transport' && r.selectedCandidatePairId) {
      pair = byId.get(r.selectedCandidatePairId) || pair;
    } else if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded' && !pair) {
      pair = r;
    }
  }
  if (pair) {
    if (pair.currentRoundTripTime !== undefined) s.rtt = pair.currentRoundTripTime * 1000;
    const local = byId.get(pair.localCandidateId);
    const remote = byId.get(pair.remoteCandidateId);
    s.relayed = (local && local.candidateType === 'relay') || (remote && remote.candidateType === 'relay') || false;
  }
  if (s.lost + s.received > 0) s.loss = (100 * s.lost) / (s.lost + s.received);
  if (prev && now > prev.at) s.kbps = ((s.bytesIn + s.bytesOut - prev.bytesIn - prev.bytesOut) * 8) / (now - prev.at);
  return s;
}

// qualityText is the call bar's line: "RTT 3 ms · loss 0.0% · jitter 1 ms · 64 kbit/s".
export function qualityText(s) {
  if (!s) return '';
  const out = [];
  if (s.rtt !== null) out.push('RTT ' + Math.round(s.rtt) + ' ms');
  if (s.loss !== null) out.push('loss ' + s.loss.toFixed(1) + '%');
  if (s.jitter !== null) out.push('jitter ' + Math.round(s.jitter) + ' ms');
  if (s.kbps !== null) out.push(Math.round(s.kbps) + ' kbit/s');
  if (s.relayed) out.push('via TURN');
  return out.join(' · ');
}

// summaryArgs are the SUMMARY CTCP's arguments for a call that lasted ms with figures s.
export function summaryArgs(id, ms, s) {
  const f = ['duration=' + Math.round(ms / 1000) + 's'];
  if (s && s.loss !== null) f.push('loss=' + s.loss.toFixed(1) + '%');
  if (s && s.rtt !== null) f.push('rtt=' + Math.round(s.rtt) + 'ms');
  if (s && s.jitter !== null) f.push('jitter=' + Math.round(s.jitter) + 'ms');
  return id + ' SUMMARY ' + f.join(' ');
}

// parseSummary reads "<id> SUMMARY k=v..." into {id, duration, loss, rtt, jitter}, or null.
export function parseSummary(args) {
  const f = String(args).trim().split(/\s+/);
  if (f.length < 3 || f[1].toUpperCase() !== 'SUMMARY' || !/^[0-9A-Za-z]{1,32}$/.test(f[0])) return null;
  const out = { id: f[0] };
  for (const kv of f.slice(2)) {
    const m = /^(duration|loss|rtt|jitter)=(\d+(?:\.\d+)?)(s|%|ms)$/.exec(kv);
    if (m) out[m[1]] = Number(m[2]);
  }
  return 'duration' in out ? out : null;
}

// durationText is "0:42" or "1:02:03".
export function durationText(ms) {
  const t = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = String(t % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}
