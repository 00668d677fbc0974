'use strict';

// auth.phoneOffer(): whether to show the phone-number button now. WeChat
// bills every tap that succeeds, so the server keeps daily caps.

const test = require('node:test');
const assert = require('node:assert/strict');

const { env, newPhone, phoneCode } = require('./wx.js');
const { createClient, phoneQuotaExhausted, PHONE_NO_QUOTA } = require('../miniauth/index.js');

test('phoneOffer offers the button, then says already_verified once a phone is bound', async () => {
  newPhone();
  const auth = createClient({ baseURL: env.url });
  await auth.login();
  assert.deepEqual(await auth.phoneOffer(), { offer: true, reason: 'ok' });
  // Asking again (a page shown twice) is the same offer.
  assert.deepEqual(await auth.phoneOffer(), { offer: true, reason: 'ok' });
  await auth.bindPhone(await phoneCode('13900139001'));
  assert.deepEqual(await auth.phoneOffer(), { offer: false, reason: 'already_verified' });
});

test('phoneOffer shares the budget: the next user is told budget_exhausted', async () => {
  // The several-apps server has a budget of one number a day per app.
  newPhone(undefined, { appId: env.appID });
  const first = createClient({ baseURL: env.multiURL });
  await first.login();
  assert.deepEqual(await first.phoneOffer(), { offer: true, reason: 'ok' });

  newPhone(undefined, { appId: env.appID });
  const second = createClient({ baseURL: env.multiURL });
  await second.login();
  assert.deepEqual(await second.phoneOffer(), { offer: false, reason: 'budget_exhausted' });
});

test('phoneOffer before login logs in first', async () => {
  const phone = newPhone();
  const auth = createClient({ baseURL: env.url });
  const o = await auth.phoneOffer();
  assert.equal(o.offer, true);
  assert.equal(phone.logins, 1);
});

test('phoneQuotaExhausted recognizes errno 1400001', () => {
  assert.equal(PHONE_NO_QUOTA, 1400001);
  assert.equal(phoneQuotaExhausted({ detail: { errMsg: 'getPhoneNumber:fail no quota', errno: 1400001 } }), true);
  assert.equal(phoneQuotaExhausted({ errno: '1400001' }), true);
  assert.equal(phoneQuotaExhausted({ detail: { errMsg: 'getPhoneNumber:fail user deny' } }), false);
  assert.equal(phoneQuotaExhausted({ detail: { code: 'abc' } }), false);
  assert.equal(phoneQuotaExhausted(null), false);
});
