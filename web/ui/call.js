// Voice for calls: the microphone (getUserMedia), the RTCPeerConnection, the signalling
// over IRC (lib/rtc.js has the wire form), and the call bar's voice part (mute, timer,
// quality every 2 s, what is wrong when there is no audio). main.js rings, answers and
// hangs up as before and tells Voice; Voice never changes the call's state itself.

import { voiceTag, sdpMessages, candidateMessage, parseSignal, SdpAssembler, turnFromISupport, sampleStats, qualityText, summaryArgs, durationText } from '../lib/rtc.js';
import { ctcp, casefold } from '../lib/irc.js';
import { h } from './dom.js';

const strings = {
  en: {
    mute: 'Mute', unmute: 'Unmute',
    connecting: 'connecting audio…',
    insecure: 'No microphone here: this page is not a secure context ({0}). Open it with labchat open or over https:// to talk; you can still listen.',
    denied: 'The microphone is blocked for this page: allow it in the browser’s site settings to talk; you can still listen.',
    nomic: 'No microphone found: you can still listen.',
    micfail: 'The microphone could not be opened ({0}): you can still listen.',
    peerNoVoice: 'No audio: {0} is in the terminal client (labchat connect), which has no voice.',
    noRTC: 'No audio: this browser has no WebRTC.',
    failed: 'The audio connection failed: the two PCs cannot reach each other (a TURN relay on the server helps: docs/server.md).',
  },
  zh: {
    mute: '静音', unmute: '取消静音',
    connecting: '正在连接音频…',
    insecure: '这里没有麦克风：此页面不是安全上下文（{0}）。用 labchat open 或 https:// 打开才能说话；你仍然可以听。',
    denied: '此页面的麦克风被阻止：在浏览器的网站设置中允许后才能说话；你仍然可以听。',
    nomic: '没有找到麦克风：你仍然可以听。',
    micfail: '无法打开麦克风（{0}）：你仍然可以听。',
    peerNoVoice: '没有音频：{0} 在终端客户端（labchat connect）中，它没有语音。',
    noRTC: '没有音频：此浏览器没有 WebRTC。',
    failed: '音频连接失败：两台电脑无法互相连接（服务器上的 TURN 中继可以帮助：docs/server.md）。',
  },
};

// How often the call bar's figures are refreshed, and how soon before its expiry a TURN
// credential is renewed (VERSION re-sends RPL_ISUPPORT; turn.go's turnRefreshBefore).
const statsEvery = 2000;
const turnRenewBefore = 2 * 3600 * 1000;

export class Voice {
  constructor(app) {
    this.app = app;
    this.sessions = new Map(); // call id → session
    this.last = null; // the latest session, ended or not (tests and the curious)
    this.assembler = new SdpAssembler();
    this.bar = h('span', { class: 'voice', id: 'voice' });
  }

  s(key, ...args) {
    const table = strings[this.app.lang] || strings.en;
    return (table[key] || strings.en[key]).replace(/\{(\d)\}/g, (_, i) => args[i] ?? '');
  }

  // tags goes on our RING and ANSWER: whether this side can carry audio at all.
  tags() {
    return typeof RTCPeerConnection === 'function' ? { [voiceTag]: '' } : null;
  }

  // ---- the call's life, as main.js sees it ----

  // dialing: we ring someone; the microphone is opened now, so the audio starts the moment
  // the callee's offer comes.
  dialing(k) {
    this.renewTurn();
    this.ringback(true);
    const v = this.session(k);
    if (v) v.mic = this.openMic(v);
  }

  // answeredByPeer: our outgoing call was answered. With voice, the callee's offer follows.
  answeredByPeer(k, peerVoice) {
    const v = this.session(k);
    if (!v) return;
    v.answeredAt = performance.now();
    v.started = Date.now();
    if (!peerVoice) return this.noAudio(v, this.s('peerNoVoice', k.peer));
    this.connect(v, false);
  }

