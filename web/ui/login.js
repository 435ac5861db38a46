// The login screen: log in or create an account in one form, the recent accounts of this
// computer with their last login time, and errors that say exactly what went wrong.

import { h, $ } from './dom.js';

let wired = false;

export function renderLogin(app) {
  const t = app.t;
  const register = app.loginMode === 'register';
  $('tab-login').setAttribute('aria-selected', String(!register));
  $('tab-register').setAttribute('aria-selected', String(register));
  $('email-field').hidden = !register;
  $('display-field').hidden = !register;
  $('login-password').setAttribute('autocomplete', register ? 'new-password' : 'current-password');
  const btn = $('login-submit');
  if (!btn.disabled) btn.textContent = t(register ? 'register' : 'login');
  const canStore = !!(globalThis.PasswordCredential && navigator.credentials);
  const hint = $('stay-hint');
  hint.textContent = t(canStore ? 'stayHintStore' : 'stayHintNoStore');
  hint.hidden = !$('login-stay').checked;

  const recent = app.store.recent();
  $('recent').hidden = recent.length === 0;
  $('recent-list').replaceChildren(...recent.map((r) => h('li', {},
    h('button', {
      type: 'button',
      class: 'recent-account',
      onclick: () => {
        $('login-account').value = r.account;
        app.loginMode = 'login';
        renderLogin(app);
        $('login-password').focus();
      },
    }, h('strong', { text: r.account }), h('span', { class: 'when', text: t('lastLogin', formatWhen(r.lastLogin, app.lang)) })),
    h('button', {
      type: 'button', class: 'icon', 'aria-label': t('forget', r.account), title: t('forget', r.account),
      onclick: () => { app.store.forget(r.account); renderLogin(app); },
    }, '×'))));

  if (wired) return;
  wired = true;
  $('tab-login').onclick = () => { app.loginMode = 'login'; app.showLoginError(null); renderLogin(app); };
  $('tab-register').onclick = () => { app.loginMode = 'register'; app.showLoginError(null); renderLogin(app); };
  $('login-stay').onchange = () => renderLogin(app);
  $('login-form').onsubmit = (e) => {
    e.preventDefault();
    app.submitLogin(app.loginMode === 'register');
  };
  if (recent.length && !$('login-account').value) $('login-account').value = recent[0].account;
  ($('login-account').value ? $('login-password') : $('login-account')).focus();
}

// loginErrorView explains a LoginError in the user's language, with the way out.
export function loginErrorView(app, err, { account = '', password = '' } = {}) {
  const t = app.t;
  const who = account || $('login-account').value.trim();
  const p = (text) => h('p', { text });
  switch (err.code) {
    case 'wrong-password': return [p(t('errWrongPassword', who))];
    case 'no-account':
      return [p(t('errNoAccount', who)), h('button', {
        type: 'button', class: 'primary', id: 'create-it',
        onclick: () => { app.loginMode = 'register'; $('login-password').value = password; renderLogin(app); app.submitLogin(true); },
      }, t('createIt'))];
    case 'name-taken':
      return [p(t('errNameTaken', who)), h('button', {
        type: 'button', class: 'link',
        onclick: () => { app.loginMode = 'login'; app.showLoginError(null); renderLogin(app); },
      }, t('haveAccount'))];
    case 'password-short': return [p(err.min ? t('errPasswordShort', err.min) : t('errPasswordShortAny', err.text))];
    case 'bad-name': return [p(badNameText(t, who, err.text || ''))];
    case 'locked': return [p(t('errLocked', who))];
    case 'throttled': return [p(t('errThrottled', err.wait || 60))];
    case 'server-down': return [p(t('errServerDown'))];
    case 'closed': return [p(t('errClosed', err.text))];
    case 'timeout': return [p(t('errTimeout'))];
    case 'registration-off': return [p(t('errRegistrationOff', err.text))];
    case 'nick-in-use': return [p(t('errNickInUse', who))];
    case 'need-name': return [p(t('errNeedName'))];
    case 'need-password': return [p(t('errNeedPassword'))];
    case 'login-lost': return [p(t('loginLost', err.text))];
  }
  return [p(t('errFailed', err.text || err.message || String(err)))];
}

// badNameText says exactly why a name was refused (the server's words decide where the name
// alone cannot: a service's name, a Windows device name).
export function badNameText(t, name, serverText) {
  if (/[^\x00-\x7f]/.test(name)) return t('errNameAscii', name);
  if (name.length > 30) return t('errNameLong', name, name.length);
  if (/service/i.test(serverText)) return t('errNameService', name);
  if (/device|reserved/i.test(serverText)) return t('errNameReserved', name);
  return t('errNameChars', name);
}

export function formatWhen(ms, lang) {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return '?';
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  const loc = lang === 'zh' ? 'zh-CN' : undefined;
  return sameDay
    ? d.toLocaleTimeString(loc, { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString(loc, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}
