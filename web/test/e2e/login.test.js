// Registration and login on one screen, with the specific errors, remembered accounts and
// the Chinese UI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, user, register, login, run, shot, stopServer, startServer, controlURL } from './harness.js';

let browser;
const name = 'dora' + run;

before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function errorText(page) {
  const box = page.locator('#login-error');
  await box.waitFor();
  return box.innerText();
}

test('a new name offers to create the account, then logs in', async () => {
  const { page } = await user(browser);
  await shot(page, 'login-light');
  await page.fill('#login-account', name);
  await page.fill('#login-password', 'secret-' + name);
  await page.click('#login-submit');
  assert.match(await errorText(page), new RegExp('There is no account named ' + name));
  await page.click('#create-it');
  await page.waitForSelector('#chat-screen:not([hidden])');
  assert.equal(await page.textContent('#me-name'), name);
  await page.click('#logout-btn');
  await page.waitForSelector('#login-screen:not([hidden])');
  const recent = page.locator('#recent-list .recent-account', { hasText: name });
  await recent.waitFor();
  assert.match(await recent.innerText(), /last login/);
  assert.equal(await page.evaluate(() => JSON.stringify(localStorage).includes('secret-')), false, 'no password in localStorage');
  await page.context().close();
});

test('wrong password, name taken, password too short, bad name: each says so', async () => {
  const { page } = await user(browser);
  await page.fill('#login-account', name);
  await page.fill('#login-password', 'not-the-password');
  await page.click('#login-submit');
  assert.match(await errorText(page), new RegExp('Wrong password for ' + name));

  await page.click('#tab-register');
  await page.fill('#login-account', name);
  await page.fill('#login-password', 'whatever1');
  await page.click('#login-submit');
  assert.match(await errorText(page), /already taken/);

  await page.fill('#login-account', 'eve' + run);
  await page.fill('#login-password', 'ab');
  await page.click('#login-submit');
  assert.match(await errorText(page), /too short: use at least 4/);

  await page.fill('#login-account', '9lives' + run);
  await page.fill('#login-password', 'secret-x');
  await page.click('#login-submit');
  assert.match(await errorText(page), /Account names start with a letter, then letters, digits, - and _ \(9lives/);

  // Each refused name says exactly why, and nothing is cut to fit (issue 16).
  for (const [bad, why] of [
    ['张三', /Account names use a–z, 0–9, - and _; put 张三 in your display name/],
    ['Zoë', /put Zoë in your display name/],
    ['a'.repeat(31), /at most 30 characters; a{31} has 31/],
    ['NickServ', /NickServ is the name of a service/],
    ['con', /con is a name Windows keeps for a device/],
  ]) {
    await page.fill('#login-account', bad);
    await page.click('#login-submit');
    await page.waitForFunction((re) => new RegExp(re).test(document.querySelector('#login-error').innerText), why.source, { timeout: 10000 })
      .catch(() => {});
    assert.match(await errorText(page), why, bad);
  }

  await page.click('#tab-login');
  await login(page, name);
  await page.locator('#messages .sys', { hasText: 'Your previous login:' }).waitFor();
  await page.context().close();
});

test('the server being down is said plainly, and a retry works once it is back', { skip: !controlURL && 'no LABCHAT_CONTROL_URL' }, async () => {
  const { page } = await user(browser);
  await stopServer();
  try {
    await page.fill('#login-account', name);
    await page.fill('#login-password', 'secret-' + name);
    await page.click('#login-submit');
    assert.match(await errorText(page), /Cannot reach the chat server/);
  } finally {
    await startServer();
  }
  await page.click('#login-submit');
  await page.waitForSelector('#chat-screen:not([hidden])');
  await page.context().close();
});

test('the Chinese UI follows the browser language and has a switch', async () => {
  const { page } = await user(browser, { locale: 'zh-CN' });
  assert.equal(await page.textContent('#login-submit'), '登录');
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  await page.fill('#login-account', name);
  await page.fill('#login-password', 'wrong-again');
  await page.click('#login-submit');
  assert.match(await errorText(page), /的密码不对/);
  await shot(page, 'login-zh');
  await login(page, name);
  assert.equal(await page.textContent('#conv-list + h2 span, .small-head.with-btn span'), '联系人');
  await shot(page, 'chat-zh');
  await page.selectOption('#chat-lang', 'en');
  assert.equal(await page.textContent('.small-head.with-btn span'), 'Contacts');
  await page.context().close();
});

test('too many wrong passwords for one account are throttled, and the form says for how long', async () => {
  const victim = 'thr' + run;
  const { page } = await user(browser);
  await register(page, victim);
  await page.click('#logout-btn');
  await page.fill('#login-account', victim);
  let text = '';
  for (let i = 0; i < 15 && !/Too many failed logins/.test(text); i++) {
    await page.fill('#login-password', 'wrong-' + i);
    await page.click('#login-submit');
    await page.waitForFunction(() => !document.getElementById('login-submit').disabled);
    text = await errorText(page);
  }
  assert.match(text, /Too many failed logins from this computer\. Try again in \d+ s\./);
  await page.context().close();
});

test('stay logged in hands the password to the credential store, never to localStorage', async () => {
  // Headless Chromium keeps no passwords, so its credential store is played by this tab's
  // sessionStorage (which survives a reload): the test checks what the client asks of it.
  const init = () => {
    const saved = () => JSON.parse(sessionStorage.getItem('__cred') || 'null');
    navigator.credentials.store = async (c) => { sessionStorage.setItem('__cred', JSON.stringify({ id: c.id, password: c.password, type: c.type })); return c; };
    navigator.credentials.get = async (opts) => { const c = saved(); return c && opts.password ? new PasswordCredential({ id: c.id, password: c.password }) : null; };
    navigator.credentials.preventSilentAccess = async () => { sessionStorage.setItem('__cred', 'null'); };
  };
  const stay = 'stay' + run;
  const { page } = await user(browser, { init });
  await page.click('#tab-register');
  await page.fill('#login-account', stay);
  await page.fill('#login-password', 'secret-' + stay);
  await page.check('#login-stay');
  assert.match(await page.textContent('#stay-hint'), /password manager/);
  await page.click('#login-submit');
  await page.waitForSelector('#chat-screen:not([hidden])');
  assert.deepEqual(await page.evaluate(() => JSON.parse(sessionStorage.getItem('__cred'))), { id: stay, password: 'secret-' + stay, type: 'password' });
  assert.equal(await page.evaluate(() => JSON.stringify(localStorage).includes('secret-')), false);
  await page.reload();
  await page.waitForSelector('#chat-screen:not([hidden])');
  assert.equal(await page.textContent('#me-name'), stay, 'logged in again without typing');
  await page.click('#logout-btn');
  await page.reload();
  await page.waitForSelector('#login-screen:not([hidden])');
  assert.equal(await page.isVisible('#chat-screen'), false, 'logging out ends staying logged in');
  await page.context().close();
});