  // answered: we answered an incoming call; we make the offer.
  answered(k) {
    const v = this.session(k);
    if (!v) return;
    v.answeredAt = performance.now();
    v.started = Date.now();
    if (!k.voice) return this.noAudio(v, this.s('peerNoVoice', k.peer));
    this.renewTurn();
    v.mic = this.openMic(v);
    this.connect(v, true);
  }

  // hangingUp: we end an answered call: its quality goes into the conversation's history.
  hangingUp(k) {
    const v = this.sessions.get(k.id);
    if (!v || !v.started || !v.stats || !v.stats.received) return;
    this.app.client?.send('NOTICE', k.peer, ctcp('CALL', summaryArgs(k.id, Date.now() - v.started, v.stats)));
  }

  // ended: the call is over, however it ended.
  ended(k) {
    const v = this.sessions.get(k.id);
    if (!v) return;
    this.sessions.delete(k.id);
    v.ended = true;
    clearInterval(v.timer);
    v.pc?.close();
    v.mic?.then((m) => m && m.getTracks().forEach((t) => t.stop()));
    if (v.audio) { v.audio.srcObject = null; v.audio.remove(); }
  }

  stopAll() {
    this.ringback(false);
    for (const v of [...this.sessions.values()]) this.ended(v.call);
  }

  // ---- signalling in ----

  // onTagmsg handles a TAGMSG carrying our tags; it reports whether it was one.
  onTagmsg(msg) {
    const sig = parseSignal(msg.tags || {});
    if (!sig) return false;
    const from = msg.source.split('!')[0];
    const v = this.sessions.get(sig.id);
    // Only the peer's own lines count: a copy of what another device of ours sent is not.
    if (!v || v.ended || casefold(from) !== casefold(v.call.peer)) return true;
    if (sig.sdp) {
      const whole = this.assembler.add(sig);
      if (whole) this.onDescription(v, whole).catch((err) => this.failed(v, err));
    } else if (sig.ice) {
      const cand = sig.ice.candidate ? { candidate: sig.ice.candidate, sdpMid: sig.ice.sdpMid } : null;
      if (!cand) return true;
      if (v.pc && v.pc.remoteDescription) v.pc.addIceCandidate(cand).catch(() => {});
      else v.pendingIce.push(cand);
    }
    return true;
  }

  async onDescription(v, { kind, sdp }) {
    if (!v.pc) return;
    if (kind === 'offer' && !v.offerer) {
      await v.pc.setRemoteDescription({ type: 'offer', sdp });
      this.prepareSender(v);
      await v.pc.setLocalDescription(await v.pc.createAnswer());
      this.sendDescription(v);
      this.attachMic(v);
    } else if (kind === 'answer' && v.offerer) {
      await v.pc.setRemoteDescription({ type: 'answer', sdp });
    } else {
      return;
    }
    for (const c of v.pendingIce.splice(0)) v.pc.addIceCandidate(c).catch(() => {});
  }

  // ---- the connection ----

  session(k) {
    if (this.sessions.has(k.id)) return this.sessions.get(k.id);
    const v = { id: k.id, call: k, pc: null, marks: {}, mic: null, note: '', muted: false, stats: null, pendingIce: [], started: 0, firstAudioMs: null, relayed: false };
    this.sessions.set(k.id, v);
    this.last = v;
    return v;
  }

  iceConfig() {
    const turn = turnFromISupport(this.app.client?.isupport);
    const policy = this.app.store.get('iceTransportPolicy', 'all') === 'relay' ? 'relay' : 'all';
    // No STUN server on the internet: on one LAN host candidates are enough, and the TURN
    // relay of labchat serve (when it runs one) covers the rest.
    return { iceServers: turn ? [{ urls: turn.urls, username: turn.username, credential: turn.credential }] : [], iceTransportPolicy: policy, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };
  }

  renewTurn() {
    const turn = turnFromISupport(this.app.client?.isupport);
    if (turn && turn.expires - Date.now() < turnRenewBefore) this.app.client.send('VERSION');
  }

