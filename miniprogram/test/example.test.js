'use strict';

// Runs the example mini program's page against the real server: copies
// the example and the kit into a temp dir as the README says, points
// BASE_URL at the test server, and drives the page's handlers as WeChat
// would with App()/Page()/getApp() stand-ins.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { env, newPhone, phoneCode } = require('./wx.js');

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);

function loadExample(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniauth-example-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.cpSync(path.join(__dirname, '..', 'example'), dir, { recursive: true });
  fs.cpSync(path.join(__dirname, '..', 'miniauth'), path.join(dir, 'miniauth'), { recursive: true });
  const appJS = path.join(dir, 'app.js');
  const src = fs.readFileSync(appJS, 'utf8');
  const pointed = src.replace(/const BASE_URL = '[^']*';/, `const BASE_URL = '${env.url}';`);
  assert.notEqual(pointed, src, 'app.js defines BASE_URL');
  fs.writeFileSync(appJS, pointed);

  let app;
  let page;
  const pageOf = {};
  globalThis.App = (o) => { app = o; };
  globalThis.getApp = () => app;
  globalThis.Page = (o) => {
    page = Object.assign({}, o, {
      data: structuredClone(o.data),
      setData(d, cb) {
        Object.assign(this.data, d);
        if (cb) cb();
      },
    });
  };
  t.after(() => {
    delete globalThis.App;
    delete globalThis.getApp;
    delete globalThis.Page;
  });
  require(appJS);
  const pages = JSON.parse(fs.readFileSync(path.join(dir, 'app.json'), 'utf8')).pages;
  for (const p of pages) {
    require(path.join(dir, p + '.js'));
    pageOf[p] = page;
    for (const ext of ['.wxml', '.wxss', '.json']) assert.ok(fs.existsSync(path.join(dir, p + ext)), p + ext);
  }
  return { page: pageOf[pages[0]], pageOf, dir, app };
}

test('example page: log in, edit the profile, bind a phone, log out', async (t) => {
  const phone = newPhone();
  const { page, dir } = loadExample(t);

  page.onLoad();
  assert.equal(page.data.user, null);
  await page.onShow();
  assert.equal(phone.requests.length, 0, 'nothing is sent before the user logs in');

  await page.onLogin();
  assert.equal(page.data.error, '');
  assert.equal(typeof page.data.user.id, 'number');
  assert.equal(phone.logins, 1);

  await page.onSaveProfile({ detail: { value: { nickname: '  Bob  ' } } });
  assert.equal(page.data.error, '');
  assert.equal(page.data.user.nickname, 'Bob');

  // WeChat's content check refuses a nickname: shown next to the field.
  await page.onSaveProfile({ detail: { value: { nickname: 'so risky' } } });
  assert.equal(page.data.error, '');
  assert.match(page.data.nicknameError, /内容安全/);
  assert.equal(page.data.user.nickname, 'Bob');
  await page.onSaveProfile({ detail: { value: { nickname: 'Bob' } } });
  assert.equal(page.data.nicknameError, '');

  const avatar = path.join(dir, 'tmp_avatar.png');
  fs.writeFileSync(avatar, PNG);
  await page.onChooseAvatar({ detail: { avatarUrl: avatar } });
  assert.equal(page.data.error, '');
  assert.ok(page.data.avatarSrc.startsWith(env.url + '/uploads/avatars/'), page.data.avatarSrc);
  const img = await fetch(page.data.avatarSrc);
  assert.equal(img.status, 200);

  const before = phone.requests.length;
  await page.onGetPhoneNumber({ detail: { errMsg: 'getPhoneNumber:fail user deny' } });
  assert.equal(phone.requests.length, before, 'a declined phone number sends nothing');
  const code = await phoneCode('13800138011');
  await page.onGetPhoneNumber({ detail: { code } });
  assert.equal(page.data.error, '');
  assert.match(page.data.user.phone, /13800138011$/);

  await page.onShow();
  assert.equal(page.data.user.nickname, 'Bob');

  await page.onLogout();
  assert.equal(page.data.user, null);
  assert.equal(phone.wx.getStorageSync('miniauth:tokens'), '');
  assert.equal(phone.logins, 1);
});

test('example devices page: phone sign-up, then list and sign out devices', async (t) => {
  const phone = newPhone();
  phone.wx.navigateTo = () => {};
  const { page, pageOf, app } = loadExample(t);
  page.onLoad();
  await page.onPhoneLogin({ detail: { errMsg: 'getPhoneNumber:fail user deny' } });
  assert.equal(phone.requests.length, 0, 'a declined phone number sends nothing');
  await page.onPhoneLogin({ detail: { code: await phoneCode('13700137000') } });
  assert.equal(page.data.error, '');
  assert.match(page.data.user.phone, /13700137000$/);

  // The same person on a second device.
  const { createClient } = require(path.join(__dirname, '..', 'miniauth', 'index.js'));
  const other = createClient({ baseURL: env.url, storagePrefix: 'other-device:' });
  await other.login();

  const devices = pageOf['pages/devices/devices'];
  await devices.onShow();
  assert.equal(devices.data.error, '');
  assert.equal(devices.data.sessions.length, 2);
  assert.equal(devices.data.sessions.filter((s) => s.current).length, 1);
  await devices.onEndOthers();
  assert.equal(devices.data.error, '');
  assert.equal(devices.data.sessions.length, 1);
  assert.ok(devices.data.sessions[0].current);
  assert.ok(app.auth.isLoggedIn());
});

test('example page shows the phone button only when offered, and falls back when the quota is gone', async (t) => {
  const phone = newPhone();
  const { page } = loadExample(t);
  page.onLoad();
  assert.equal(page.data.phoneOffered, false, 'no button before the server offers it');

  // Logged out, the phone sign-up button falls back to the WeChat login.
  await page.onPhoneLogin({ detail: { errMsg: 'getPhoneNumber:fail no quota', errno: 1400001 } });
  assert.equal(phone.requests.length, 0, 'no quota: nothing sent');
  assert.equal(page.data.phoneSignUp, false);
  assert.match(page.data.phoneNote, /log in with WeChat/);

  await page.onLogin();
  assert.equal(page.data.error, '');
  assert.equal(page.data.phoneOffered, true);
  assert.equal(phone.count('/api/me/phone/offer'), 1);

  const before = phone.requests.length;
  await page.onGetPhoneNumber({ detail: { errMsg: 'getPhoneNumber:fail no quota', errno: 1400001 } });
  assert.equal(phone.requests.length, before, 'no quota: nothing sent');
  assert.equal(page.data.phoneOffered, false, 'the button goes away');
  assert.notEqual(page.data.phoneNote, '');

  // Shown again later (the quota was topped up): offered again.
  await page.onShow();
  assert.equal(page.data.phoneOffered, true);
  await page.onGetPhoneNumber({ detail: { code: await phoneCode('13600136001') } });
  assert.equal(page.data.error, '');
  assert.match(page.data.user.phone, /13600136001$/);
  assert.equal(page.data.phoneOffered, false, 'verified: no button');
});
