// miniauth client kit for WeChat mini programs.
//
// Copy this folder into your mini program and call request() where you
// would call wx.request(): the kit logs the user in with wx.login() when
// needed, attaches the access token, refreshes it when the server says it
// expired (one refresh shared by every waiting request), and logs in again
// when the session is gone. No dependencies; CommonJS as mini programs load it.
//
//   const miniauth = require('./miniauth/index.js');
//   const auth = miniauth.createClient({ baseURL: 'https://auth.example.com' });
//
// With several mini programs on one miniauth, each login names its app:
// createClient({ baseURL, appid }) sends appid, by default the running
// mini program's own (wx.getAccountInfoSync().miniProgram.appId).
//   const res = await auth.request({ url: '/api/me' });
//
// Web sign-in (a website shows a mini program code; docs/web-sign-in.md):
// on the page the code opens, scanWebLogin(query.scene) shows where the
// sign-in comes from, confirmWebLogin(scene) / denyWebLogin(scene) answer it.
'use strict';

var DEFAULT_PREFIX = 'miniauth:';

// MiniauthError is every failure the kit reports. code is the server's
// error code (see the API contract) or one of the kit's own:
// network_error, wx_login_failed, invalid_response, http_error,
// invalid_request (bad arguments), logged_out.
function MiniauthError(code, message, status, fields) {
  var err = new Error(message || code);
  Object.setPrototypeOf(err, MiniauthError.prototype);
  err.name = 'MiniauthError';
  err.code = code;
  err.status = status || 0;
  if (fields) err.fields = fields;
  return err;
}
MiniauthError.prototype = Object.create(Error.prototype, {
  constructor: { value: MiniauthError, writable: true, configurable: true },
});

// The global wx, looked up at call time as a mini program provides it.
function getWx() {
  if (typeof wx === 'undefined') {
    throw MiniauthError('invalid_request', 'miniauth: the global wx object is missing');
  }
  return wx; // eslint-disable-line no-undef
}

// errorFromResponse turns a non-2xx answer into a MiniauthError, reading
// the contract's {"error":{"code","message","fields"}} when it is there.
function errorFromResponse(res) {
  var body = parseJSON(res.data);
  var e = body && typeof body === 'object' ? body.error : null;
  var err = e && typeof e.code === 'string'
    ? MiniauthError(e.code, e.message || e.code, res.statusCode, e.fields)
    : MiniauthError('http_error', 'HTTP ' + res.statusCode, res.statusCode);
  var wait = retryAfter(res.header);
  if (wait !== undefined) err.retryAfter = wait;
  return err;
}

// retryAfter reads a Retry-After header in whole seconds (wx keeps the
// server's spelling of header names), or undefined.
function retryAfter(header) {
  if (!header || typeof header !== 'object') return undefined;
  for (var k in header) {
    if (k.toLowerCase() === 'retry-after') {
      var n = parseInt(header[k], 10);
      return isFinite(n) && n >= 0 ? n : undefined;
    }
  }
  return undefined;
}

// MAX_RETRY_WAIT_MS bounds how long a login waits on a 503's Retry-After
// before its one retry; UNAVAILABLE_WAIT_MS is the wait without one.
var MAX_RETRY_WAIT_MS = 30000;
var UNAVAILABLE_WAIT_MS = 5000;

function sleep(ms) {
  return new Promise(function (resolve) { setTimeout(resolve, ms); });
}

// retryUnavailable runs attempt (which takes a fresh wx.login code each
// time) and, if the server answers 503 (its database cannot take writes
// for a moment), runs it once more after Retry-After. miniauth refuses
// such a login before it spends the code, but a code is single-use all
// the same: the retry always asks wx.login for a new one.
function retryUnavailable(attempt) {
  return attempt().catch(function (err) {
    if (!err || err.status !== 503) throw err;
    var ms = err.retryAfter !== undefined ? err.retryAfter * 1000 : UNAVAILABLE_WAIT_MS;
    return sleep(Math.min(ms, MAX_RETRY_WAIT_MS)).then(attempt);
  });
}

