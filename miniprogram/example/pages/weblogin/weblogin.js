const app = getApp();

// Web sign-in: a website shows a mini program code; scanning it opens the
// home page with query.scene, which sends it here. The page claims the
// sign-in, shows where it comes from, and lets the user confirm or deny.
Page({
  data: {
    scene: '',
    from: null, // { ip, device } of the browser asking
    state: 'loading', // loading, ready, confirmed, denied, gone, error
    busy: false,
    error: '',
  },

  onLoad(query) {
    const scene = decodeURIComponent((query && query.scene) || '');
    this.setData({ scene });
    return app.auth.scanWebLogin(scene).then(
      (from) => this.setData({ from: { ip: from.ip, device: from.device }, state: 'ready' }),
      (err) => this.fail(err),
    );
  },

  onConfirm() {
    return this.answer(() => app.auth.confirmWebLogin(this.data.scene), 'confirmed');
  },

  onDeny() {
    return this.answer(() => app.auth.denyWebLogin(this.data.scene), 'denied');
  },

  answer(step, state) {
    this.setData({ busy: true, error: '' });
    return step().then(
      () => this.setData({ busy: false, state }),
      (err) => this.fail(err),
    );
  },

  // not_found: the code expired, was used, or someone else scanned it.
  fail(err) {
    const gone = err.code === 'not_found';
    this.setData({ busy: false, state: gone ? 'gone' : 'error', error: gone ? '' : err.message + ' (' + err.code + ')' });
  },

  onDone() {
    wx.navigateBack({ fail: () => wx.reLaunch({ url: '/pages/index/index' }) });
  },
});