  async connect(v, offerer) {
    if (typeof RTCPeerConnection !== 'function') return this.noAudio(v, this.s('noRTC'));
    v.offerer = offerer;
    v.note ||= this.s('connecting'); // a note on the microphone stays
    let pc;
    try {
      pc = new RTCPeerConnection(this.iceConfig());
    } catch (err) {
      return this.failed(v, err);
    }
    v.pc = pc;
    this.mark(v, 'peerConnection');
    v.audio = h('audio', { autoplay: '', 'data-call': v.id });
    v.audio.hidden = true;
    document.body.append(v.audio);
    pc.ontrack = (e) => { v.audio.srcObject = e.streams[0] || new MediaStream([e.track]); v.audio.play?.().catch(() => {}); };
    pc.onicecandidate = (e) => {
      if (e.candidate && e.candidate.candidate) this.signal(v, candidateMessage(v.id, e.candidate));
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'connected') this.mark(v, 'connected');
      if (pc.connectionState === 'connected') { if (v.note === this.s('connecting')) v.note = ''; this.refresh(v); }
      if (pc.connectionState === 'failed') this.failed(v, new Error('ICE failed'));
    };
    v.timer = setInterval(() => this.tick(v), statsEvery);
    this.watchFirstAudio(v);
    this.app.scheduleRender();
    if (!offerer) return; // the offer comes from the callee
    try {
      this.prepareSender(v);
      await pc.setLocalDescription(await pc.createOffer());
      this.sendDescription(v);
      this.attachMic(v);
    } catch (err) {
      this.failed(v, err);
    }
  }

  // prepareSender sets up the audio transceiver before the microphone is open, so that the
  // offer or answer (and ICE and DTLS behind it) need not wait for it: sendrecv, and the
  // track goes in when it comes (attachMic). Receive only when there is surely no microphone.
  prepareSender(v) {
    const direction = v.micProblem ? 'recvonly' : 'sendrecv';
    let tr = v.pc.getTransceivers().find((t) => t.receiver.track.kind === 'audio');
    if (tr) tr.direction = direction;
    else tr = v.pc.addTransceiver('audio', { direction });
    v.sender = tr.sender;
  }

  // attachMic puts the microphone's track on the sender once it is open; none: listen only.
  async attachMic(v) {
    const stream = await (v.mic || Promise.resolve(null));
    const track = stream && stream.getAudioTracks()[0];
    if (v.ended || !track) return;
    await v.sender.replaceTrack(track);
    v.track = track;
    this.mark(v, 'micOn');
    this.refresh(v);
  }

  // openMic asks for the microphone; it resolves to null (listen only) and says why when
  // there is none.
  openMic(v) {
    if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
      v.note = this.s('insecure', location.origin);
      v.micProblem = 'insecure';
      this.app.scheduleRender();
      return Promise.resolve(null);
    }
    return navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true }, video: false }).catch((err) => {
      v.micProblem = err.name;
      v.note = err.name === 'NotAllowedError' || err.name === 'SecurityError' ? this.s('denied')
        : err.name === 'NotFoundError' || err.name === 'OverconstrainedError' ? this.s('nomic') : this.s('micfail', err.message || err.name);
      this.app.scheduleRender();
      return null;
    });
  }

  // mark notes when a step of the set-up happened, in ms after the answer (v.marks: for the
  // curious and the tests, which report where the time to the first audio goes).
  mark(v, what) {
    if (v.answeredAt && !(what in v.marks)) v.marks[what] = Math.round(performance.now() - v.answeredAt);
  }

  sendDescription(v) {
    const d = v.pc.localDescription;
    this.mark(v, d.type + 'Sent');
    for (const tags of sdpMessages(v.id, d.type, d.sdp)) this.signal(v, tags);
  }

  signal(v, tags) {
    const cl = this.app.client;
    if (cl && cl.connected) cl.rawSend('TAGMSG', [v.call.peer], tags);
  }

  toggleMute(v = this.current()) {
    if (!v || !v.sender || !v.track) return;
    v.muted = !v.muted;
    // replaceTrack(null) sends nothing at all (a disabled track would still send silence).
    v.track.enabled = !v.muted;
    v.sender.replaceTrack(v.muted ? null : v.track).catch(() => {});
    this.refresh(v);
  }

  current() {
    const k = this.app.state.currentCall();
    return k ? this.sessions.get(k.id) : null;
  }

  // watchFirstAudio notes when the first audio packet came, counted from the answer.
  async watchFirstAudio(v) {
    while (!v.ended && v.firstAudioMs === null) {
      await new Promise((r) => setTimeout(r, 20));
      if (!v.pc || v.ended) return;
      const st = await v.pc.getStats().catch(() => null);
      if (!st) continue;
      for (const r of st.values()) {
        if (r.type === 'inbound-rtp' && (r.kind || r.mediaType) === 'audio' && r.packetsReceived > 0) {
          v.firstAudioMs = performance.now() - v.answeredAt;
          this.mark(v, 'firstAudio');
          this.tick(v);
          return;
        }
      }
    }
  }

  async tick(v) {
    if (!v.pc || v.ended) return;
    const report = await v.pc.getStats().catch(() => null);
    if (!report || v.ended) return;
    v.stats = sampleStats(report, v.stats);
    v.relayed = v.stats.relayed;
    this.refresh(v);
  }

  noAudio(v, why) {
    v.note = why;
    v.noAudio = true;
    this.refresh(v);
  }

  failed(v, err) {
    if (v.ended) return;
    console.warn('voice:', err);
    v.note = this.s('failed');
    this.refresh(v);
  }

  // ringback plays the ringing tone to the caller while the call rings at the other end.
  ringback(on) {
    if (!on) { clearInterval(this.ringbackTimer); this.ringbackTimer = null; return; }
    if (this.ringbackTimer) return;
    this.app.sounds.play('call');
    this.ringbackTimer = setInterval(() => this.app.sounds.play('call'), 4000);
  }

  // summaryText words a SUMMARY line: "Call 1:03 · loss 0.2% · RTT 3 ms · jitter 1 ms".
  summaryText(q) {
    const f = [(this.app.lang === 'zh' ? '通话 ' : 'Call ') + durationText((q.duration || 0) * 1000)];
    if (q.loss !== undefined) f.push('loss ' + q.loss.toFixed(1) + '%');
    if (q.rtt !== undefined) f.push('RTT ' + q.rtt + ' ms');
    if (q.jitter !== undefined) f.push('jitter ' + q.jitter + ' ms');
    return f.join(' · ');
  }

  // ---- the call bar ----

  refresh(v) {
    if (v === this.current()) this.renderInto();
  }

  // barItems are the voice parts of the call bar, for renderCallBar (ui/chat.js).
  barItems(k) {
    this.renderInto(k);
    return this.bar;
  }

  renderInto(k = this.app.state.currentCall()) {
    const v = k && this.sessions.get(k.id);
    if (!v || k.state !== 'active') { this.bar.replaceChildren(); return; }
    const items = [h('span', { class: 'call-timer', id: 'call-timer' }, durationText(v.started ? Date.now() - v.started : 0))];
    const q = qualityText(v.stats);
    if (q) items.push(h('span', { class: 'call-quality', id: 'call-quality' }, q));
    if (v.note) items.push(h('span', { class: 'call-note', id: 'call-note', role: 'status' }, v.note));
    if (v.sender && v.track) {
      items.push(h('button', { class: 'small', type: 'button', id: 'mute', 'aria-pressed': String(v.muted), onclick: () => this.toggleMute(v) }, v.muted ? this.s('unmute') : this.s('mute')));
    }
    this.bar.replaceChildren(...items);
    clearTimeout(this.clock);
    this.clock = setTimeout(() => this.renderInto(), 1000 - ((Date.now() - v.started) % 1000) + 5);
  }
}
