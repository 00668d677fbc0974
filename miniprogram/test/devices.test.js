'use strict';

// phoneLogin, the user's own sessions (listSessions, endSession,
// endOtherSessions), and appid with several mini programs, against the
// real server.

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const { createClient } = require('../miniauth/index.js');
const { env, newPhone, api, phoneCode } = require('./wx.js');

function uniquePhoneNumber() {
  return '136' + String(crypto.randomInt(0, 1e8)).padStart(8, '0');
}

test('phoneLogin signs up with the phone button, then logs the same user in', async () => {
  const phone = newPhone();
  const number = uniquePhoneNumber();
  const auth = createClient({ baseURL: env.url });
  const first = await auth.phoneLogin(await phoneCode(number));
  assert.equal(first.isNewUser, true);
  assert.equal(first.user.phone, number);
  assert.deepEqual(phone.requests, ['/api/auth/phone-login']);
  assert.equal(phone.logins, 1);
  assert.ok(auth.isLoggedIn());
  const me = await auth.request({ url: '/api/me' });
  assert.equal(me.data.id, first.user.id);

  const again = await auth.phoneLogin(await phoneCode(number));
  assert.equal(again.isNewUser, false);
  assert.equal(again.user.id, first.user.id);
  await assert.rejects(auth.phoneLogin(''), { code: 'invalid_request' });
});

test('phoneLogin refuses a phone bound to another account, and stores nothing', async () => {
  const number = uniquePhoneNumber();
  newPhone();
  await createClient({ baseURL: env.url }).phoneLogin(await phoneCode(number));

  const phone = newPhone();
  const auth = createClient({ baseURL: env.url });
  await assert.rejects(auth.phoneLogin(await phoneCode(number)), { code: 'account_conflict', status: 409 });
  assert.equal(auth.isLoggedIn(), false);
  assert.equal(phone.wx.getStorageSync('miniauth:tokens'), '');
});

function storedToken(phone, prefix) {
  return phone.wx.getStorageSync(prefix + 'tokens').access_token;
}

test('listSessions shows every device, newest first, this one current', async () => {
  newPhone();
  const a = createClient({ baseURL: env.url, storagePrefix: 'a:' });
  const b = createClient({ baseURL: env.url, storagePrefix: 'b:' });
  await a.login();
  await b.login();
  const sessions = await b.listSessions();
  assert.equal(sessions.length, 2);
  assert.equal(sessions[0].current, true);
  assert.equal(sessions[1].current, false);
  for (const s of sessions) {
    assert.deepEqual(Object.keys(s).sort(), ['app', 'created_at', 'current', 'device', 'id', 'ip', 'last_used_at', 'via']);
    assert.equal(typeof s.id, 'number');
    assert.equal(s.app, env.appID);
  }
});

test('endSession signs one device out at once; another user\'s id is not found', async () => {
  const phone = newPhone();
  const a = createClient({ baseURL: env.url, storagePrefix: 'a:' });
  const b = createClient({ baseURL: env.url, storagePrefix: 'b:' });
  await a.login();
  await b.login();
  const other = (await a.listSessions()).find((s) => !s.current);
  const bToken = storedToken(phone, 'b:');
  await a.endSession(other.id);
  assert.equal((await api(env.url, 'GET', '/api/me', { token: bToken })).status, 401);
  assert.equal((await a.listSessions()).length, 1);
  await assert.rejects(a.endSession(other.id), { code: 'not_found', status: 404 });
  await assert.rejects(a.endSession('1'), { code: 'invalid_request' });

  // (Each phone is its own global wx: read a's session before switching.)
  const mine = (await a.listSessions())[0];
  newPhone();
  const stranger = createClient({ baseURL: env.url });
  await stranger.login();
  await assert.rejects(stranger.endSession(mine.id), { code: 'not_found', status: 404 });
  assert.equal((await api(env.url, 'GET', '/api/me', { token: storedToken(phone, 'a:') })).status, 200);
});

test('endOtherSessions signs out every other device', async () => {
  const phone = newPhone();
  const clients = ['a:', 'b:', 'c:'].map((p) => createClient({ baseURL: env.url, storagePrefix: p }));
  for (const c of clients) await c.login();
  await clients[2].endOtherSessions();
  assert.equal((await api(env.url, 'GET', '/api/me', { token: storedToken(phone, 'a:') })).status, 401);
  assert.equal((await api(env.url, 'GET', '/api/me', { token: storedToken(phone, 'b:') })).status, 401);
  const left = await clients[2].listSessions();
  assert.equal(left.length, 1);
  assert.equal(left[0].current, true);
});

test('two mini programs log the same person in as one user (appid from wx.getAccountInfoSync)', async () => {
  const unionid = 'u_' + crypto.randomBytes(9).toString('base64url');
  newPhone(undefined, { unionid, appId: env.appID });
  const shop = createClient({ baseURL: env.multiURL });
  const one = await shop.login();
  assert.equal(one.isNewUser, true);

  newPhone(undefined, { unionid, appId: env.secondAppID });
  const companion = createClient({ baseURL: env.multiURL });
  const two = await companion.login();
  assert.equal(two.isNewUser, false);
  assert.equal(two.user.id, one.user.id);
  const sessions = await companion.listSessions();
  assert.deepEqual(sessions.map((s) => s.app).sort(), [env.appID, env.secondAppID].sort());

  // Several apps and none named: the server wants the appid.
  newPhone();
  await assert.rejects(createClient({ baseURL: env.multiURL }).login(), { code: 'validation_failed', status: 400 });
  // An explicit appid wins over the account info; an unknown one is refused.
  newPhone(undefined, { appId: env.appID });
  await assert.rejects(createClient({ baseURL: env.multiURL, appid: 'wxnotconfigured000' }).login(),
    (e) => e.code === 'validation_failed' && e.fields && 'appid' in e.fields);
  assert.throws(() => createClient({ baseURL: env.url, appid: '' }), { code: 'invalid_request' });
});
