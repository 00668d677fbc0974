'use strict';

// Web sign-in from the mini program's side: a "browser" (fetch with a
// desktop user agent) makes a ticket and polls; the kit scans, confirms or
// denies it as the user would on the page the code opens; and the example
// mini program's confirm page does the same through its handlers.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { createClient } = require('../miniauth/index.js');
const { env, newPhone } = require('./wx.js');

const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

async function browserPost(p, body) {
  const res = await fetch(env.url + p, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': BROWSER },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

// newTicket is what the website's page does first.
async function newTicket() {
  const r = await browserPost('/api/auth/qr', {});
  assert.equal(r.status, 200);
  return r.json;
}

function poll(t, wait = 0) {
  return browserPost('/api/auth/qr/' + t.ticket + '/poll', { poll_token: t.poll_token, wait });
}

test('web sign-in: confirmWebLogin lets the waiting browser in as this user', async () => {
  const t = await newTicket();
  const phone = newPhone();
  const auth = createClient({ baseURL: env.url });
  const waiting = poll(t, 25); // the browser waits while the user scans
  // The page gets the scene URL-encoded; the kit takes it either way.
  const info = await auth.confirmWebLogin(encodeURIComponent(t.ticket));
  assert.deepEqual(info, { status: 'scanned', ip: '127.0.0.1', device: 'Chrome on Windows' });
  assert.equal(phone.logins, 1, 'the kit logged the user in first');
  assert.deepEqual(phone.requests, ['/api/auth/login', '/api/auth/qr/' + t.ticket + '/scan', '/api/auth/qr/' + t.ticket + '/confirm']);

  let r = await waiting;
  if (r.json.status === 'scanned') r = await poll(t, 25); // the wait ended at the scan
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'confirmed');
  assert.equal(r.json.token_type, 'Bearer');
  assert.equal(r.json.user.id, auth.getUser().id);
  assert.equal((await poll(t)).status, 404, 'handed over once');

  const sessions = await auth.listSessions();
  const web = sessions.filter((s) => s.app === 'web');
  assert.equal(web.length, 1);
  assert.equal(web[0].device, 'Chrome on Windows');
  // Signing the browser out from the phone.
  await auth.endSession(web[0].id);
  const me = await fetch(env.url + '/api/me', { headers: { authorization: 'Bearer ' + r.json.access_token } });
  assert.equal(me.status, 401);
});

test('web sign-in: scanWebLogin then denyWebLogin; a second scanner is refused', async () => {
  const t = await newTicket();
  const ownerPhone = newPhone();
  const owner = createClient({ baseURL: env.url });
  const from = await owner.scanWebLogin(t.ticket);
  assert.equal(from.device, 'Chrome on Windows');
  assert.equal((await poll(t)).json.status, 'scanned');

  newPhone();
  const stranger = createClient({ baseURL: env.url });
  await assert.rejects(stranger.scanWebLogin(t.ticket), { code: 'not_found', status: 404 });
  await assert.rejects(stranger.confirmWebLogin(t.ticket), { code: 'not_found', status: 404 });

  globalThis.wx = ownerPhone.wx; // (each phone is its own global wx)

  await owner.denyWebLogin(t.ticket);
  assert.equal((await poll(t)).json.status, 'denied');
  await assert.rejects(owner.confirmWebLogin(t.ticket), { code: 'not_found', status: 404 });

  for (const bad of ['', undefined, 'x'.repeat(33), 'a b', 42]) {
    await assert.rejects(owner.confirmWebLogin(bad), { code: 'invalid_request' });
    await assert.rejects(owner.scanWebLogin(bad), { code: 'invalid_request' });
    await assert.rejects(owner.denyWebLogin(bad), { code: 'invalid_request' });
  }
});

// loadExample copies the example and the kit as the README says and loads
// every page with App()/Page()/getApp() stand-ins.
function loadExample(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniauth-weblogin-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.cpSync(path.join(__dirname, '..', 'example'), dir, { recursive: true });
  fs.cpSync(path.join(__dirname, '..', 'miniauth'), path.join(dir, 'miniauth'), { recursive: true });
  const appJS = path.join(dir, 'app.js');
  fs.writeFileSync(appJS, fs.readFileSync(appJS, 'utf8').replace(/const BASE_URL = '[^']*';/, `const BASE_URL = '${env.url}';`));
  let app;
  let page;
  const pages = {};
  globalThis.App = (o) => { app = o; };
  globalThis.getApp = () => app;
  globalThis.Page = (o) => {
    page = Object.assign({}, o, {
      data: structuredClone(o.data),
      setData(d) { Object.assign(this.data, d); },
    });
  };
  t.after(() => {
    delete globalThis.App;
    delete globalThis.getApp;
    delete globalThis.Page;
  });
  require(appJS);
  for (const p of JSON.parse(fs.readFileSync(path.join(dir, 'app.json'), 'utf8')).pages) {
    require(path.join(dir, p + '.js'));
    pages[p] = page;
    for (const ext of ['.wxml', '.wxss', '.json']) assert.ok(fs.existsSync(path.join(dir, p + ext)), p + ext);
  }
  return pages;
}

test('example web sign-in page: the home page sends the scene on; confirm, deny, a used code', async (t) => {
  const phone = newPhone();
  const opened = [];
  phone.wx.navigateTo = (o) => opened.push(o.url);
  const pages = loadExample(t);
  const home = pages['pages/index/index'];
  const confirm = pages['pages/weblogin/weblogin'];
  assert.ok(confirm, 'app.json lists pages/weblogin/weblogin');

  const ticket = await newTicket();
  // WeChat opens MINIAUTH_QR_PAGE (the home page) with the scene encoded.
  home.onLoad({ scene: encodeURIComponent(ticket.ticket) });
  assert.deepEqual(opened, ['/pages/weblogin/weblogin?scene=' + encodeURIComponent(ticket.ticket)]);

  const query = Object.fromEntries(new URL('http://x' + opened[0]).searchParams);
  query.scene = encodeURIComponent(query.scene); // as WeChat passes it
  await confirm.onLoad(query);
  assert.equal(confirm.data.state, 'ready');
  assert.deepEqual(confirm.data.from, { ip: '127.0.0.1', device: 'Chrome on Windows' });
  await confirm.onConfirm();
  assert.equal(confirm.data.state, 'confirmed');
  const r = await poll(ticket);
  assert.equal(r.json.status, 'confirmed');
  assert.equal(typeof r.json.access_token, 'string');

  // The same code again: it was used.
  await confirm.onLoad({ scene: ticket.ticket });
  assert.equal(confirm.data.state, 'gone');

  const other = await newTicket();
  await confirm.onLoad({ scene: other.ticket });
  await confirm.onDeny();
  assert.equal(confirm.data.state, 'denied');
  assert.equal((await poll(other)).json.status, 'denied');
});
