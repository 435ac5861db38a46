// Popup menus (a name's actions), the one-field prompt dialog and the room list (LIST).

import { h, $, icon } from './dom.js';

export function openMenu(anchor, title, items) {
  const menu = $('menu');
  menu.replaceChildren(h('div', { class: 'menu-title' }, title),
    ...items.map((it) => h('button', { type: 'button', role: 'menuitem', onclick: () => { closeMenu(); it.run(); } }, it.label)));
  menu.hidden = false;
  const r = anchor.getBoundingClientRect();
  const w = menu.offsetWidth;
  const hgt = menu.offsetHeight;
  menu.style.left = Math.max(4, Math.min(r.left, window.innerWidth - w - 4)) + 'px';
  menu.style.top = (r.bottom + hgt + 4 > window.innerHeight ? Math.max(4, r.top - hgt - 4) : r.bottom + 4) + 'px';
  menu.querySelector('button').focus();
  menu.onkeydown = (e) => {
    const buttons = [...menu.querySelectorAll('button')];
    const i = buttons.indexOf(document.activeElement);
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      buttons[(i + (e.key === 'ArrowDown' ? 1 : buttons.length - 1)) % buttons.length].focus();
    }
  };
  setTimeout(() => document.addEventListener('pointerdown', outside, { capture: true }), 0);
}

function outside(e) {
  if (!$('menu').contains(e.target)) closeMenu();
}

export function closeMenu() {
  $('menu').hidden = true;
  document.removeEventListener('pointerdown', outside, { capture: true });
}

// promptDialog asks for one value; validate returns an error text or ''. It resolves with
// the value, or null when cancelled.
export function promptDialog(app, label, validate, initial = '') {
  const dlg = $('prompt-dialog');
  const input = $('prompt-input');
  const err = $('prompt-error');
  $('prompt-label').textContent = label;
  input.value = initial;
  err.hidden = true;
  dlg.returnValue = '';
  return new Promise((resolve) => {
    const form = $('prompt-form');
    form.onsubmit = (e) => {
      if (e.submitter && e.submitter.value === 'cancel') return;
      const problem = validate(input.value);
      if (problem) {
        e.preventDefault();
        err.textContent = problem;
        err.hidden = false;
      }
    };
    dlg.onclose = () => resolve(dlg.returnValue === 'ok' ? input.value : null);
    dlg.showModal();
    input.focus();
  });
}

export async function showRoomList(app) {
  const dlg = $('list-dialog');
  const list = $('room-list');
  list.replaceChildren(h('li', { class: 'empty' }, app.t('loadingRooms')));
  $('list-close').onclick = () => dlg.close();
  dlg.showModal();
  try {
    const rooms = (await app.client.list()).sort((a, b) => b.users - a.users || a.name.localeCompare(b.name));
    list.replaceChildren(...(rooms.length ? rooms.map((r) => {
      const joined = app.state.find(r.name)?.joined;
      return h('li', { 'data-room': r.name },
        h('span', { class: 'r-name' }, r.name),
        h('span', { class: 'muted' }, icon('users'), ' ' + r.users),
        h('span', { class: 'r-topic' }, r.topic),
        h('button', {
          type: 'button', class: 'small' + (joined ? '' : ' primary'),
          onclick: () => {
            dlg.close();
            if (joined) app.open(r.name);
            else { app.pendingOpen = r.name.toLowerCase(); app.send('JOIN', r.name); }
          },
        }, joined ? app.t('open') : app.t('join')));
    }) : [h('li', { class: 'empty' }, app.t('noRooms'))]));
  } catch (err) {
    list.replaceChildren(h('li', { class: 'form-error' }, String(err.message || err)));
  }
}
