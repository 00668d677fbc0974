// app.ts: one client for the whole mini program, with the hooks that send
// the user to the login page when the session is gone.
import { createClient, Client, SignedOutEvent, MiniauthError } from './miniauth/index';

export interface AppData {
  auth: Client;
}

const auth = createClient({
  baseURL: 'https://api.example.com',
  appid: 'wx0123456789abcdef',
  storagePrefix: 'shop:',
  onSignedOut(event: SignedOutEvent) {
    if (event.reason === 'logout' || event.reason === 'account_deleted') return; // the user chose it
    const why: string = event.error ? event.error.code : event.reason;
    wx.reLaunch({ url: '/pages/index/index?signedOut=' + why });
  },
  onUserDisabled(err: MiniauthError) {
    wx.showModal({ title: 'Account disabled', content: err.message, showCancel: false });
  },
});

App<AppData>({
  auth,
  onLaunch() {
    // Silent login at launch: pages that need a user wait for it through request().
    auth.login().catch((err: unknown) => {
      if (err instanceof MiniauthError && err.code === 'network_error') return; // request() retries later
      console.error(err);
    });
  },
});
