// What catches the student's eye and ear: distinct Web Audio sounds (a message, a contact
// coming online, a call ringing), the tab title and favicon flashing with the unread count
// (the tray-icon flash of a desktop chat program), and desktop notifications while the
// tab is hidden. No sound files: each sound is a few oscillator notes.

const sounds = {
  // [frequency Hz, start s, duration s, type]
  message: [[880, 0, 0.09, 'sine'], [1320, 0.08, 0.12, 'sine']],
  online: [[523, 0, 0.12, 'triangle'], [659, 0.11, 0.12, 'triangle'], [784, 0.22, 0.2, 'triangle']],
  call: [[440, 0, 0.4, 'sine'], [480, 0, 0.4, 'sine'], [440, 0.55, 0.4, 'sine'], [480, 0.55, 0.4, 'sine']],
  mention: [[988, 0, 0.1, 'square'], [740, 0.1, 0.16, 'square']],
  missed: [[660, 0, 0.18, 'sine'], [494, 0.2, 0.18, 'sine'], [392, 0.4, 0.3, 'sine']], // falling: the call is over
};

export class Sounds {
  constructor() {
    this.enabled = true;
    this.ctx = null;
    this.log = []; // the last sounds played, for the tests and for curiosity
    this.ringTimer = null;
  }

  // unlock creates the AudioContext inside a user gesture, as browsers require.
  unlock() {
    const AC = globalThis.AudioContext || globalThis.webkitAudioContext;
    if (!AC) return;
    try {
      this.ctx ||= new AC();
      if (this.ctx.state === 'suspended') this.ctx.resume();
    } catch { this.ctx = null; }
  }

  play(name) {
    if (!this.enabled) return;
    this.log.push({ name, at: Date.now() });
    if (this.log.length > 50) this.log.shift();
    const notes = sounds[name];
    if (!notes || !this.ctx) return;
    const ctx = this.ctx;
    const t0 = ctx.currentTime + 0.01;
    for (const [f, start, dur, type] of notes) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = type;
      osc.frequency.value = f;
      gain.gain.setValueAtTime(0.0001, t0 + start);
      gain.gain.exponentialRampToValueAtTime(0.18, t0 + start + 0.015);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + start + dur);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0 + start);
      osc.stop(t0 + start + dur + 0.02);
    }
  }

  // ring plays the call sound every 2 s (as the terminal client's bell) until stopRing.
  ring() {
    if (this.ringTimer) return;
    this.play('call');
    this.ringTimer = setInterval(() => this.play('call'), 2000);
  }

  stopRing() {
    clearInterval(this.ringTimer);
    this.ringTimer = null;
  }
}

// TitleFlasher keeps "(3) labchat" in the title while there are unread messages, and while
// the tab is hidden alternates it with a louder line and the red-dot favicon.
export class TitleFlasher {
  constructor(doc, t) {
    this.doc = doc;
    this.t = t;
    this.count = 0;
    this.base = 'labchat';
    this.timer = null;
    this.phase = false;
  }

  update(count, hidden, base) {
    this.count = count;
    if (base) this.base = base;
    const flashing = hidden && count > 0;
    if (flashing && !this.timer) {
      this.timer = setInterval(() => { this.phase = !this.phase; this.paint(true); }, 1000);
    } else if (!flashing && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
      this.phase = false;
    }
    this.paint(flashing);
  }

  paint(flashing) {
    const prefix = this.count > 0 ? `(${this.count}) ` : '';
    this.doc.title = flashing && this.phase ? `★ ${this.t('titleNew', this.count)} — ${this.base}` : prefix + this.base;
    const icon = this.doc.getElementById('favicon');
    const want = this.count > 0 && (!flashing || !this.phase) ? 'favicon-unread.svg' : 'favicon.svg';
    if (icon && icon.getAttribute('href') !== want) icon.setAttribute('href', want);
  }
}

// notify shows a desktop notification when allowed; clicking it focuses the tab and runs
// onclick. It returns the Notification or null.
export function notify(title, body, tag, onclick) {
  const N = globalThis.Notification;
  if (!N || N.permission !== 'granted') return null;
  try {
    const n = new N(title, { body, tag, renotify: !!tag });
    n.onclick = () => { globalThis.focus(); onclick && onclick(); n.close(); };
    return n;
  } catch {
    return null; // some browsers allow notifications only from a service worker
  }
}

export function askNotificationPermission() {
  const N = globalThis.Notification;
  if (N && N.permission === 'default') {
    try { N.requestPermission().catch(() => {}); } catch { /* old callback form */ }
  }
}
