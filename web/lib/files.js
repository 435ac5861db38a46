// Files and search without the DOM: where to upload (draft/FILEHOST), what a file link is,
// how an upload is announced, and SEARCH's attribute string (soju.im/search).
//
// The page may be served by the server itself, by a reverse proxy, or by `labchat open` on
// the student's PC: the upload URL the server advertises names the host the server saw, so
// only its path is used, against the page's own origin (the server, or whatever serves the
// page and forwards /upload and /files/ to it). File links in messages are treated the same
// way: their path is fetched from this page's origin, whatever host the link names.

// filehost returns the upload URL from ISUPPORT (draft/FILEHOST, else soju.im/FILEHOST), or ''.
export function filehost(isupport) {
  for (const key of ['DRAFT/FILEHOST', 'SOJU.IM/FILEHOST']) {
    const v = isupport[key];
    if (typeof v !== 'string') continue;
    for (const u of v.replace(/\\x20/g, ' ').split(' ')) {
      try {
        const url = new URL(u);
        if (url.protocol === 'http:' || url.protocol === 'https:') return u;
      } catch { /* not a URL: the spec says to ignore it */ }
    }
  }
  return '';
}

// uploadPath is the upload URL's path, to POST on the page's own origin.
export function uploadPath(url) {
  return new URL(url).pathname;
}

// tokenOf is the session's secret in the upload URL (/upload/<token>), sent as Bearer to
// fetch files.
export function tokenOf(url) {
  const m = /\/upload\/([^/?#]+)$/.exec(new URL(url).pathname);
  return m ? m[1] : '';
}

const fileLinkRe = /^\/files\/([a-z2-7]{26})(?:\/([^/?#]*))?$/;

// parseFileLink recognises a link to an uploaded file: {path, id, name}, else null.
export function parseFileLink(href) {
  let url;
  try { url = new URL(href); } catch { return null; }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  const m = fileLinkRe.exec(url.pathname);
  if (!m) return null;
  let name = '';
  try { name = decodeURIComponent(m[2] || ''); } catch { name = m[2] || ''; }
  return { path: url.pathname, id: m[1], name: name || m[1] };
}

// fileKind says how a file is shown: an inline image, a packet capture card, or a file card.
export function fileKind(name) {
  const ext = (/\.([^.]+)$/.exec(name.toLowerCase()) || [])[1] || '';
  if (['png', 'jpg', 'jpeg', 'gif', 'webp'].includes(ext)) return 'image';
  if (['pcap', 'pcapng', 'cap'].includes(ext)) return 'capture';
  return 'file';
}

export function humanBytes(n) {
  if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1).replace(/\.0$/, '') + ' MiB';
  if (n >= 1 << 10) return Math.floor(n / 1024) + ' KiB';
  return n + ' bytes';
}

// uploadMessage is the line announcing an upload, as the terminal client writes it.
export function uploadMessage(name, size, link) {
  return name + ' (' + humanBytes(size) + ') ' + link;
}

// contentDisposition names a file for the upload request, in RFC 5987 form so that any
// name (Chinese, spaces) survives a header that must be ASCII.
export function contentDisposition(name) {
  const enc = encodeURIComponent(name).replace(/['()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  return "attachment; filename*=UTF-8''" + enc;
}

// fileFromPaste names a pasted image (the clipboard gives "image.png" or nothing).
export function pastedName(type, now = new Date()) {
  const ext = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/webp': 'webp' }[type] || 'bin';
  const p = (n) => String(n).padStart(2, '0');
  return `pasted-${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}.${ext}`;
}

// escapeSearchValue escapes a SEARCH attribute value as a message-tag value.
export function escapeSearchValue(v) {
  return v.replace(/\\/g, '\\\\').replace(/;/g, '\\:').replace(/ /g, '\\s').replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}

// searchAttrs builds SEARCH's argument.
export function searchAttrs({ text, in: where = '', limit = 50 }) {
  let a = 'text=' + escapeSearchValue(text.trim());
  if (where) a += ';in=' + escapeSearchValue(where);
  return a + ';limit=' + limit;
}
