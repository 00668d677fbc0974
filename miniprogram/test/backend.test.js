'use strict';

// Business routes behind a forward-auth proxy, as docs/backend.md
// sets nginx up: /api/* goes to miniauth, /shop/* is checked with
// /api/auth/verify and then served by the team's backend with the user id
// in X-Miniauth-User-Id. The proxy here is a few lines of Node standing in
// for nginx; like nginx's auth_request, its 401 is its own (not
// miniauth's answer), so the kit must refresh on a 401 from a path that
// is not miniauth's.

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { createClient } = require('../miniauth/index.js');
const { env, newPhone, untilExpired } = require('./wx.js');

const TOKENS = 'miniauth:tokens';

// startProxy serves /api/* from miniauth and /shop/* from a backend that
// echoes the user id and body, after asking miniauth's verify.
function startProxy(miniauthURL) {
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const headers = {};
    if (req.headers.authorization) headers.authorization = req.headers.authorization;
    if (req.url.startsWith('/api/')) {
      if (req.headers['content-type']) headers['content-type'] = req.headers['content-type'];
      const r = await fetch(miniauthURL + req.url, { method: req.method, headers, body: body.length ? body : undefined });
      res.writeHead(r.status, { 'content-type': r.headers.get('content-type') || 'text/plain' });
      res.end(Buffer.from(await r.arrayBuffer()));
      return;
    }
    if (req.url.startsWith('/shop/')) {
      // The subrequest: original method, no body.
      const v = await fetch(miniauthURL + '/api/auth/verify', { method: req.method, headers });
      if (v.status !== 200) {
        res.writeHead(401, { 'content-type': 'text/html', 'www-authenticate': 'Bearer' });
        res.end('<html><body>401 Authorization Required</body></html>');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        user_id: Number(v.headers.get('x-miniauth-user-id')),
        method: req.method,
        path: req.url,
        body: body.toString(),
      }));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, url: 'http://127.0.0.1:' + server.address().port }));
  });
}

test('business route behind a forward-auth proxy: token sent, refreshed on the proxy 401', async (t) => {
  const proxy = await startProxy(env.shortTTLURL);
  t.after(() => proxy.server.close());
  const phone = newPhone();
  const auth = createClient({ baseURL: proxy.url });
  const { user } = await auth.login();

  const first = await auth.request({ url: '/shop/orders', method: 'POST', data: { item: 42 } });
  assert.equal(first.statusCode, 200);
  assert.equal(first.data.user_id, user.id);
  assert.equal(first.data.method, 'POST');
  assert.deepEqual(JSON.parse(first.data.body), { item: 42 });

  // The access token expires: the proxy answers its own 401 (HTML, not
  // miniauth's JSON), the kit refreshes once and replays the request.
  const old = phone.wx.getStorageSync(TOKENS);
  await untilExpired(env.shortTTLURL, old.access_token);
  phone.requests.length = 0;
  const res = await auth.request({ url: '/shop/orders', method: 'POST', data: { item: 43 } });
  assert.equal(res.statusCode, 200);
  assert.equal(res.data.user_id, user.id);
  assert.deepEqual(JSON.parse(res.data.body), { item: 43 });
  assert.deepEqual(phone.requests, ['/shop/orders', '/api/auth/refresh', '/shop/orders']);
  assert.equal(phone.logins, 1, 'a refresh, not a new login');
  assert.notEqual(phone.wx.getStorageSync(TOKENS).access_token, old.access_token);

  // After logout the next business call logs in again as the same user.
  await auth.logout();
  phone.requests.length = 0;
  const again = await auth.request({ url: '/shop/orders' });
  assert.equal(again.data.user_id, user.id);
  assert.deepEqual(phone.requests, ['/api/auth/login', '/shop/orders']);
});

test('uploadFile to a business route: multipart with the token, refreshed on the proxy 401', async (t) => {
  const proxy = await startProxy(env.shortTTLURL);
  t.after(() => proxy.server.close());
  const phone = newPhone();
  const auth = createClient({ baseURL: proxy.url });
  const { user } = await auth.login();
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kit-upload-')), 'receipt.txt');
  fs.writeFileSync(file, 'receipt 42');
  t.after(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }));

  const first = await auth.uploadFile({ url: '/shop/receipts', filePath: file, name: 'receipt', formData: { order: '42' } });
  assert.equal(first.statusCode, 200);
  const echoed = JSON.parse(first.data); // wx.uploadFile hands back a string
  assert.equal(echoed.user_id, user.id);
  assert.equal(echoed.method, 'POST');
  assert.match(echoed.body, /name="receipt"; filename="receipt.txt"/);
  assert.match(echoed.body, /receipt 42/);
  assert.match(echoed.body, /name="order"\r\n\r\n42/);

  const old = phone.wx.getStorageSync(TOKENS);
  await untilExpired(env.shortTTLURL, old.access_token);
  phone.requests.length = 0;
  const again = await auth.uploadFile({ url: '/shop/receipts', filePath: file, name: 'receipt' });
  assert.equal(JSON.parse(again.data).user_id, user.id);
  assert.deepEqual(phone.requests, ['/shop/receipts', '/api/auth/refresh', '/shop/receipts']);

  await assert.rejects(auth.uploadFile({ url: 'https://elsewhere.example.com/x', filePath: file, name: 'f' }), { code: 'invalid_request' });
  await assert.rejects(auth.uploadFile({ url: '/shop/receipts', name: 'f' }), { code: 'invalid_request' });
});
