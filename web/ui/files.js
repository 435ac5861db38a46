// Files in the browser: the attach button, drag and drop and pasted images upload to the
// server's draft/FILEHOST (lib/files.js) with a progress bar; file links in messages become
// cards: an image preview, or a card with the name, the size and a download button (a
// pcap/pcapng says it is a packet capture for Wireshark). And the search dialog
// (soju.im/search): results open in their conversation around the message.
//
// Files are only served to logged-in users, so an <img src> or a plain link cannot fetch
// them: the bytes are fetched with the session's token (Authorization: Bearer) and shown
// from a blob: URL. Blob URLs are kept per file path for the page's life (a lab session).

import { h, $, icon } from './dom.js';
import { filehost, uploadPath, tokenOf, parseFileLink, fileKind, humanBytes, uploadMessage, contentDisposition, pastedName, searchAttrs } from '../lib/files.js';
import { isRoom, casefold } from '../lib/irc.js';

const blobs = new Map(); // path → Promise<{url, size, type}>
let wired = false;

function uploadURL(app) {
  return app.client ? filehost(app.client.isupport) : '';
}

function token(app) {
  const u = uploadURL(app);
  return u ? tokenOf(u) : '';
}

// fetchFile fetches a file's bytes once, with the session's token.
export function fetchFile(app, path) {
  if (!blobs.has(path)) {
    const p = (async () => {
      const res = await fetch(path, { headers: { Authorization: 'Bearer ' + token(app) }, cache: 'no-store' });
      if (!res.ok) {
        const text = (await res.text()).trim();
        const err = new Error(text || res.status + ' ' + res.statusText);
        err.status = res.status;
        throw err;
      }
      const blob = await res.blob();
      return { url: URL.createObjectURL(blob), size: blob.size, type: blob.type };
    })();
    blobs.set(path, p);
    p.catch(() => blobs.delete(path)); // a later render tries again (after a re-login)
  }
  return blobs.get(path);
}

// ---- uploading ----

export function wireFiles(app) {
  if (wired) return;
  wired = true;
  const picker = $('file-input');
  $('attach-btn').onclick = () => picker.click();
  picker.onchange = () => {
    for (const f of picker.files) app.uploadFile(f);
    picker.value = '';
  };
  const zone = $('conversation');
  let depth = 0;
  zone.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth++;
    zone.classList.add('dropping');
  });
  zone.addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); });
  zone.addEventListener('dragleave', () => { if (--depth <= 0) { depth = 0; zone.classList.remove('dropping'); } });
  zone.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    zone.classList.remove('dropping');
    for (const f of e.dataTransfer.files) app.uploadFile(f);
  });
  $('input').addEventListener('paste', (e) => {
    const files = [...(e.clipboardData?.items || [])].filter((it) => it.kind === 'file').map((it) => it.getAsFile()).filter(Boolean);
    if (!files.length) return;
    e.preventDefault();
    for (const f of files) {
      const named = f.name && f.name !== 'image.png' ? f : new File([f], pastedName(f.type), { type: f.type });
      app.uploadFile(named);
    }
  });
  $('search-btn').onclick = () => openSearch(app);
  $('search-form').onsubmit = (e) => { e.preventDefault(); runSearch(app); };
  $('search-close').onclick = () => $('search-dialog').close();
}

function hasFiles(e) {
  return [...(e.dataTransfer?.types || [])].includes('Files');
}

// upload POSTs one file with progress; it resolves with the link and rejects with the
// server's words.
export function upload(app, file, onProgress) {
  return new Promise((resolve, reject) => {
    const url = uploadURL(app);
    if (!url) { reject(new Error(app.t('uploadsOff'))); return; }
    const xhr = new XMLHttpRequest();
    xhr.open('POST', uploadPath(url));
    xhr.setRequestHeader('Content-Disposition', contentDisposition(file.name));
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
    xhr.onload = () => {
      if (xhr.status === 201 && xhr.getResponseHeader('Location')) resolve(xhr.getResponseHeader('Location'));
      else reject(new Error((xhr.responseText || '').trim() || xhr.status + ' ' + xhr.statusText));
    };
    xhr.onerror = () => reject(new Error(app.t('uploadNetwork')));
    xhr.send(file);
  });
}

