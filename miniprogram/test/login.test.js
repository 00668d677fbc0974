'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');

const { createClient, MiniauthError } = require('../miniauth/index.js');
const { env, newPhone, api, exchanges } = require('./wx.js');

const TOKENS = 'miniauth:tokens';
const USER = 'miniauth:user';

test('first login stores tokens and user', async () => {
  const phone = newPhone();
  const auth = createClient({ baseURL: env.url });
  assert.equal(auth.getUser(), null);
  assert.equal(auth.isLoggedIn(), false);

  const r = await auth.login({ nickname: 'Alice', gender: 2 });
  assert.equal(r.isNewUser, true);
  assert.equal(r.user.nickname, 'Alice');
  assert.equal(r.user.gender, 2);
  assert.equal(typeof r.user.id, 'number');

  const tokens = phone.wx.getStorageSync(TOKENS);
  assert.equal(typeof tokens.access_token, 'string');
  assert.equal(typeof tokens.refresh_token, 'string');
  assert.deepEqual(phone.wx.getStorageSync(USER), r.user);
  assert.deepEqual(auth.getUser(), r.user);
  assert.equal(auth.isLoggedIn(), true);

  const me = await api(env.url, 'GET', '/api/me', { token: tokens.access_token });
  assert.equal(me.status, 200);
  assert.equal(me.json.id, r.user.id);
  assert.equal(phone.logins, 1);
  assert.equal(await exchanges(phone.openid), 1);
});

test('returning login finds the same user', async () => {
  const first = newPhone();
  const a = await createClient({ baseURL: env.url }).login();
  // The same WeChat user on a reinstalled app: empty storage.
  newPhone(first.openid);
  const b = await createClient({ baseURL: env.url }).login();
  assert.equal(a.isNewUser, true);
  assert.equal(b.isNewUser, false);
  assert.equal(b.user.id, a.user.id);
  assert.equal(await exchanges(first.openid), 2);
});

test('concurrent login() calls share one wx.login', async () => {
  const phone = newPhone();
  const auth = createClient({ baseURL: env.url });
  const results = await Promise.all([auth.login(), auth.login(), auth.login()]);
  for (const r of results) assert.equal(r.user.id, results[0].user.id);
  assert.equal(phone.logins, 1);
  assert.equal(phone.count('/api/auth/login'), 1);
  assert.equal(await exchanges(phone.openid), 1);
});

test('concurrent requests before login make exactly one login', async () => {
  const phone = newPhone();
  const auth = createClient({ baseURL: env.url });
  const results = await Promise.all(Array.from({ length: 5 }, () => auth.request({ url: '/api/me' })));
  for (const res of results) {
    assert.equal(res.statusCode, 200);
    assert.equal(res.data.id, results[0].data.id);
  }
  assert.equal(phone.logins, 1);
  assert.equal(phone.count('/api/auth/login'), 1);
  assert.equal(phone.count('/api/me'), 5);
  assert.equal(await exchanges(phone.openid), 1);
});

test('request passes wx.request options through with the token', async () => {
  newPhone();
  const auth = createClient({ baseURL: env.url + '/' });
  await auth.login();
  const res = await auth.request({ url: env.url + '/api/me', method: 'PUT', data: { gender: 1 } });
  assert.equal(res.statusCode, 200);
  assert.equal(res.data.gender, 1);
});

test('request refuses to send the token to another server', async () => {
  const phone = newPhone();
  const auth = createClient({ baseURL: env.url });
  await auth.login();
  const before = phone.requests.length;
  for (const url of ['https://example.com/api/me', env.url + '.example.com/api/me', '']) {
    await assert.rejects(auth.request({ url }), (err) => {
      assert.ok(err instanceof MiniauthError);
      assert.equal(err.code, 'invalid_request');
      return true;
    });
  }
  assert.equal(phone.requests.length, before);
});

test('updateProfile updates the server and the cached user', async () => {
  newPhone();
  const auth = createClient({ baseURL: env.url });
  await auth.login({ nickname: 'Before' });
  const user = await auth.updateProfile({ nickname: 'After' });
  assert.equal(user.nickname, 'After');
  assert.equal(auth.getUser().nickname, 'After');
  const res = await auth.request({ url: '/api/me' });
  assert.equal(res.data.nickname, 'After');
});

