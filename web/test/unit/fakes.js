// Test doubles for client.js: a WebSocket whose server side the test scripts, and timers
// the test fires by hand.
export class FakeServer {
  constructor() { this.sockets = []; this.refuse = false; }
  get last() { return this.sockets[this.sockets.length - 1]; }
  WebSocket() {
    const server = this;
    return class FakeWebSocket {
      constructor(url, protocols) {
        this.url = url;
        this.protocols = protocols;
        this.sent = [];
        this.closed = false;
        server.sockets.push(this);
        queueMicrotask(() => {
          if (server.refuse) { this.closed = true; this.onclose?.({ code: 1006 }); return; }
          this.onopen?.();
        });
      }
      send(line) { if (this.closed) throw new Error('send on closed socket'); this.sent.push(line); queueMicrotask(() => { if (!this.closed) server.onSend?.(this, line); }); }
      close() { if (this.closed) return; this.closed = true; queueMicrotask(() => this.onclose?.({ code: 1000 })); }
      // server side
      push(...lines) { for (const l of lines) this.onmessage?.({ data: l }); }
      drop() { this.closed = true; this.onclose?.({ code: 1006 }); }
    };
  }
}

export class FakeTimers {
  constructor() { this.next = 1; this.pending = new Map(); }
  setTimeout(fn, ms) { const id = this.next++; this.pending.set(id, { fn, ms }); return id; }
  clearTimeout(id) { this.pending.delete(id); }
  // fire runs the pending timers whose delay is at most ms (all if omitted).
  fire(maxMs = Infinity) {
    for (const [id, t] of [...this.pending]) {
      if (t.ms <= maxMs) { this.pending.delete(id); t.fn(); }
    }
  }
  delays() { return [...this.pending.values()].map((t) => t.ms); }
}

export const tick = () => new Promise((r) => setTimeout(r, 0));
