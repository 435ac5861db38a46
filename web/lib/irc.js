// The IRC codec of the browser client: line parse and format (IRCv3 message tags), sources,
// CTCP, the server's casemapping, numerics by name, and link detection. No DOM, no I/O, so
// node --test covers all of it.

// Numerics the client reacts to, spelled as the RFCs and IRCv3 spell them.
export const RPL_WELCOME = '001';
export const RPL_ISUPPORT = '005';
export const RPL_AWAY = '301';
export const RPL_UNAWAY = '305';
export const RPL_NOWAWAY = '306';
export const RPL_ENDOFWHO = '315';
export const RPL_LISTSTART = '321';
export const RPL_LIST = '322';
export const RPL_LISTEND = '323';
export const RPL_NOTOPIC = '331';
export const RPL_TOPIC = '332';
export const RPL_WHOREPLY = '352';
export const RPL_NAMREPLY = '353';
export const RPL_ENDOFNAMES = '366';
export const ERR_NOSUCHNICK = '401';
export const ERR_NOSUCHCHANNEL = '403';
export const ERR_CANNOTSENDTOCHAN = '404';
export const ERR_ERRONEUSNICKNAME = '432';
export const ERR_NICKNAMEINUSE = '433';
export const ERR_PASSWDMISMATCH = '464';
export const RPL_MONONLINE = '730';
export const RPL_MONOFFLINE = '731';
export const RPL_LOGGEDIN = '900';
export const RPL_SASLSUCCESS = '903';
export const ERR_SASLFAIL = '904';
export const ERR_SASLTOOLONG = '905';
export const ERR_SASLABORTED = '906';
export const ERR_SASLALREADY = '907';

const tagEscapes = { ':': ';', s: ' ', '\\': '\\', r: '\r', n: '\n' };

function unescapeTag(v) {
  return v.replace(/\\(.?)/g, (_, c) => (c in tagEscapes ? tagEscapes[c] : c));
}

function escapeTag(v) {
  return v.replace(/[\\; \r\n]/g, (c) => ({ '\\': '\\\\', ';': '\\:', ' ': '\\s', '\r': '\\r', '\n': '\\n' })[c]);
}

// parseLine reads one IRC line (without CRLF) into {tags, source, command, params}.
// It returns null for an empty or malformed line.
export function parseLine(line) {
  line = line.replace(/[\r\n]+$/, '');
  let i = 0;
  const tags = {};
  if (line[0] === '@') {
    const end = line.indexOf(' ');
    if (end < 0) return null;
    for (const kv of line.slice(1, end).split(';')) {
      if (!kv) continue;
      const eq = kv.indexOf('=');
      if (eq < 0) tags[kv] = '';
      else tags[kv.slice(0, eq)] = unescapeTag(kv.slice(eq + 1));
    }
    i = end + 1;
  }
  while (line[i] === ' ') i++;
  let source = '';
  if (line[i] === ':') {
    const end = line.indexOf(' ', i);
    if (end < 0) return null;
    source = line.slice(i + 1, end);
    i = end + 1;
  }
  const params = [];
  let command = '';
  while (i < line.length) {
    while (line[i] === ' ') i++;
    if (i >= line.length) break;
    if (command && line[i] === ':') {
      params.push(line.slice(i + 1));
      break;
    }
    let end = line.indexOf(' ', i);
    if (end < 0) end = line.length;
    const word = line.slice(i, end);
    if (!command) command = word.toUpperCase();
    else params.push(word);
    i = end;
  }
  if (!command) return null;
  return { tags, source, command, params };
}

// formatLine encodes a command and its parameters; the last one becomes a trailing
// parameter when it needs to. It throws on CR, LF or NUL anywhere (line injection) and on a
// middle parameter that is empty, starts with ':' or holds a space.
export function formatLine(command, params = [], tags = null) {
  let out = '';
  if (tags && Object.keys(tags).length) {
    out = '@' + Object.entries(tags).map(([k, v]) => (v === '' || v == null ? k : k + '=' + escapeTag(String(v)))).join(';') + ' ';
  }
  out += command;
  params.forEach((p, idx) => {
    p = String(p);
    if (/[\r\n\0]/.test(p)) throw new Error('IRC parameter holds a line break or NUL');
    const last = idx === params.length - 1;
    if (last && (p === '' || p.includes(' ') || p[0] === ':')) {
      out += ' :' + p;
    } else {
      if (p === '' || p.includes(' ') || p[0] === ':') throw new Error('bad middle IRC parameter ' + JSON.stringify(p));
      out += ' ' + p;
    }
  });
  return out;
}

