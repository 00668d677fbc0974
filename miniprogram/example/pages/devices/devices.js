const app = getApp();

// The devices the user is signed in on, with "sign out" per device and
// "sign out all other devices".
Page({
  data: {
    sessions: [],
    busy: false,
    error: '',
  },

  onShow() {
    return this.run(() => Promise.resolve());
  },

  onEnd(e) {
    const id = Number(e.currentTarget.dataset.id);
    return this.run(() => app.auth.endSession(id));
  },

  onEndOthers() {
    return this.run(() => app.auth.endOtherSessions());
  },

  // run does a step, then shows the sessions as they are now.
  run(step) {
    this.setData({ busy: true, error: '' });
    return step()
      .then(() => app.auth.listSessions())
      .then(
        (sessions) => this.setData({ busy: false, sessions }),
        (err) => this.setData({ busy: false, error: err.message + ' (' + err.code + ')' }),
      );
  },
});
