// Store keeps the client's small local settings in localStorage, under one versioned key
// each: recent accounts (name and last login time, never a password), per-account contacts
// and muted conversations, the sound switch, the language and the idle time. A broken or
// missing storage (private mode, quota) degrades to memory, never to an exception.

const prefix = 'labchat.v1.';
const maxRecent = 6;

export class Store {
  constructor(storage = globalThis.localStorage) {
    this.storage = storage;
    this.memory = new Map();
  }

  get(key, fallback) {
    try {
      const raw = this.storage ? this.storage.getItem(prefix + key) : this.memory.get(key);
      if (raw == null) return fallback;
      return JSON.parse(raw);
    } catch {
      return fallback;
    }
  }

  set(key, value) {
    const raw = JSON.stringify(value);
    try {
      if (this.storage) this.storage.setItem(prefix + key, raw);
      else this.memory.set(key, raw);
    } catch {
      this.memory.set(key, raw);
    }
  }

  // recent lists remembered accounts, most recent first: [{account, lastLogin (ms)}].
  recent() {
    const list = this.get('recent', []);
    return Array.isArray(list) ? list.filter((r) => r && typeof r.account === 'string') : [];
  }

  rememberLogin(account, when) {
    const list = this.recent().filter((r) => r.account.toLowerCase() !== account.toLowerCase());
    list.unshift({ account, lastLogin: when });
    this.set('recent', list.slice(0, maxRecent));
  }

  forget(account) {
    this.set('recent', this.recent().filter((r) => r.account.toLowerCase() !== account.toLowerCase()));
  }

  accountKey(account, what) {
    return 'acct.' + account.toLowerCase() + '.' + what;
  }

  contacts(account) { return this.get(this.accountKey(account, 'contacts'), []); }
  setContacts(account, list) { this.set(this.accountKey(account, 'contacts'), list); }
  muted(account) { return this.get(this.accountKey(account, 'muted'), []); }
  setMuted(account, list) { this.set(this.accountKey(account, 'muted'), list); }
  rooms(account) { return this.get(this.accountKey(account, 'rooms'), []); }
  setRooms(account, list) { this.set(this.accountKey(account, 'rooms'), list); }
}
