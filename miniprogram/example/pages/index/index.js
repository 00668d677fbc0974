const { fieldError, phoneQuotaExhausted } = require('../../miniauth/index.js');

const app = getApp();

Page({
  data: {
    user: null,
    avatarSrc: '',
    busy: false,
    error: '',
    nicknameError: '',
    // The phone button is shown only when the server offers it (WeChat
    // bills every successful tap); phoneNote says why it is not there.
    phoneOffered: false,
    phoneNote: '',
    phoneSignUp: true, // the logged-out phone sign-up button
  },

  // A website's sign-in code opens this page (MINIAUTH_QR_PAGE) with the
  // ticket in query.scene: the confirm page takes it from there.
  onLoad(query) {
    this.show(app.auth.getUser());
    if (query && query.scene) {
      wx.navigateTo({ url: '/pages/weblogin/weblogin?scene=' + encodeURIComponent(decodeURIComponent(query.scene)) });
    }
  },

  // Every page can call app.auth.request() like wx.request(): it logs in
  // and refreshes tokens on its own. Here it re-reads the user on show.
  onShow() {
    if (!app.auth.isLoggedIn()) return Promise.resolve();
    return this.run(() => app.auth.request({ url: '/api/me' }).then((res) => res.data));
  },

  // checkPhoneOffer shows the phone button only when the server offers it
  // now; any failure keeps it hidden (a tap costs money).
  checkPhoneOffer() {
    if (!this.data.user || this.data.user.phone) {
      this.setData({ phoneOffered: false });
      return Promise.resolve();
    }
    return app.auth.phoneOffer().then(
      (o) => this.setData({ phoneOffered: o.offer, phoneNote: o.offer ? '' : 'Phone verification is not available right now (' + o.reason + ').' }),
      () => this.setData({ phoneOffered: false, phoneNote: '' }),
    );
  },

  onLogin() {
    return this.run(() => app.auth.login().then((r) => r.user));
  },

  // Sign-up with the phone button: one call logs in and binds the number.
  // A number another account has is refused (account_conflict).
  // When the paid phone quota is used up, WeChat gives no code (errno
  // 1400001): fall back to the plain WeChat login.
  onPhoneLogin(e) {
    if (phoneQuotaExhausted(e)) {
      this.setData({ phoneSignUp: false, phoneNote: 'Sign-up by phone number is not available right now: log in with WeChat.' });
      return Promise.resolve();
    }
    if (!e.detail.code) return Promise.resolve();
    return this.run(() => app.auth.phoneLogin(e.detail.code).then((r) => r.user));
  },

  onDevices() {
    wx.navigateTo({ url: '/pages/devices/devices' });
  },

  onChooseAvatar(e) {
    return this.run(() => app.auth.uploadAvatar(e.detail.avatarUrl));
  },

  onSaveProfile(e) {
    const nickname = (e.detail.value.nickname || '').trim();
    if (!nickname) {
      this.setData({ error: 'Enter a nickname' });
      return Promise.resolve();
    }
    this.setData({ nicknameError: '' });
    // WeChat's content check may refuse the nickname (content_rejected):
    // say so next to the field, not as a page error.
    return this.run(() => app.auth.updateProfile({ nickname }), (err) => {
      const msg = fieldError(err, 'nickname', '这个昵称未通过微信内容安全检测，请换一个');
      if (!msg) return false;
      this.setData({ nicknameError: msg });
      return true;
    });
  },

  onGetPhoneNumber(e) {
    if (phoneQuotaExhausted(e)) {
      this.setData({ phoneOffered: false, phoneNote: 'Phone verification is not available right now; you can go on without it.' });
      return Promise.resolve();
    }
    // No code: the user declined (or the mini program lacks the permission).
    if (!e.detail.code) return Promise.resolve();
    return this.run(() => app.auth.bindPhone(e.detail.code));
  },

  onLogout() {
    return this.run(() => app.auth.logout().then(() => null));
  },

  // run shows the user a step resolves with, or its error (unless
  // onField shows it next to a field and returns true).
  run(step, onField) {
    this.setData({ busy: true, error: '' });
    return step().then(
      (user) => {
        this.setData({ busy: false });
        this.show(user);
        return this.checkPhoneOffer();
      },
      (err) => {
        this.setData({ busy: false });
        if (onField && onField(err)) return;
        this.setData({ error: err.message + ' (' + err.code + ')' });
      },
    );
  },

  show(user) {
    const url = (user && user.avatar_url) || '';
    // Uploaded avatars are paths on the miniauth server.
    this.setData({ user: user, avatarSrc: url.charAt(0) === '/' ? app.auth.baseURL + url : url });
  },
});
