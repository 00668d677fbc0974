'use strict';

// uploadAvatar and bindPhone against POST /api/me/avatar and
// POST /api/me/phone, with the fake WeChat issuing the phone code.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { createClient } = require('../miniauth/index.js');
const { env, newPhone, phoneCode } = require('./wx.js');

// A valid 1×1 PNG, as <button open-type="chooseAvatar"> would leave in a temp file.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);

test('uploadAvatar uploads the chosen file and updates the user', async (t) => {
  const phone = newPhone();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniauth-avatar-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'tmp_avatar.png');
  fs.writeFileSync(file, PNG);

  const auth = createClient({ baseURL: env.url });
  await auth.login();
  const user = await auth.uploadAvatar(file);
  assert.deepEqual(phone.requests.slice(-1), ['/api/me/avatar']);
  assert.match(user.avatar_url, /^\/uploads\/avatars\/[^/]+\.png$/);
  assert.equal(auth.getUser().avatar_url, user.avatar_url);

  const res = await fetch(env.url + user.avatar_url);
  assert.equal(res.status, 200);
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), PNG);
});

test('uploadAvatar of a missing file fails without a request', async () => {
  const phone = newPhone();
  const auth = createClient({ baseURL: env.url });
  await auth.login();
  await assert.rejects(auth.uploadAvatar(path.join(os.tmpdir(), 'miniauth-no-such-file.png')), { code: 'network_error' });
  assert.deepEqual(phone.requests, ['/api/auth/login']);
});

test('bindPhone binds the number from getPhoneNumber', async () => {
  const phone = newPhone();
  const code = await phoneCode('13800138000');
  const auth = createClient({ baseURL: env.url });
  await auth.login();
  const user = await auth.bindPhone(code);
  assert.deepEqual(phone.requests.slice(-1), ['/api/me/phone']);
  assert.match(user.phone, /13800138000$/);
  assert.equal(auth.getUser().phone, user.phone);
});

test('bindPhone without a code (the user declined) fails locally', async () => {
  const phone = newPhone();
  const auth = createClient({ baseURL: env.url });
  await assert.rejects(auth.bindPhone(undefined), { code: 'invalid_request' });
  assert.deepEqual(phone.requests, []);
});
