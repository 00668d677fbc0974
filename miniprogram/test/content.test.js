'use strict';

// WeChat's content check (on by default when miniauth has WeChat
// credentials; the test WeChat calls a nickname containing "risky"
// risky): the kit reports content_rejected with the field, fieldError
// turns it into the message the page shows next to the nickname field,
// and nothing changed on the server.

const test = require('node:test');
const assert = require('node:assert/strict');

const { createClient, MiniauthError, fieldError } = require('../miniauth/index.js');
const { env, newPhone } = require('./wx.js');

test('content_rejected names the nickname field', async () => {
  newPhone();
  const auth = createClient({ baseURL: env.url });
  await auth.login({ nickname: 'Dora' });

  const err = await auth.updateProfile({ nickname: 'a risky name' }).then(
    () => assert.fail('a risky nickname was accepted'),
    (e) => e,
  );
  assert.ok(err instanceof MiniauthError);
  assert.equal(err.code, 'content_rejected');
  assert.equal(err.status, 422);
  assert.equal(typeof err.fields.nickname, 'string');
  assert.equal(fieldError(err, 'nickname'), err.fields.nickname);
  assert.equal(fieldError(err, 'nickname', '换一个昵称'), '换一个昵称');
  assert.equal(fieldError(err, 'gender'), '');
  assert.equal(auth.getUser().nickname, 'Dora');
  const me = await auth.request({ url: '/api/me' });
  assert.equal(me.data.nickname, 'Dora');

  const invalid = await auth.updateProfile({ nickname: '' }).then(() => null, (e) => e);
  assert.equal(invalid.code, 'validation_failed');
  assert.equal(fieldError(invalid, 'nickname'), invalid.fields.nickname);
  assert.equal(fieldError(new Error('x'), 'nickname'), '');
});
