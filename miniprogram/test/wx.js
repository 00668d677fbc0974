// A stand-in for the mini program's global `wx`, close enough to WeChat's
// for the kit: wx.login asks the fake WeChat for a fresh single-use code,
// wx.request and wx.uploadFile speak real HTTP to miniauth, storage lives in
// memory. Each "phone" counts what the kit did with it.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const env = {
  url: required('MINIAUTH_URL'),
  shortTTLURL: required('MINIAUTH_SHORT_TTL_URL'),
  wechatURL: required('WECHAT_TEST_URL'),
  // A server with two mini programs (MINIAUTH_WECHAT_APPS), and their ids.
  multiURL: required('MINIAUTH_MULTI_URL'),
  appID: required('MINIAUTH_APPID'),
  secondAppID: required('MINIAUTH_SECOND_APPID'),
  // A server whose PostgreSQL the tests cut off and restore (dbFault);
  // empty when PostgreSQL is not configured.
  faultyURL: process.env.MINIAUTH_FAULTY_URL || '',
  // An admin of the main server's panel, for the tests that disable a user.
  adminUser: required('MINIAUTH_ADMIN_USER'),
  adminPassword: required('MINIAUTH_ADMIN_PASSWORD'),
};

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through go test ./miniprogram/`);
  return v;
}

// newPhone installs a fresh wx as the global one, for a user with its own
// openid (unique unless given), and returns it with its counters. opts:
// unionid (what WeChat reports with each login code), appId (what
// wx.getAccountInfoSync reports; without it the function is absent, as
// in base libraries before 2.2.2).
function newPhone(openid = 'o_' + crypto.randomBytes(9).toString('base64url'), opts = {}) {
  const storage = new Map();
  const phone = {
    openid,
    unionid: opts.unionid,
    storage,
    logins: 0, // wx.login calls
    requests: [], // paths of every wx.request/uploadFile, in order
    answers: [], // [path, status] of every answer, in order
    writes: [], // [key, value] of every setStorageSync, in order
    count(p) {
      return this.requests.filter((r) => r === p).length;
    },
    lastWrite(key) {
      const w = this.writes.filter(([k]) => k === key).pop();
      return w ? w[1] : undefined;
    },
  };

  const wx = {
    login(o = {}) {
      phone.logins++;
      postJSON(env.wechatURL + '/test/code', { openid: phone.openid, unionid: phone.unionid })
        .then((r) => callback(o, 'success', { code: r.code, errMsg: 'login:ok' }))
        .catch((e) => callback(o, 'fail', { errMsg: 'login:fail ' + e.message }));
    },

    request(o = {}) {
      const method = (o.method || 'GET').toUpperCase();
      const header = Object.assign({}, o.header);
      if (!hasHeader(header, 'content-type')) header['content-type'] = 'application/json';
      let url = o.url;
      let body;
      if (o.data !== undefined && o.data !== null) {
        if (method === 'GET') {
          url = withQuery(url, o.data);
        } else if (typeof o.data === 'string' || o.data instanceof ArrayBuffer) {
          body = o.data;
        } else if (/json/i.test(getHeader(header, 'content-type'))) {
          body = JSON.stringify(o.data);
        } else {
          body = new URLSearchParams(o.data).toString();
        }
      }
      phone.requests.push(new URL(url).pathname);
      send(url, { method, headers: header, body }, o.timeout, o.dataType, 'request', o, phone);
    },

    uploadFile(o = {}) {
      let bytes;
      try {
        bytes = fs.readFileSync(o.filePath);
      } catch (e) {
        callback(o, 'fail', { errMsg: 'uploadFile:fail ' + e.message });
        return;
      }
      const form = new FormData();
      for (const [k, v] of Object.entries(o.formData || {})) form.append(k, String(v));
      form.append(o.name, new Blob([bytes], { type: mimeOf(o.filePath) }), path.basename(o.filePath));
      phone.requests.push(new URL(o.url).pathname);
      // fetch sets the multipart Content-Type with its boundary.
      const header = Object.assign({}, o.header);
      for (const k of Object.keys(header)) if (k.toLowerCase() === 'content-type') delete header[k];
      send(o.url, { method: 'POST', headers: header, body: form }, o.timeout, 'text', 'uploadFile', o, phone);
    },

    // wx keeps a copy (values go through serialization) and answers '' for
    // a missing key.
    setStorageSync(key, value) {
      phone.writes.push([key, value]);
      storage.set(key, JSON.stringify(value));
    },
    getStorageSync(key) {
      return storage.has(key) ? JSON.parse(storage.get(key)) : '';
    },
    removeStorageSync(key) {
      storage.delete(key);
    },
  };
  if (opts.appId) {
    wx.getAccountInfoSync = () => ({ miniProgram: { appId: opts.appId, envVersion: 'release', version: '' } });
  }
  phone.wx = wx;
  globalThis.wx = wx;
  return phone;
}

function send(url, init, timeout, dataType, api, o, phone) {
  fetch(url, Object.assign({ signal: AbortSignal.timeout(timeout || 60000) }, init))
    .then(async (res) => {
      const text = await res.text();
      let data = text;
      if (api === 'request' && (dataType || 'json') === 'json') {
        try {
          data = JSON.parse(text);
        } catch {
          data = text;
        }
      }
      phone.answers.push([new URL(url).pathname, res.status]);
      callback(o, 'success', {
        data,
        statusCode: res.status,
        header: Object.fromEntries(res.headers),
        errMsg: api + ':ok',
      });
    })
    .catch((e) => callback(o, 'fail', { errMsg: `${api}:fail ${e.message}` }));
}

function callback(o, kind, value) {
  if (typeof o[kind] === 'function') o[kind](value);
  if (typeof o.complete === 'function') o.complete(value);
}

function hasHeader(h, name) {
  return Object.keys(h).some((k) => k.toLowerCase() === name);
}

function getHeader(h, name) {
  const k = Object.keys(h).find((k) => k.toLowerCase() === name);
  return k ? String(h[k]) : '';
}

function withQuery(url, data) {
  if (typeof data === 'string') return data ? url + (url.includes('?') ? '&' : '?') + data : url;
  const q = new URLSearchParams(data).toString();
  return q ? url + (url.includes('?') ? '&' : '?') + q : url;
}

function mimeOf(file) {
  return { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp' }[
    path.extname(file).toLowerCase()
  ] || 'application/octet-stream';
}

async function postJSON(url, body) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

// api talks to miniauth directly, bypassing the kit, to check what the
// server thinks of a token.
async function api(baseURL, method, p, { token, body } = {}) {
  const headers = {};
  if (token) headers.authorization = 'Bearer ' + token;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(baseURL + p, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, json, text, headers: res.headers };
}

// exchanges is how many login codes of openid the fake WeChat exchanged.
async function exchanges(openid) {
  const res = await fetch(env.wechatURL + '/test/stats?openid=' + encodeURIComponent(openid));
  if (!res.ok) throw new Error('stats: HTTP ' + res.status);
  return (await res.json()).code2session;
}

// phoneCode asks the fake WeChat for a getPhoneNumber code.
async function phoneCode(phoneNumber) {
  const res = await fetch(env.wechatURL + '/test/phonecode', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ phone: phoneNumber }),
  });
  if (!res.ok) throw new Error('phonecode: HTTP ' + res.status);
  return (await res.json()).code;
}

// untilExpired polls until the server refuses token (it has expired).
async function untilExpired(baseURL, token) {
  const deadline = Date.now() + 15000;
  for (;;) {
    const r = await api(baseURL, 'GET', '/api/me', { token });
    if (r.status === 401) return;
    if (r.status !== 200) throw new Error('unexpected status ' + r.status);
    if (Date.now() > deadline) throw new Error('access token did not expire within 15s');
    await new Promise((res) => setTimeout(res, 100));
  }
}

// dbFault cuts the faulty server's PostgreSQL off ('cut') or brings it
// back ('restore').
async function dbFault(action) {
  const res = await fetch(env.wechatURL + '/test/db/' + action, { method: 'POST' });
  if (res.status !== 204) throw new Error(`db ${action}: HTTP ${res.status}`);
}

module.exports = { env, newPhone, api, exchanges, phoneCode, untilExpired, dbFault };