// showProgress shows (or with total < 0, hides) one upload's bar under the composer.
export function showProgress(app, id, name, sent, total) {
  const box = $('uploads');
  let row = box.querySelector(`[data-upload="${id}"]`);
  if (total < 0) { row?.remove(); box.hidden = !box.children.length; return; }
  if (!row) {
    row = h('div', { class: 'upload-row', 'data-upload': id },
      h('span', { class: 'upload-name' }, name),
      h('progress', { max: 100, value: 0, 'aria-label': app.t('uploading', name) }),
      h('span', { class: 'upload-pct' }, '0%'));
    box.append(row);
  }
  const pct = total > 0 ? Math.floor((sent * 100) / total) : 0;
  row.querySelector('progress').value = pct;
  row.querySelector('.upload-pct').textContent = pct + '% · ' + humanBytes(sent) + ' / ' + humanBytes(total);
  box.hidden = false;
}

export { uploadMessage };

// ---- cards ----

// fileCards are the cards for the file links in a message's text.
// canDelete: the message is the user's own (its uploader) or the user is a server operator;
// the server decides in the end (403 otherwise).
export function fileCards(app, text, canDelete = false) {
  const cards = [];
  for (const word of text.split(/\s+/)) {
    const link = parseFileLink(word.replace(/[.,;:!?)\]]+$/, ''));
    if (link) cards.push(card(app, link, sizeIn(text), canDelete));
  }
  return cards;
}

// deleteFile asks the server to delete a file (DELETE /files/<id>).
export async function deleteFile(app, path) {
  const res = await fetch(path, { method: 'DELETE', headers: { Authorization: 'Bearer ' + token(app) } });
  if (res.status !== 204) throw new Error((await res.text()).trim() || String(res.status));
  blobs.delete(path);
}

function sizeIn(text) {
  const m = /\((\d+(?:\.\d+)?) (MiB|KiB|bytes)\)/.exec(text);
  return m ? m[1] + ' ' + m[2] : '';
}

