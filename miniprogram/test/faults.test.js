'use strict';

// The kit against a server whose PostgreSQL drops off the network: a
// login answered 503 unavailable is tried once more, with a fresh
// wx.login code, after Retry-After.

const test = require('node:test');
const assert = require('node:assert/strict');

const { createClient } = require('../miniauth/index.js');
const { env, newPhone, api, exchanges, dbFault } = require('./wx.js');

const skip = env.faultyURL ? false : 'PostgreSQL not configured: no server to cut off';

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// until polls cond every 50 ms for up to 20 s.
async function until(what, cond) {
  const deadline = Date.now() + 20000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await sleep(50);
  }
}

async function readyz() {
  return (await api(env.faultyURL, 'GET', '/readyz')).status;
}

test('login retries a 503 once with a fresh wx.login code after Retry-After', { skip }, async () => {
  const phone = newPhone();
  const auth = createClient({ baseURL: env.faultyURL });
  await dbFault('cut');
  await until('readyz 503', async () => (await readyz()) === 503);

  const started = Date.now();
  const login = auth.login({ nickname: 'Patient' });
  // The database comes back while the kit waits out Retry-After.
  await until('the first 503', () => phone.answers.some(([p, s]) => p === '/api/auth/login' && s === 503));
  await dbFault('restore');
  const r = await login;

  assert.equal(r.isNewUser, true);
  assert.equal(r.user.nickname, 'Patient');
  assert.equal(phone.logins, 2, 'one fresh wx.login code for the retry');
  assert.equal(phone.count('/api/auth/login'), 2);
  // The refused attempt never spent its code: only the retry's reached WeChat.
  assert.equal(await exchanges(phone.openid), 1);
  assert.ok(Date.now() - started >= 4000, 'the retry waited for Retry-After (5 s)');
  const me = await api(env.faultyURL, 'GET', '/api/me', { token: phone.wx.getStorageSync('miniauth:tokens').access_token });
  assert.equal(me.status, 200);
});

test('a second 503 is passed on as unavailable', { skip }, async () => {
  const phone = newPhone();
  const auth = createClient({ baseURL: env.faultyURL });
  await dbFault('cut');
  try {
    await until('readyz 503', async () => (await readyz()) === 503);
    await assert.rejects(auth.login(), (err) => {
      assert.equal(err.name, 'MiniauthError');
      assert.equal(err.code, 'unavailable');
      assert.equal(err.status, 503);
      assert.equal(err.retryAfter, 5);
      return true;
    });
    assert.equal(phone.logins, 2, 'one retry, no more');
    assert.equal(phone.count('/api/auth/login'), 2);
    assert.equal(await exchanges(phone.openid), 0, 'no code was spent');
    assert.equal(auth.isLoggedIn(), false);
  } finally {
    await dbFault('restore');
  }
  await until('readyz 200', async () => (await readyz()) === 200);
});
