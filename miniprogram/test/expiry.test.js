'use strict';

// Against the server started with a short MINIAUTH_ACCESS_TTL: each test
// waits until the server itself refuses the access token, then goes on.

const test = require('node:test');
const assert = require('node:assert/strict');

const { createClient } = require('../miniauth/index.js');
const { env, newPhone, api, exchanges, untilExpired } = require('./wx.js');

const TOKENS = 'miniauth:tokens';

test('access token expiry: five parallel requests share one refresh', async () => {
  const phone = newPhone();
  const auth = createClient({ baseURL: env.shortTTLURL });
  const { user } = await auth.login();
  const old = phone.wx.getStorageSync(TOKENS);
  await untilExpired(env.shortTTLURL, old.access_token);

  const results = await Promise.all(Array.from({ length: 5 }, () => auth.request({ url: '/api/me' })));
  for (const res of results) {
    assert.equal(res.statusCode, 200);
    assert.equal(res.data.id, user.id);
  }
  assert.equal(phone.count('/api/auth/refresh'), 1);
  assert.equal(phone.count('/api/me'), 10, 'five 401s, then five replays');
  assert.equal(phone.logins, 1, 'a refresh, not a new login');

  const now = phone.wx.getStorageSync(TOKENS);
  assert.notEqual(now.access_token, old.access_token);
  assert.notEqual(now.refresh_token, old.refresh_token);
  // The rotated refresh token is spent.
  const replay = await api(env.shortTTLURL, 'POST', '/api/auth/refresh', { body: { refresh_token: old.refresh_token } });
  assert.equal(replay.status, 401);
});

test('refresh token reuse leads to a fresh login', async () => {
  const phone = newPhone();
  const auth = createClient({ baseURL: env.shortTTLURL });
  const { user } = await auth.login();
  const old = phone.wx.getStorageSync(TOKENS);
  await untilExpired(env.shortTTLURL, old.access_token);

  // The session is refreshed elsewhere (say, a restored backup of the
  // app's storage ran first), so the stored refresh token is now a rotated one.
  const elsewhere = await api(env.shortTTLURL, 'POST', '/api/auth/refresh', { body: { refresh_token: old.refresh_token } });
  assert.equal(elsewhere.status, 200);

  const res = await auth.request({ url: '/api/me' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.data.id, user.id);
  assert.deepEqual(phone.requests, ['/api/auth/login', '/api/me', '/api/auth/refresh', '/api/auth/login', '/api/me']);
  assert.equal(phone.logins, 2);
  assert.equal(await exchanges(phone.openid), 2);

  const now = phone.wx.getStorageSync(TOKENS);
  assert.notEqual(now.refresh_token, old.refresh_token);
  assert.notEqual(now.refresh_token, elsewhere.json.refresh_token);
  // Reuse revoked the whole old session, the copy refreshed elsewhere too.
  const stolen = await api(env.shortTTLURL, 'GET', '/api/me', { token: elsewhere.json.access_token });
  assert.equal(stolen.status, 401);
});

test('logout with an expired access token, during a request, leaves no live token', async () => {
  const phone = newPhone();
  const auth = createClient({ baseURL: env.shortTTLURL });
  await auth.login();
  const old = phone.wx.getStorageSync(TOKENS);
  await untilExpired(env.shortTTLURL, old.access_token);

  // The request and the logout both meet a 401; they share one refresh,
  // then the logout ends the refreshed session. The request either got in
  // before that (200) or was refused (401): it must not log in again.
  const [req] = await Promise.allSettled([auth.request({ url: '/api/me' }), auth.logout()]);
  if (req.status === 'rejected') assert.equal(req.reason.code, 'unauthorized');
  assert.equal(phone.count('/api/auth/refresh'), 1);
  assert.equal(phone.count('/api/auth/logout'), 2, 'a 401, then the replay with the refreshed token');
  assert.equal(phone.logins, 1, 'no login just to log out');
  assert.equal(phone.wx.getStorageSync(TOKENS), '');
  assert.equal(auth.getUser(), null);

  const refreshed = phone.lastWrite(TOKENS);
  assert.notEqual(refreshed.refresh_token, old.refresh_token);
  const after = await api(env.shortTTLURL, 'POST', '/api/auth/refresh', { body: { refresh_token: refreshed.refresh_token } });
  assert.equal(after.status, 401, 'the refreshed session was logged out');
});