function card(app, link, size, canDelete) {
  const kind = fileKind(link.name);
  const status = h('span', { class: 'file-status', role: 'status' });
  const fail = (err) => {
    status.textContent = err.status === 404 ? app.t('fileGone') : err.message;
    el.classList.add('failed');
  };
  const download = async () => {
    try {
      status.textContent = app.t('downloading');
      const f = await fetchFile(app, link.path);
      const a = h('a', { href: f.url, download: link.name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      status.textContent = '';
    } catch (err) { fail(err); }
  };
  const remove = canDelete ? h('button', {
    type: 'button', class: 'small danger file-delete',
    onclick: async () => {
      if (!window.confirm(app.t('deleteFileConfirm', link.name))) return;
      try {
        await deleteFile(app, link.path);
        el.classList.add('deleted');
        el.replaceChildren(h('span', { class: 'file-status' }, app.t('fileGone')));
      } catch (err) { fail(err); }
    },
  }, app.t('deleteFile')) : null;
  let el;
  if (kind === 'image') {
    const img = h('img', { class: 'file-preview', alt: link.name, 'data-file': link.id });
    el = h('figure', { class: 'file-card image', 'data-file-kind': kind },
      h('button', { type: 'button', class: 'preview-btn', 'aria-label': app.t('openImage', link.name), onclick: async () => { try { window.open((await fetchFile(app, link.path)).url, '_blank', 'noopener'); } catch (err) { fail(err); } } }, img),
      h('figcaption', {}, link.name, size ? ' · ' + size : '', ' ', h('button', { type: 'button', class: 'small file-download', onclick: download }, app.t('download')), remove, status));
    fetchFile(app, link.path).then((f) => { img.src = f.url; }, fail);
  } else {
    el = h('div', { class: 'file-card ' + kind, 'data-file-kind': kind, 'data-file': link.id },
      h('span', { class: 'file-icon', 'aria-hidden': 'true' }, kind === 'capture' ? 'PCAP' : 'FILE'),
      h('span', { class: 'file-info' },
        h('span', { class: 'file-name' }, link.name),
        h('span', { class: 'file-meta' }, [kind === 'capture' ? app.t('captureKind') : app.t('fileKind'), size].filter(Boolean).join(' · '))),
      h('button', { type: 'button', class: 'small primary file-download', onclick: download }, app.t('download')),
      remove, status);
  }
  return el;
}

// openFileLink opens a link to an uploaded file with the session's token (a plain
// navigation would carry none and get 401); other links open as usual.
export function openFileLink(app, href, e) {
  const link = parseFileLink(href);
  if (!link || !app) return;
  e.preventDefault();
  const tab = window.open('', '_blank');
  fetchFile(app, link.path).then((f) => {
    if (tab) { tab.opener = null; tab.location.href = f.url; }
  }, (err) => { tab?.close(); app.composerError(err.message); });
}

// ---- search ----

function openSearch(app) {
  const c = app.activeConv();
  const scope = $('search-scope');
  scope.replaceChildren(h('option', { value: '' }, app.t('searchAll')),
    c && c.kind !== 'server' ? h('option', { value: c.name }, app.t('searchIn', c.name)) : null);
  $('search-error').hidden = true;
  $('search-dialog').showModal();
  $('search-input').focus();
}

async function runSearch(app) {
  const text = $('search-input').value.trim();
  const list = $('search-results');
  const err = $('search-error');
  err.hidden = true;
  if (!text) return;
  list.replaceChildren(h('li', { class: 'muted' }, app.t('searching')));
  let msgs;
  try {
    msgs = await app.client.search(searchAttrs({ text, in: $('search-scope').value }));
  } catch (e) {
    list.replaceChildren();
    err.textContent = e.message === 'no-search' ? app.t('searchOff') : e.message;
    err.hidden = false;
    return;
  }
  const st = app.state;
  const hits = msgs.filter((m) => m.command === 'PRIVMSG' || m.command === 'NOTICE').reverse();
  $('search-count').textContent = app.t('searchCount', hits.length);
  list.replaceChildren(...(hits.length ? hits.map((m) => {
    const from = (m.source || '').split('!')[0];
    const to = m.params[0] || '';
    const conv = isRoom(to) ? to : st.isMe(from) ? to : from;
    const text = (m.params[1] || '').replace(/^\x01ACTION (.*?)\x01?$/, '* ' + from + ' $1');
    const when = m.tags.time ? new Date(m.tags.time).toLocaleString(app.lang === 'zh' ? 'zh-CN' : undefined) : '';
    return h('li', {}, h('button', { type: 'button', class: 'search-hit', 'data-msgid': m.tags.msgid || '', onclick: () => openResult(app, conv, m) },
      h('span', { class: 'hit-where' }, conv, ' · ', from, ' · ', when),
      h('span', { class: 'hit-text' }, text)));
  }) : [h('li', { class: 'muted' }, app.t('searchNone'))]));
}

// openResult opens the conversation and shows the message among its neighbours
// (CHATHISTORY AROUND), highlighted.
async function openResult(app, conv, m) {
  $('search-dialog').close();
  app.open(conv);
  const msgid = m.tags.msgid;
  if (!msgid) return;
  const c = app.state.find(casefold(conv)) || app.activeConv();
  try {
    const around = await app.client.history('AROUND', conv, 'msgid=' + msgid, 21);
    app.state.applyHistory(conv, around);
  } catch { /* the message may still be shown from the page loaded already */ }
  app.render();
  const el = document.querySelector(`#messages [data-msgid="${CSS.escape(msgid)}"]`);
  if (el) {
    el.classList.add('found');
    el.scrollIntoView({ block: 'center' });
    app.atBottom = false;
  }
  if (c) c.highlight = msgid;
}