// parseJSON accepts what wx hands back: already-parsed objects from
// wx.request, strings from wx.uploadFile.
function parseJSON(data) {
  if (typeof data !== 'string') return data;
  if (data === '') return null;
  try {
    return JSON.parse(data);
  } catch (e) {
    return undefined;
  }
}

function promisify(fn, options) {
  return new Promise(function (resolve, reject) {
    var opts = Object.assign({}, options, {
      success: resolve,
      fail: function (err) {
        reject(MiniauthError('network_error', (err && err.errMsg) || 'request failed', 0));
      },
    });
    delete opts.complete;
    fn.call(getWx(), opts);
  });
}

function createClient(config) {
  if (!config || typeof config.baseURL !== 'string' || !/^https?:\/\//.test(config.baseURL)) {
    throw MiniauthError('invalid_request', 'createClient: baseURL must be an http(s) URL');
  }
  var baseURL = config.baseURL.replace(/\/+$/, '');
  if (config.appid !== undefined && (typeof config.appid !== 'string' || config.appid === '')) {
    throw MiniauthError('invalid_request', 'createClient: appid must be a non-empty string');
  }
  ['onSignedOut', 'onUserDisabled'].forEach(function (hook) {
    if (config[hook] !== undefined && typeof config[hook] !== 'function') {
      throw MiniauthError('invalid_request', 'createClient: ' + hook + ' must be a function');
    }
  });
  var prefix = config.storagePrefix || DEFAULT_PREFIX;
  var TOKENS = prefix + 'tokens';
  var USER = prefix + 'user';

  var loginInFlight = null;
  var refreshInFlight = null;
  // epoch changes on logout and account deletion, so that an answer to
  // something started before it can never bring tokens back.
  var epoch = 0;

  function readTokens() {
    var t = getWx().getStorageSync(TOKENS);
    return t && t.access_token && t.refresh_token ? t : null;
  }

  function saveGrant(g) {
    var w = getWx();
    w.setStorageSync(TOKENS, { access_token: g.access_token, refresh_token: g.refresh_token });
    w.setStorageSync(USER, g.user);
  }

  function clear() {
    epoch++;
    var w = getWx();
    w.removeStorageSync(TOKENS);
    w.removeStorageSync(USER);
  }

  // callHook runs a page's hook; an exception in it must not break the kit.
  function callHook(name, arg) {
    if (typeof config[name] !== 'function') return;
    try {
      config[name](arg);
    } catch (e) {
      if (typeof console !== 'undefined') console.error('miniauth: ' + name + ' threw', e);
    }
  }

  // signedOut forgets the session and tells the app why: 'logout',
  // 'account_deleted', 'user_disabled' or 'session_ended' (the server ended
  // it and the kit was not to log in again). Only once per stored session.
  function signedOut(reason, err) {
    if (err) {
      // One error reaches here once per layer it passes (login, request).
      if (err.signedOut) return;
      Object.defineProperty(err, 'signedOut', { value: true });
    }
    var had = readTokens() !== null || getWx().getStorageSync(USER) !== '';
    clear();
    if (reason === 'user_disabled') callHook('onUserDisabled', err);
    if (had) callHook('onSignedOut', { reason: reason, error: err });
  }

  // watchDisabled passes every failure on, after signing out on
  // user_disabled: an admin disabled the user, so no token or login helps.
  function watchDisabled(err) {
    if (err && err.code === 'user_disabled') signedOut('user_disabled', err);
    throw err;
  }

  // watchEnded passes every failure on, after signing out when the server
  // ended the session and the call was not to log in again.
  function watchEnded(err) {
    if (err && err.sessionEnded) signedOut('session_ended', err);
    throw err;
  }

  // resolve makes a path absolute and refuses to send the token to any
  // other server than baseURL.
  function resolve(url) {
    if (typeof url !== 'string' || url === '') {
      throw MiniauthError('invalid_request', 'request: url is required');
    }
    if (url.charAt(0) === '/') return baseURL + url;
    if (url === baseURL || url.indexOf(baseURL + '/') === 0 || url.indexOf(baseURL + '?') === 0) {
      return url;
    }
    throw MiniauthError('invalid_request', 'request: url must be a path or start with ' + baseURL +
      ' (the access token is only sent to miniauth)');
  }

  // post calls the API without a token and rejects anything but 2xx.
  function post(path, data) {
    return promisify(getWx().request, {
      url: baseURL + path,
      method: 'POST',
      data: data,
      header: { 'Content-Type': 'application/json' },
    }).then(function (res) {
      if (res.statusCode < 200 || res.statusCode > 299) throw errorFromResponse(res);
      var body = parseJSON(res.data);
      if (!body || typeof body.access_token !== 'string') {
        throw MiniauthError('invalid_response', 'unexpected answer from ' + path, res.statusCode);
      }
      return body;
    });
  }

  // appID is the mini program logins name: the configured one, else the
  // running mini program's own when the base library can tell (2.2.2+),
  // else none (a server with one app needs none).
  function appID() {
    if (config.appid) return config.appid;
    try {
      var w = getWx();
      if (typeof w.getAccountInfoSync === 'function') {
        var info = w.getAccountInfoSync();
        var id = info && info.miniProgram && info.miniProgram.appId;
        if (typeof id === 'string' && id !== '') return id;
      }
    } catch (e) {
      // no wx yet, or no account info: the server's single app applies
    }
    return undefined;
  }

  function withApp(body) {
    var id = appID();
    if (id) body.appid = id;
    return body;
  }

  function wxLogin() {
    return new Promise(function (resolve, reject) {
      getWx().login({
        success: function (r) {
          if (r && r.code) resolve(r.code);
          else reject(MiniauthError('wx_login_failed', 'wx.login returned no code'));
        },
        fail: function (err) {
          reject(MiniauthError('wx_login_failed', (err && err.errMsg) || 'wx.login failed'));
        },
      });
    });
  }

  // login exchanges a fresh wx.login code for tokens. Calls made while one
  // is in flight share it: a code is single-use, so there is exactly one
  // wx.login per login.
  function login(profile) {
    if (loginInFlight) return loginInFlight;
    var started = epoch;
    loginInFlight = retryUnavailable(function () {
      return wxLogin().then(function (code) {
        return post('/api/auth/login', withApp(Object.assign({}, profile || {}, { code: code })));
      });
    })
      .then(function (g) {
        if (started !== epoch) throw MiniauthError('logged_out', 'logged out while logging in', 401);
        saveGrant(g);
        return { user: g.user, isNewUser: g.is_new_user === true };
      })
      .catch(watchDisabled);
    var done = function () { loginInFlight = null; };
    loginInFlight.then(done, done);
    return loginInFlight;
  }

  // renew returns tokens newer than stale: someone else's if another
  // request already renewed them, else from one shared refresh, else (the
  // refresh token is dead) from a fresh login when mayLogin.
  function renew(stale, started, mayLogin) {
    if (started !== epoch) {
      return Promise.reject(MiniauthError('logged_out', 'logged out', 401));
    }
    var current = readTokens();
    if (current && current.access_token !== stale.access_token) return Promise.resolve(current);
    if (refreshInFlight) return refreshInFlight;
    if (loginInFlight) return loginInFlight.then(readTokens);
    refreshInFlight = post('/api/auth/refresh', { refresh_token: stale.refresh_token })
      .then(function (g) {
        if (started !== epoch) throw MiniauthError('logged_out', 'logged out while refreshing', 401);
        saveGrant(g);
        return readTokens();
      }, function (err) {
        // 401: the session is over (expired, revoked, or the refresh token
        // was already used). Start again with a new login. Anything else
        // (network, 5xx, 429) is passed on: the stored session may still be good.
        if (err.status !== 401 || started !== epoch) throw err;
        getWx().removeStorageSync(TOKENS);
        if (!mayLogin) {
          // The caller says what this means (logout() means to leave).
          Object.defineProperty(err, 'sessionEnded', { value: true });
          throw err;
        }
        return login().then(readTokens);
      });
    var done = function () { refreshInFlight = null; };
    refreshInFlight.then(done, done);
    return refreshInFlight;
  }

  // authed runs send(accessToken) → wx response, logging in first when
  // there is no token (unless mayLogin is false) and renewing once on a 401.
  // A second 401 is returned to the caller: no loops.
  function authed(send, mayLogin) {
    var started = epoch;
    var tokens = readTokens();
    var ready;
    if (tokens) ready = Promise.resolve(tokens);
    else if (mayLogin) ready = login().then(readTokens);
    else return Promise.reject(MiniauthError('unauthorized', 'not logged in', 401));
    return ready.then(function (t) {
      if (!t) throw MiniauthError('unauthorized', 'not logged in', 401);
      return send(t.access_token).then(function (res) {
        if (res.statusCode !== 401) return res;
        return renew(t, started, mayLogin).then(function (fresh) {
          if (!fresh) throw MiniauthError('unauthorized', 'not logged in', 401);
          return send(fresh.access_token);
        });
      });
    }).then(function (res) {
      if (res.statusCode < 200 || res.statusCode > 299) throw errorFromResponse(res);
      return res;
    }).catch(watchDisabled);
  }

  function withAuth(header, token) {
    var h = {};
    Object.keys(header || {}).forEach(function (k) {
      if (k.toLowerCase() !== 'authorization') h[k] = header[k];
    });
    h.Authorization = 'Bearer ' + token;
    return h;
  }

  // request is wx.request as a Promise, with the user's token. It resolves
  // with wx's response ({ statusCode, data, header }) for a 2xx answer and
  // rejects with a MiniauthError otherwise.
  function request(options) {
    var opts = Object.assign({}, options);
    var url;
    try {
      url = resolve(opts.url);
    } catch (e) {
      return Promise.reject(e);
    }
    delete opts.success;
    delete opts.fail;
    delete opts.complete;
    return authed(function (token) {
      return promisify(getWx().request, Object.assign({}, opts, { url: url, header: withAuth(opts.header, token) }));
    }, true);
  }

  // uploadFile is wx.uploadFile as a Promise, with the user's token, for
  // your own backend's upload routes under baseURL. It resolves with wx's
  // response ({ statusCode, data, header }; data is the body as a string)
  // for a 2xx answer and rejects with a MiniauthError otherwise.
  function uploadFile(options) {
    var opts = Object.assign({}, options);
    var url;
    try {
      url = resolve(opts.url);
    } catch (e) {
      return Promise.reject(e);
    }
    if (typeof opts.filePath !== 'string' || opts.filePath === '' || typeof opts.name !== 'string' || opts.name === '') {
      return Promise.reject(MiniauthError('invalid_request', 'uploadFile: filePath and name are required'));
    }
    delete opts.success;
    delete opts.fail;
    delete opts.complete;
    return authed(function (token) {
      return promisify(getWx().uploadFile, Object.assign({}, opts, { url: url, header: withAuth(opts.header, token) }));
    }, true);
  }

  function call(method, path, data, mayLogin) {
    return authed(function (token) {
      var opts = { url: baseURL + path, method: method, header: withAuth({ 'Content-Type': 'application/json' }, token) };
      if (data !== undefined) opts.data = data;
      return promisify(getWx().request, opts);
    }, mayLogin);
  }

  function keepUser(res) {
    var user = parseJSON(res.data);
    if (!user || typeof user.id !== 'number') {
      throw MiniauthError('invalid_response', 'expected a user', res.statusCode);
    }
    getWx().setStorageSync(USER, user);
    return user;
  }

  // logout ends the session on the server, then forgets it here whatever
  // the server said: a failed network never leaves tokens behind.
  function logout() {
    if (!readTokens()) {
      signedOut('logout');
      return Promise.resolve();
    }
    var out = function () { signedOut('logout'); };
    return call('POST', '/api/auth/logout', undefined, false).then(out, out);
  }

  // phoneLogin logs in with wx.login and binds the phone from
  // <button open-type="getPhoneNumber"> (e.detail.code) in one call, for
  // mini programs whose sign-up is the phone button. A phone that belongs
  // to another account rejects with code account_conflict (409), and
  // nothing changes. It waits for a login already in flight, then makes
  // its own (a code is single-use).
  function phoneLogin(phoneCode) {
    if (typeof phoneCode !== 'string' || phoneCode === '') {
      return Promise.reject(MiniauthError('invalid_request', 'phoneLogin: phoneCode is required (e.detail.code; missing when the user declined)'));
    }
    var started = epoch;
    var before = loginInFlight ? loginInFlight.catch(function () {}) : Promise.resolve();
    var p = before.then(function () {
      return retryUnavailable(function () {
        return wxLogin().then(function (code) {
          return post('/api/auth/phone-login', withApp({ code: code, phone_code: phoneCode }));
        });
      });
    })
      .then(function (g) {
        if (started !== epoch) throw MiniauthError('logged_out', 'logged out while logging in', 401);
        saveGrant(g);
        return { user: g.user, isNewUser: g.is_new_user === true };
      })
      .catch(watchDisabled);
    loginInFlight = p;
    var done = function () { if (loginInFlight === p) loginInFlight = null; };
    p.then(done, done);
    return p;
  }

  // Web sign-in: a website shows a mini program code whose scene is a
  // sign-in ticket; the page it opens reads query.scene and lets the user
  // confirm. webScene accepts the scene as the page gets it (URL-encoded)
  // or decoded.
  function webScene(scene, name) {
    var s = typeof scene === 'string' ? scene : '';
    try {
      s = decodeURIComponent(s);
    } catch (e) {
      // not encoded: keep it as it is
    }
    if (!/^[0-9A-Za-z!#$&'()*+,\/:;=?@\-._~]{1,32}$/.test(s)) {
      throw MiniauthError('invalid_request', name + ': scene is required (query.scene of the page the code opened)');
    }
    return s;
  }

  function webLogin(action, scene, name) {
    var s;
    try {
      s = webScene(scene, name);
    } catch (e) {
      return Promise.reject(e);
    }
    return call('POST', '/api/auth/qr/' + encodeURIComponent(s) + '/' + action, undefined, true);
  }

  // scanWebLogin claims the sign-in for this user (logging in first if
  // needed) and resolves with where it comes from: { status: 'scanned',
  // ip, device } to show before the user confirms. A code someone else
  // scanned, or that expired or was used, rejects with not_found.
  function scanWebLogin(scene) {
    return webLogin('scan', scene, 'scanWebLogin').then(function (res) {
      var body = parseJSON(res.data);
      if (!body || body.status !== 'scanned') {
        throw MiniauthError('invalid_response', 'expected a scanned sign-in', res.statusCode);
      }
      return { status: body.status, ip: body.ip, device: body.device };
    });
  }

  return {
    baseURL: baseURL,
    login: login,
    scanWebLogin: scanWebLogin,
    // confirmWebLogin lets the browser that shows the code in as this
    // user: it scans (if not done yet) and confirms, resolving with where
    // the sign-in came from ({ status, ip, device }).
    confirmWebLogin: function (scene) {
      return scanWebLogin(scene).then(function (info) {
        return webLogin('confirm', scene, 'confirmWebLogin').then(function () { return info; });
      });
    },
    // denyWebLogin refuses it: the browser is told "denied".
    denyWebLogin: function (scene) {
      return webLogin('deny', scene, 'denyWebLogin').then(function () {});
    },
    phoneLogin: phoneLogin,
    // listSessions resolves with the user's live sessions, newest first:
    // [{ id, created_at, last_used_at, ip, device, app, via, current }].
    listSessions: function () {
      return call('GET', '/api/me/sessions', undefined, true).then(function (res) {
        var body = parseJSON(res.data);
        if (!body || !Array.isArray(body.sessions)) {
          throw MiniauthError('invalid_response', 'expected sessions', res.statusCode);
        }
        return body.sessions;
      });
    },
    // endSession signs one of the user's other devices out at once.
    endSession: function (id) {
      if (typeof id !== 'number' || !(id > 0) || Math.floor(id) !== id) {
        return Promise.reject(MiniauthError('invalid_request', 'endSession: id must be a session id from listSessions'));
      }
      return call('DELETE', '/api/me/sessions/' + id, undefined, false).then(function () {}, watchEnded);
    },
    // endOtherSessions signs out every device but this one.
    endOtherSessions: function () {
      return call('DELETE', '/api/me/sessions', undefined, false).then(function () {}, watchEnded);
    },
    request: request,
    uploadFile: uploadFile,
    logout: logout,
    // updateProfile changes nickname, avatar_url and/or gender; it
    // resolves with the updated user.
    updateProfile: function (fields) {
      return call('PUT', '/api/me', fields || {}, true).then(keepUser);
    },
    // deleteAccount closes the account on the server (everything about the
    // user is erased), then forgets the session here.
    deleteAccount: function () {
      return call('DELETE', '/api/me', undefined, false).then(function () { signedOut('account_deleted'); }, watchEnded);
    },
    // uploadAvatar sends the temp file from <button open-type="chooseAvatar">
    // and resolves with the user, whose avatar_url now points at it.
    uploadAvatar: function (tempFilePath) {
      if (typeof tempFilePath !== 'string' || tempFilePath === '') {
        return Promise.reject(MiniauthError('invalid_request', 'uploadAvatar: tempFilePath is required'));
      }
      return authed(function (token) {
        return promisify(getWx().uploadFile, {
          url: baseURL + '/api/me/avatar',
          filePath: tempFilePath,
          name: 'file',
          header: withAuth({}, token),
        });
      }, true).then(keepUser);
    },
    // bindPhone takes e.detail.code from <button open-type="getPhoneNumber">
    // and resolves with the user, phone filled in.
    bindPhone: function (code) {
      if (typeof code !== 'string' || code === '') {
        return Promise.reject(MiniauthError('invalid_request', 'bindPhone: code is required (e.detail.code; missing when the user declined)'));
      }
      return call('POST', '/api/me/phone', { code: code }, true).then(keepUser);
    },
    // phoneOffer asks whether to show the phone-number button now:
    // WeChat bills every tap that succeeds (before the code reaches the
    // server), so the server keeps daily caps. Resolves { offer, reason }
    // (reason: ok, already_verified, cooldown, user_daily_cap,
    // ip_daily_cap, budget_exhausted or risk).
    phoneOffer: function () {
      return call('GET', '/api/me/phone/offer', undefined, true).then(function (res) {
        var body = parseJSON(res.data);
        if (!body || typeof body.offer !== 'boolean' || typeof body.reason !== 'string') {
          throw MiniauthError('invalid_response', 'expected a phone offer', res.statusCode);
        }
        return { offer: body.offer, reason: body.reason };
      });
    },
    // getUser is the user as last seen, from storage (null when logged out).
    getUser: function () {
      var u = getWx().getStorageSync(USER);
      return u && typeof u === 'object' ? u : null;
    },
    // isLoggedIn reports whether tokens are stored (they may have expired;
    // request() handles that).
    isLoggedIn: function () {
      return readTokens() !== null;
    },
  };
}

// fieldError is the message to show next to a form field after a failed
// call, or '' when the error is not about that field: validation_failed
// names each invalid field, and content_rejected (WeChat's content check
// found the nickname risky) names the field it refused. message, if
// given, replaces the server's text for content_rejected (e.g. in the
// page's language).
function fieldError(err, field, message) {
  if (!err || !err.fields || typeof err.fields[field] !== 'string') return '';
  if (err.code === 'content_rejected') return message || err.fields[field];
  return err.code === 'validation_failed' ? err.fields[field] : '';
}

// PHONE_NO_QUOTA is the errno of a getPhoneNumber callback once the mini
// program's paid phone quota is used up: no code came, nothing was billed.
var PHONE_NO_QUOTA = 1400001;

// phoneQuotaExhausted reports whether a getPhoneNumber event (or its
// detail) says the quota is gone: hide the phone button and offer another
// way on (give the button phone-number-no-quota-toast="{{false}}" so that
// WeChat does not show its own toast).
function phoneQuotaExhausted(e) {
  if (!e || typeof e !== 'object') return false;
  var d = e.detail && typeof e.detail === 'object' ? e.detail : e;
  return Number(d.errno) === PHONE_NO_QUOTA;
}

module.exports = {
  createClient: createClient,
  phoneQuotaExhausted: phoneQuotaExhausted,
  PHONE_NO_QUOTA: PHONE_NO_QUOTA,
  MiniauthError: MiniauthError,
  fieldError: fieldError,
};
