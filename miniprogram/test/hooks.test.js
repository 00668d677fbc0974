'use strict';

// The app's hooks: onSignedOut tells the app the user is signed out and
// why, onUserDisabled that an admin disabled the user (so logging in again
// will not help). The admin disables the user in the real admin panel.

const test = require('node:test');
const assert = require('node:assert/strict');

const { createClient } = require('../miniauth/index.js');
const { env, newPhone, api } = require('./wx.js');

const TOKENS = 'miniauth:tokens';
const USER = 'miniauth:user';

function recorder() {
  const events = [];
  return {
    events,
    hooks: {
      onSignedOut: (e) => events.push(['signedOut', e.reason, e.error && e.error.code]),
      onUserDisabled: (err) => events.push(['userDisabled', err.code, err.status]),
    },
  };
}

// disableInPanel signs in to the admin panel as the admin kit_test.go
// created and disables the user, as an operator would.
async function disableInPanel(userID) {
  const login = await fetch(env.url + '/admin/login', {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: env.adminUser, password: env.adminPassword }).toString(),
  });
  assert.equal(login.status, 303, 'admin sign-in');
  const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const page = `${env.url}/admin/users/${userID}`;
  const html = await (await fetch(page, { headers: { cookie } })).text();
  const m = html.match(/name="csrf" value="([^"]+)"/);
  assert.ok(m, 'a CSRF token on the user page');
  const csrf = m[1].replace(/&#43;/g, '+').replace(/&#x2b;/gi, '+').replace(/&amp;/g, '&').replace(/&#61;/g, '=');
  const res = await fetch(page + '/disable', {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf }).toString(),
  });
  assert.equal(res.status, 303, 'disable');
}

test('hooks: onSignedOut on logout and deleteAccount, once each', async () => {
  newPhone();
  const r = recorder();
  const auth = createClient(Object.assign({ baseURL: env.url }, r.hooks));
  await auth.login();
  await auth.logout();
  await auth.logout(); // already signed out: nothing more to tell
  await auth.login();
  await auth.deleteAccount();
  assert.deepEqual(r.events, [['signedOut', 'logout', undefined], ['signedOut', 'account_deleted', undefined]]);
});

test('hooks: onUserDisabled when an admin disables the user', async () => {
  const phone = newPhone();
  const r = recorder();
  const auth = createClient(Object.assign({ baseURL: env.url }, r.hooks));
  const { user } = await auth.login();
  await disableInPanel(user.id);

  // The session was revoked: the kit refreshes (401), logs in again and
  // gets 403 user_disabled, which no retry can fix.
  await assert.rejects(auth.request({ url: '/api/me' }), { code: 'user_disabled', status: 403 });
  assert.deepEqual(r.events, [['userDisabled', 'user_disabled', 403], ['signedOut', 'user_disabled', 'user_disabled']]);
  assert.equal(phone.wx.getStorageSync(TOKENS), '');
  assert.equal(phone.wx.getStorageSync(USER), '');
  assert.equal(auth.isLoggedIn(), false);

  // Trying again tells the app again (the user taps "log in").
  await assert.rejects(auth.login(), { code: 'user_disabled' });
  assert.equal(r.events.filter((e) => e[0] === 'userDisabled').length, 2);
});

test('hooks: onSignedOut session_ended when the server ended the session', async () => {
  const phone = newPhone();
  const r = recorder();
  const auth = createClient(Object.assign({ baseURL: env.url }, r.hooks));
  await auth.login();
  // Another device (or an admin) ends this session on the server.
  const { access_token } = phone.wx.getStorageSync(TOKENS);
  assert.equal((await api(env.url, 'POST', '/api/auth/logout', { token: access_token })).status, 204);

  // A call that must not log in again (it acts on this session) finds it gone.
  await assert.rejects(auth.endOtherSessions(), { code: 'unauthorized', status: 401 });
  assert.deepEqual(r.events, [['signedOut', 'session_ended', 'unauthorized']]);
  assert.equal(auth.isLoggedIn(), false);
  assert.equal(auth.getUser(), null);
});

test('hooks: a hook that throws does not break the kit; hooks must be functions', async () => {
  newPhone();
  const auth = createClient({ baseURL: env.url, onSignedOut: () => { throw new Error('page bug'); } });
  const errors = [];
  const orig = console.error;
  console.error = (...a) => errors.push(a.join(' '));
  try {
    await auth.login();
    await auth.logout();
  } finally {
    console.error = orig;
  }
  assert.equal(auth.isLoggedIn(), false);
  assert.equal(errors.length, 1);
  assert.throws(() => createClient({ baseURL: env.url, onUserDisabled: 'yes' }), { code: 'invalid_request' });
});