test('a server error surfaces its code, message, status and fields', async () => {
  newPhone();
  const auth = createClient({ baseURL: env.url });
  await auth.login({ nickname: 'Kept' });
  await assert.rejects(auth.updateProfile({ nickname: 'x'.repeat(65) }), (err) => {
    assert.ok(err instanceof Error);
    assert.ok(err instanceof MiniauthError);
    assert.equal(err.code, 'validation_failed');
    assert.equal(err.status, 400);
    assert.equal(typeof err.message, 'string');
    assert.ok(err.message.length > 0);
    assert.equal(typeof err.fields.nickname, 'string');
    return true;
  });
  assert.equal(auth.getUser().nickname, 'Kept');
  await assert.rejects(auth.request({ url: '/api/no-such-route' }), { code: 'not_found', status: 404 });
});

test('logout ends the session on the server and clears storage', async () => {
  const phone = newPhone();
  const auth = createClient({ baseURL: env.url });
  await auth.login();
  const tokens = phone.wx.getStorageSync(TOKENS);

  await auth.logout();
  assert.equal(phone.wx.getStorageSync(TOKENS), '');
  assert.equal(phone.wx.getStorageSync(USER), '');
  assert.equal(auth.getUser(), null);
  assert.equal(auth.isLoggedIn(), false);
  assert.equal(phone.count('/api/auth/logout'), 1);

  const me = await api(env.url, 'GET', '/api/me', { token: tokens.access_token });
  assert.equal(me.status, 401);
  const refresh = await api(env.url, 'POST', '/api/auth/refresh', { body: { refresh_token: tokens.refresh_token } });
  assert.equal(refresh.status, 401);
  assert.equal(refresh.json.error.code, 'unauthorized');
});

test('logout clears storage even when the network fails', async () => {
  const phone = newPhone();
  // Nothing listens on port 1: every request fails at the network.
  const auth = createClient({ baseURL: 'http://127.0.0.1:1' });
  phone.wx.setStorageSync(TOKENS, { access_token: 'a', refresh_token: 'r' });
  phone.wx.setStorageSync(USER, { id: 1 });
  await auth.logout();
  assert.equal(phone.count('/api/auth/logout'), 1);
  assert.equal(phone.wx.getStorageSync(TOKENS), '');
  assert.equal(phone.wx.getStorageSync(USER), '');
});

test('a network failure surfaces as network_error', async () => {
  newPhone();
  const auth = createClient({ baseURL: 'http://127.0.0.1:1' });
  await assert.rejects(auth.login(), (err) => {
    assert.ok(err instanceof MiniauthError);
    assert.equal(err.code, 'network_error');
    assert.equal(err.status, 0);
    return true;
  });
});

test('deleteAccount closes the account and clears storage', async () => {
  const phone = newPhone();
  const auth = createClient({ baseURL: env.url });
  const first = await auth.login({ nickname: 'Gone' });
  const tokens = phone.wx.getStorageSync(TOKENS);

  await auth.deleteAccount();
  assert.equal(phone.count('/api/me'), 1);
  assert.equal(phone.wx.getStorageSync(TOKENS), '');
  assert.equal(auth.getUser(), null);
  const me = await api(env.url, 'GET', '/api/me', { token: tokens.access_token });
  assert.equal(me.status, 401);

  // The same WeChat user starts over as a new user.
  const again = await auth.login();
  assert.equal(again.isNewUser, true);
  assert.notEqual(again.user.id, first.user.id);
  assert.equal(again.user.nickname, '');
});

test('a dead session whose login also fails stops instead of looping', async () => {
  const phone = newPhone();
  const auth = createClient({ baseURL: env.url });
  phone.wx.setStorageSync(TOKENS, { access_token: 'not-a-token', refresh_token: 'not-a-refresh-token' });
  // WeChat hands out a code it will refuse.
  phone.wx.login = (o) => {
    phone.logins++;
    o.success({ code: 'refused-code', errMsg: 'login:ok' });
  };
  await assert.rejects(auth.request({ url: '/api/me' }), (err) => {
    assert.equal(err.code, 'invalid_code');
    assert.equal(err.status, 401);
    return true;
  });
  assert.deepEqual(phone.requests, ['/api/me', '/api/auth/refresh', '/api/auth/login']);
  assert.equal(phone.logins, 1);
});
