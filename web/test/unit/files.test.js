import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filehost, uploadPath, tokenOf, parseFileLink, fileKind, humanBytes, uploadMessage, contentDisposition, pastedName, searchAttrs } from '../../lib/files.js';

test('filehost reads draft/FILEHOST, then soju.im/FILEHOST, and ignores non-http values', () => {
  assert.equal(filehost({ 'DRAFT/FILEHOST': 'http://10.0.0.5:8080/upload/abc' }), 'http://10.0.0.5:8080/upload/abc');
  assert.equal(filehost({ 'SOJU.IM/FILEHOST': 'https://x.test/upload' }), 'https://x.test/upload');
  assert.equal(filehost({ 'DRAFT/FILEHOST': 'ftp://x/ javascript:alert(1)' }), '');
  assert.equal(filehost({}), '');
});

test('upload path and token come from the advertised URL', () => {
  assert.equal(uploadPath('http://10.0.0.5:8080/upload/tok_en-1'), '/upload/tok_en-1');
  assert.equal(tokenOf('http://10.0.0.5:8080/upload/tok_en-1'), 'tok_en-1');
  assert.equal(tokenOf('http://10.0.0.5:8080/upload'), '');
});

test('file links are recognised by path, whatever host they name', () => {
  const id = 'abcdefghijklmnopqrstuvwxyz';
  assert.deepEqual(parseFileLink(`http://10.0.0.5:8080/files/${id}/lab%203.pcap`), { path: `/files/${id}/lab%203.pcap`, id, name: 'lab 3.pcap' });
  assert.equal(parseFileLink(`http://x/files/${id.toUpperCase()}/a.png`), null);
  assert.equal(parseFileLink('http://x/files/short/a.png'), null);
  assert.equal(parseFileLink('javascript:alert(1)'), null);
});

test('kinds, sizes and the upload line', () => {
  assert.equal(fileKind('a.PNG'), 'image');
  assert.equal(fileKind('trace.pcapng'), 'capture');
  assert.equal(fileKind('evil.svg'), 'file');
  assert.equal(humanBytes(5 << 20), '5 MiB');
  assert.equal(humanBytes(1536), '1 KiB');
  assert.equal(uploadMessage('a.pcap', 5 << 20, 'http://h/files/x/a.pcap'), 'a.pcap (5 MiB) http://h/files/x/a.pcap');
});

test('names go in RFC 5987 form; pasted images get a dated name', () => {
  assert.equal(contentDisposition("实验 1's.png"), "attachment; filename*=UTF-8''%E5%AE%9E%E9%AA%8C%201%27s.png");
  assert.equal(pastedName('image/png', new Date(2026, 11, 6, 9, 5, 7)), 'pasted-20261206-090507.png');
});

test('search attributes escape spaces and semicolons', () => {
  assert.equal(searchAttrs({ text: 'stop the; capture', in: '#lab' }), 'text=stop\\sthe\\:\\scapture;in=#lab;limit=50');
});