// parseSource splits nick!user@host.
export function parseSource(src) {
  const bang = src.indexOf('!');
  const at = src.indexOf('@');
  if (bang < 0 && at < 0) return { nick: src, user: '', host: '' };
  const nickEnd = bang >= 0 ? bang : at;
  return {
    nick: src.slice(0, nickEnd),
    user: bang >= 0 ? src.slice(bang + 1, at >= 0 ? at : undefined) : '',
    host: at >= 0 ? src.slice(at + 1) : '',
  };
}

// casefold follows the server's CASEMAPPING=ascii: only A-Z fold.
export function casefold(name) {
  return String(name).replace(/[A-Z]/g, (c) => c.toLowerCase());
}

export function isRoom(name) {
  return typeof name === 'string' && (name[0] === '#' || name[0] === '&');
}

// parseCTCP returns {command, args} for a \x01-framed message body, else null.
export function parseCTCP(text) {
  if (!text || text[0] !== '\x01') return null;
  let body = text.slice(1);
  if (body.endsWith('\x01')) body = body.slice(0, -1);
  const sp = body.indexOf(' ');
  if (sp < 0) return { command: body.toUpperCase(), args: '' };
  return { command: body.slice(0, sp).toUpperCase(), args: body.slice(sp + 1) };
}

export function ctcp(command, args) {
  return '\x01' + command + (args ? ' ' + args : '') + '\x01';
}

// parseCall reads a CALL CTCP's arguments "<id> <VERB>" as the terminal client writes them
// (client_calls.go): an id of 1-32 letters and digits and a verb.
export function parseCall(args) {
  const f = args.trim().split(/\s+/);
  if (f.length !== 2 || !/^[0-9A-Za-z]{1,32}$/.test(f[0])) return null;
  return { id: f[0], verb: f[1].toUpperCase() };
}

// messageTime is the server-time tag of a message, else the time it arrived.
export function messageTime(msg, now = Date.now()) {
  const t = msg.tags && msg.tags.time ? Date.parse(msg.tags.time) : NaN;
  return Number.isNaN(t) ? new Date(now) : new Date(t);
}

// isupport reads RPL_ISUPPORT tokens into an object (KEY=value, KEY → true, -KEY → deleted).
export function applyISupport(into, params) {
  for (const tok of params.slice(1, -1)) {
    if (tok[0] === '-') delete into[tok.slice(1).toUpperCase()];
    else {
      const eq = tok.indexOf('=');
      if (eq < 0) into[tok.toUpperCase()] = true;
      else into[tok.slice(0, eq).toUpperCase()] = tok.slice(eq + 1);
    }
  }
  return into;
}

// Formatting codes (bold, colours...) are stripped for display; the UI shows plain text.
export function stripFormatting(text) {
  return text.replace(/\x03(\d{1,2}(,\d{1,2})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]/g, '');
}

const linkRe = /\b(?:https?:\/\/|www\.)[^\s<>"']+/gi;

// linkify splits text into [{text}, {text, href}] pieces. Only http(s) links are made, and
// trailing punctuation stays outside the link, so "see http://x.org/a." links "http://x.org/a".
export function linkify(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(linkRe)) {
    let url = m[0];
    const trail = url.match(/[.,;:!?)\]}]+$/);
    if (trail && !(trail[0].startsWith(')') && url.includes('('))) url = url.slice(0, -trail[0].length);
    if (m.index > last) out.push({ text: text.slice(last, m.index) });
    const href = /^www\./i.test(url) ? 'http://' + url : url;
    out.push({ text: url, href });
    last = m.index + url.length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

// mentions reports whether text names nick as a word.
export function mentions(text, nick) {
  if (!nick) return false;
  const esc = nick.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp('(^|[^\\w-])' + esc + '($|[^\\w-])', 'i').test(text);
}

// utf8Base64 encodes a string for SASL PLAIN.
export function utf8Base64(s) {
  const bytes = new TextEncoder().encode(s);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

// splitMessage cuts text into pieces of at most maxBytes of UTF-8, at spaces where it can,
// never inside a character: the server refuses a line over 512 bytes, and the prefix and
// target it adds for the recipients take some of those.
export function splitMessage(text, maxBytes = 400) {
  const enc = new TextEncoder();
  const out = [];
  let rest = text;
  while (enc.encode(rest).length > maxBytes) {
    let bytes = 0;
    let cut = 0;
    let lastSpace = -1;
    for (const ch of rest) {
      const n = enc.encode(ch).length;
      if (bytes + n > maxBytes) break;
      bytes += n;
      cut += ch.length;
      if (ch === ' ') lastSpace = cut;
    }
    const at = lastSpace > cut / 2 ? lastSpace : cut;
    out.push(rest.slice(0, at).trimEnd());
    rest = rest.slice(at).trimStart();
  }
  if (rest) out.push(rest);
  return out;
}
