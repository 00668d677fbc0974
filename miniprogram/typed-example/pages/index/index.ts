// A page using every method of the client with its types.
import {
  MiniauthError, User, Session, LoginResult, Response, UploadFileResponse, ErrorCode, Gender,
  PhoneOffer, PhoneOfferReason, PhoneNumberDetail, fieldError, phoneQuotaExhausted, PHONE_NO_QUOTA,
} from '../../miniauth/index';
import type { AppData } from '../../app';

const app = getApp<AppData>();

interface Order {
  id: number;
  total_fen: number;
}

// What a page shows for an error, by code: the kit's own and the server's.
function messageFor(err: unknown): string {
  if (!(err instanceof MiniauthError)) return 'Unexpected error';
  const code: ErrorCode = err.code;
  switch (code) {
    case 'network_error':
      return 'No network: try again';
    case 'validation_failed':
      return Object.keys(err.fields ?? {}).map((f) => f + ': ' + (err.fields ?? {})[f]).join('\n');
    case 'user_disabled':
      return 'This account is disabled';
    case 'account_conflict':
      return 'This phone number belongs to another account';
    case 'content_rejected':
      return fieldError(err, 'nickname', 'Please choose another nickname');
    case 'phone_code_mismatch':
      return 'Please tap the phone button again';
    case 'unavailable':
    case 'rate_limited': {
      const wait: number | undefined = err.retryAfter;
      return 'Busy: try again' + (wait !== undefined ? ' in ' + wait + ' s' : ' later');
    }
    case 'logged_out':
      return '';
    default:
      return err.message + ' (' + code + ', HTTP ' + err.status + ')';
  }
}

Page({
  data: {
    user: null as User | null,
    sessions: [] as Session[],
    orders: [] as Order[],
    error: '',
    nicknameError: '',
    phoneOffered: false,
    phoneNote: '',
    isAdmin: false,
  },

  async onShow() {
    const cached: User | null = app.auth.getUser();
    this.setData({ user: cached });
    if (!app.auth.isLoggedIn()) return;
    const me: Response<User> = await app.auth.request<User>({ url: '/api/me' });
    const roles: string[] = me.data.roles;
    this.setData({ user: me.data, isAdmin: roles.includes('admin') });
    // WeChat bills every successful tap on the phone button: show it only when offered.
    const o: PhoneOffer = await app.auth.phoneOffer();
    const reason: PhoneOfferReason = o.reason;
    this.setData({ phoneOffered: o.offer, phoneNote: o.offer ? '' : 'Phone verification unavailable (' + reason + ')' });
  },

  async onLogin() {
    const r: LoginResult = await app.auth.login({ nickname: 'Alice', gender: 2 });
    if (r.isNewUser) wx.showToast({ title: 'Welcome, ' + r.user.nickname });
  },

  async onPhoneLogin(e: WechatMiniprogram.CustomEvent<PhoneNumberDetail>) {
    if (phoneQuotaExhausted(e)) {
      this.setData({ phoneOffered: false, phoneNote: 'Use the WeChat login instead' });
      return;
    }
    if (!e.detail.code) return;
    try {
      const r = await app.auth.phoneLogin(e.detail.code);
      this.setData({ user: r.user });
    } catch (err) {
      this.setData({ error: messageFor(err) });
    }
  },

  async onSaveProfile(e: WechatMiniprogram.CustomEvent<{ value: { nickname: string; gender: string } }>) {
    const gender = Number(e.detail.value.gender) as Gender;
    try {
      const user = await app.auth.updateProfile({ nickname: e.detail.value.nickname.trim(), gender });
      this.setData({ user, nicknameError: '' });
    } catch (err) {
      // validation_failed or content_rejected about the nickname: next to the field.
      const msg: string = fieldError(err, 'nickname', '这个昵称未通过微信内容安全检测，请换一个');
      this.setData(msg ? { nicknameError: msg } : { error: messageFor(err) });
    }
  },

  async onChooseAvatar(e: WechatMiniprogram.CustomEvent<{ avatarUrl: string }>) {
    const user = await app.auth.uploadAvatar(e.detail.avatarUrl);
    const src: string = user.avatar_url.startsWith('/') ? app.auth.baseURL + user.avatar_url : user.avatar_url;
    this.setData({ user, avatarSrc: src });
  },

  async onGetPhoneNumber(e: WechatMiniprogram.CustomEvent<PhoneNumberDetail>) {
    if (Number(e.detail.errno) === PHONE_NO_QUOTA || phoneQuotaExhausted(e.detail)) {
      this.setData({ phoneOffered: false });
      return;
    }
    if (!e.detail.code) return; // declined
    const user = await app.auth.bindPhone(e.detail.code);
    this.setData({ user });
  },

  // Your own backend, behind the same domain and forward auth.
  async onOrders() {
    const res = await app.auth.request<{ orders: Order[] }>({ url: '/shop/orders', method: 'GET', data: { page: 1 } });
    this.setData({ orders: res.data.orders });
    const created = await app.auth.request<Order>({ url: '/shop/orders', method: 'POST', data: { item: 42 }, timeout: 10000 });
    this.setData({ orders: [created.data, ...res.data.orders] });
  },

  async onUploadReceipt() {
    const chosen = await wx.chooseMedia({ count: 1, mediaType: ['image'] });
    const res: UploadFileResponse = await app.auth.uploadFile({
      url: '/shop/receipts',
      filePath: chosen.tempFiles[0].tempFilePath,
      name: 'receipt',
      formData: { order: 42 },
    });
    const order = JSON.parse(res.data) as Order;
    this.setData({ orders: [order] });
  },

  async onDevices() {
    const sessions: Session[] = await app.auth.listSessions();
    this.setData({ sessions });
    const other = sessions.find((s) => !s.current && s.via === 'miniprogram');
    if (other) await app.auth.endSession(other.id);
    await app.auth.endOtherSessions();
  },

  async onLogout() {
    await app.auth.logout();
    this.setData({ user: null });
  },

  async onDeleteAccount() {
    await app.auth.deleteAccount();
    this.setData({ user: null });
  },
});
