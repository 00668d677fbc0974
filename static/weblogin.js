// miniauth web sign-in: show a mini program code, wait for the user to
// scan and confirm it in the mini program, receive the session.
//
// Use it on your own page (no inline script needed):
//
//   <img id="code">
//   <script src="https://auth.example.com/static/weblogin.js"></script>
//   <script src="/your-page.js"></script>
//
//   // your-page.js
//   MiniauthWebLogin.start({
//     baseURL: 'https://auth.example.com',   // '' (default): this server
//     image: document.getElementById('code'),
//     onStatus: function (status, info) {},  // pending, scanned, denied, expired, error
//     onSignedIn: function (grant) {},       // { access_token, refresh_token, token_type, expires_in, user }
//   });
//
// The poll token stays in this script's memory: it never goes into a URL.
// /login/qr on miniauth is a complete demo page built on it.
(function () {
  'use strict';

  var WAIT = 25; // seconds a poll waits for a change (the server's maximum)

  function request(url, options) {
    return fetch(url, Object.assign({ credentials: 'omit', cache: 'no-store' }, options)).then(function (res) {
      return res.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (!res.ok) {
          var err = new Error((body && body.error && body.error.message) || 'HTTP ' + res.status);
          err.status = res.status;
          err.code = body && body.error && body.error.code;
          throw err;
        }
        return body;
      });
    });
  }

  function post(url, body) {
    return request(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body || {}) });
  }

  // start begins one sign-in and returns { cancel }. It makes a ticket,
  // shows its code in options.image, and long-polls until the sign-in is
  // confirmed (onSignedIn), denied or expired (onStatus; call start again
  // for a new code).
  function start(options) {
    var o = options || {};
    var base = (o.baseURL || '').replace(/\/+$/, '');
    var onStatus = o.onStatus || function () {};
    var onSignedIn = o.onSignedIn || function () {};
    var stopped = false;
    var failures = 0;

    function status(s, info) { if (!stopped) onStatus(s, info || {}); }

    function poll(ticket) {
      if (stopped) return;
      post(base + '/api/auth/qr/' + encodeURIComponent(ticket.ticket) + '/poll', { poll_token: ticket.poll_token, wait: WAIT })
        .then(function (r) {
          if (stopped) return;
          failures = 0;
          if (r.status === 'confirmed' && r.access_token) {
            stopped = true;
            onSignedIn(r);
            return;
          }
          status(r.status);
          if (r.status === 'pending' || r.status === 'scanned') poll(ticket);
        }, function (err) {
          if (stopped) return;
          if (err.status === 404) { status('expired'); return; }
          if (err.status === 403) { status('denied', { error: err }); return; }
          // The network or the server hiccupped: try again, a little later each time.
          failures++;
          if (failures > 5) { status('error', { error: err }); return; }
          setTimeout(function () { poll(ticket); }, 1000 * failures);
        });
    }

    var body = o.appid ? { appid: o.appid } : {};
    post(base + '/api/auth/qr', body).then(function (ticket) {
      if (stopped) return;
      if (o.image) o.image.src = base + ticket.image_url;
      status('pending', { expiresIn: ticket.expires_in });
      poll(ticket);
    }, function (err) {
      status('error', { error: err });
    });

    return { cancel: function () { stopped = true; } };
  }

  window.MiniauthWebLogin = { start: start };

  // The demo page (/login/qr): everything below drives its elements.
  var TEXT = {
    en: {
      title: 'Sign in with WeChat',
      loading: 'Loading the code…',
      pending: 'Scan the code with WeChat',
      scanned: 'Scanned: confirm in the mini program',
      denied: 'Sign-in refused',
      expired: 'The code expired',
      error: 'Something went wrong',
      renew: 'Get a new code',
      signedInAs: 'Signed in as',
      userID: 'User id',
      logout: 'Sign out',
      hint: 'Open WeChat, tap + → Scan, and confirm in the mini program.',
      noName: '(no nickname)',
    },
    zh: {
      title: '微信扫码登录',
      loading: '正在加载小程序码…',
      pending: '请使用微信扫码',
      scanned: '已扫码，请在小程序中确认',
      denied: '已拒绝登录',
      expired: '小程序码已过期',
      error: '出错了',
      renew: '刷新小程序码',
      signedInAs: '已登录：',
      userID: '用户 ID',
      logout: '退出登录',
      hint: '打开微信，点右上角 + → 扫一扫，在小程序中确认登录。',
      noName: '（未设置昵称）',
    },
  };

  function demo(root) {
    var lang = /^zh/i.test(navigator.language || '') ? 'zh' : 'en';
    var t = TEXT[lang];
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.title = t.title + ' · miniauth';
    root.querySelectorAll('[data-text]').forEach(function (el) {
      var s = t[el.getAttribute('data-text')];
      if (s) el.textContent = s;
    });
    var $ = function (id) { return document.getElementById(id); };
    var img = $('qr-image');
    var overlay = $('qr-overlay');
    var line = $('qr-status');
    var renew = $('qr-renew');
    var session = null; // the signed-in session's tokens, in memory only
    var current = null;

    img.addEventListener('load', function () { img.hidden = false; });

    function show(status) {
      line.setAttribute('data-status', status);
      line.textContent = t[status] || status;
      var over = status === 'denied' || status === 'expired' || status === 'error' ? t[status] : status === 'scanned' ? t.scanned : '';
      overlay.textContent = over;
      overlay.hidden = !over;
      renew.hidden = !(status === 'denied' || status === 'expired' || status === 'error');
    }

    function begin() {
      if (current) current.cancel();
      $('qr-signin').hidden = false;
      $('qr-user').hidden = true;
      img.hidden = true;
      img.removeAttribute('src');
      show('loading');
      current = start({ image: img, onStatus: show, onSignedIn: signedIn });
    }

    function signedIn(grant) {
      session = grant;
      line.setAttribute('data-status', 'confirmed');
      // Show the user the way any page would: GET /api/me with the token.
      request('/api/me', { headers: { Authorization: 'Bearer ' + grant.access_token } }).then(function (user) {
        $('qr-signin').hidden = true;
        $('qr-user').hidden = false;
        $('user-name').textContent = user.nickname || t.noName;
        $('user-id').textContent = String(user.id);
        var avatar = $('user-avatar');
        avatar.hidden = !user.avatar_url;
        if (user.avatar_url) avatar.src = user.avatar_url;
        root.setAttribute('data-user-id', String(user.id));
      }, function () { show('error'); });
    }

    renew.addEventListener('click', begin);
    $('qr-logout').addEventListener('click', function () {
      var s = session;
      session = null;
      root.removeAttribute('data-user-id');
      var done = function () { begin(); };
      if (!s) { done(); return; }
      request('/api/auth/logout', { method: 'POST', headers: { Authorization: 'Bearer ' + s.access_token } }).then(done, done);
    });
    begin();
  }

  function ready() {
    var root = document.querySelector('[data-miniauth-qr]');
    if (root) demo(root);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', ready);
  else ready();
})();
