// Web sign-in: a website shows a mini program code; the page it opens gets
// query.scene, shows where the sign-in comes from and lets the user answer.
import { MiniauthError, WebLoginScan } from '../../miniauth/index';
import type { AppData } from '../../app';

const app = getApp<AppData>();

type State = 'loading' | 'ready' | 'confirmed' | 'denied' | 'gone' | 'error';

Page({
  data: {
    scene: '',
    from: null as WebLoginScan | null,
    state: 'loading' as State,
    error: '',
  },

  async onLoad(query: Record<string, string | undefined>) {
    const scene = decodeURIComponent(query.scene ?? '');
    this.setData({ scene });
    try {
      const from: WebLoginScan = await app.auth.scanWebLogin(scene);
      this.setData({ from, state: 'ready' });
    } catch (err) {
      this.fail(err);
    }
  },

  async onConfirm() {
    try {
      const from: WebLoginScan = await app.auth.confirmWebLogin(this.data.scene);
      this.setData({ from, state: 'confirmed' });
    } catch (err) {
      this.fail(err);
    }
  },

  async onDeny() {
    try {
      await app.auth.denyWebLogin(this.data.scene);
      this.setData({ state: 'denied' });
    } catch (err) {
      this.fail(err);
    }
  },

  // not_found: the code expired, was used, or someone else scanned it.
  fail(err: unknown) {
    const gone = err instanceof MiniauthError && err.code === 'not_found';
    const error = err instanceof MiniauthError ? err.message + ' (' + err.code + ')' : String(err);
    this.setData({ state: gone ? 'gone' : 'error', error: gone ? '' : error });
  },
});
