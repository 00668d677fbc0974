// Types for the miniauth client kit (index.js). Self-contained: they need
// neither miniprogram-api-typings nor any other package.

/** A user as miniauth returns it. openid, unionid and session_key never leave the server. */
export interface User {
  id: number;
  /** 1–64 characters, or "" when not set. */
  nickname: string;
  /** An https:// URL, a /uploads/avatars/… path on your miniauth (show it as client.baseURL + avatar_url), or "". */
  avatar_url: string;
  /** 0 unknown, 1 male, 2 female. */
  gender: Gender;
  /** The bound phone number, or "". */
  phone: string;
  /** RFC 3339 time. */
  created_at: string;
  /** RFC 3339 time. */
  updated_at: string;
  /** The user's role names, sorted ([] when none): your backend's permissions, set in the admin panel. */
  roles: string[];
}

/** 0 unknown, 1 male, 2 female. */
export type Gender = 0 | 1 | 2;

/** Profile fields a login may fill (only the user's empty ones) and updateProfile may change. */
export interface Profile {
  nickname?: string;
  avatar_url?: string;
  gender?: Gender;
}

/** The result of login() and phoneLogin(). */
export interface LoginResult {
  user: User;
  /** true when this login created the user. */
  isNewUser: boolean;
}

/** One of the user's live sessions (devices), as listSessions() returns them, newest first. */
export interface Session {
  id: number;
  created_at: string;
  last_used_at: string;
  /** The client IP of the session's last use. */
  ip: string;
  /** A short description made from the user agent, e.g. "WeChat 8.0.50 on iPhone". */
  device: string;
  /** The AppID of the mini program (or Official Account, or app) the session was opened from. */
  app: string;
  /** Which door the session came through: "miniprogram", "oa" (Official Account H5) or "app". */
  via: 'miniprogram' | 'oa' | 'app' | (string & {});
  /** true for the session of this client. */
  current: boolean;
}

/** Error codes the kit raises itself. */
export type KitErrorCode =
  | 'network_error'
  | 'wx_login_failed'
  | 'logged_out'
  | 'unauthorized'
  | 'invalid_request'
  | 'invalid_response'
  | 'http_error';

/** Error codes miniauth's API answers with (passed on as the server sent them): handlers/respond.go's table. */
export type ServerErrorCode =
  | 'invalid_request'
  | 'validation_failed'
  | 'request_too_large'
  | 'request_header_too_large'
  | 'invalid_code'
  | 'unauthorized'
  | 'user_disabled'
  | 'login_blocked'
  | 'not_found'
  | 'method_not_allowed'
  | 'rate_limited'
  | 'wechat_unavailable'
  | 'session_key_stale'
  | 'account_conflict'
  | 'invalid_signature'
  /** WeChat's content check refused a field (the nickname): fields names it. */
  | 'content_rejected'
  | 'phone_code_mismatch'
  | 'risk_rejected'
  | 'forbidden'
  /** The database cannot take writes for a moment: retryAfter says when to try again. */
  | 'unavailable'
  | 'internal';

/**
 * Every code a MiniauthError may carry. Your own backend's error codes
 * (behind the same proxy, in miniauth's {"error":{"code","message"}} shape)
 * come through as they are, hence the open string.
 */
export type ErrorCode = KitErrorCode | ServerErrorCode | (string & {});

/** Every failure of the kit rejects with a MiniauthError. */
export interface MiniauthError extends Error {
  name: 'MiniauthError';
  code: ErrorCode;
  /** The HTTP status, or 0 when there was no answer (network_error, wx_login_failed, invalid_request). */
  status: number;
  /** For validation_failed: one message per invalid field; for content_rejected: the refused field. */
  fields?: Record<string, string>;
  /** The server's Retry-After in seconds, when it sent one (unavailable, rate_limited). */
  retryAfter?: number;
}

export interface MiniauthErrorConstructor {
  (code: ErrorCode, message?: string, status?: number, fields?: Record<string, string>): MiniauthError;
  readonly prototype: MiniauthError;
}

/** Lets `err instanceof MiniauthError` narrow a caught error. */
export declare const MiniauthError: MiniauthErrorConstructor;

/** Why the user is signed out, as onSignedOut reports it. */
export type SignedOutReason =
  /** logout() */
  | 'logout'
  /** deleteAccount() */
  | 'account_deleted'
  /** An admin disabled the user: onUserDisabled ran too. */
  | 'user_disabled'
  /** The server ended the session (another device, an admin, expiry) during a call that does not log in again. */
  | 'session_ended';

export interface SignedOutEvent {
  reason: SignedOutReason;
  /** The error that ended the session (not for logout and account_deleted). */
  error?: MiniauthError;
}

/** Why phoneOffer() does or does not offer the phone button (docs/phone-and-risk.md). */
export type PhoneOfferReason =
  | 'ok'
  | 'already_verified'
  | 'cooldown'
  | 'user_daily_cap'
  | 'ip_daily_cap'
  | 'budget_exhausted'
  | 'risk';

/** What phoneOffer() resolves with: show the getPhoneNumber button only when offer is true. */
export interface PhoneOffer {
  offer: boolean;
  reason: PhoneOfferReason;
}

/** Where a web sign-in comes from, as scanWebLogin() and confirmWebLogin() resolve it: show it before the user confirms. */
export interface WebLoginScan {
  status: 'scanned';
  /** The browser's IP. */
  ip: string;
  /** A short description of the browser, e.g. "Chrome on macOS". */
  device: string;
}

export interface ClientOptions {
  /** Your miniauth (or the proxy's domain in front of it and your backend): http(s)://…, no path needed. */
  baseURL: string;
  /** The AppID sent with each login; default: the running mini program's own (wx.getAccountInfoSync). */
  appid?: string;
  /** Prefix of the storage keys (default "miniauth:": miniauth:tokens and miniauth:user). */
  storagePrefix?: string;
  /** Called when a stored session is dropped: by logout(), deleteAccount(), a disabled user, or a session the server ended. */
  onSignedOut?: (event: SignedOutEvent) => void;
  /** Called each time miniauth answers user_disabled (an admin disabled the user): logging in again will not help. */
  onUserDisabled?: (error: MiniauthError) => void;
}

/** HTTP methods wx.request supports. */
export type Method = 'OPTIONS' | 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'TRACE' | 'CONNECT';

/** The options of wx.request the kit passes through; url is a path or a URL under baseURL. */
export interface RequestOptions {
  url: string;
  method?: Method;
  data?: string | Record<string, unknown> | unknown[] | ArrayBuffer;
  header?: Record<string, string>;
  timeout?: number;
  dataType?: 'json' | 'text' | string;
  responseType?: 'text' | 'arraybuffer';
  enableHttp2?: boolean;
  enableQuic?: boolean;
  enableCache?: boolean;
  [option: string]: unknown;
}

/** wx.request's answer, for a 2xx status. T is what your route answers. */
export interface Response<T = unknown> {
  statusCode: number;
  data: T;
  header: Record<string, string>;
  cookies?: string[];
  errMsg?: string;
}

/** The options of wx.uploadFile the kit passes through; url is a path or a URL under baseURL. */
export interface UploadFileOptions {
  url: string;
  /** A temporary file path (wx.chooseMedia, wx.chooseMessageFile, …). */
  filePath: string;
  /** The multipart field name your backend reads. */
  name: string;
  header?: Record<string, string>;
  formData?: Record<string, string | number | boolean>;
  timeout?: number;
  [option: string]: unknown;
}

/** wx.uploadFile's answer, for a 2xx status: data is the body as a string (JSON.parse it). */
export interface UploadFileResponse {
  statusCode: number;
  data: string;
  header?: Record<string, string>;
  errMsg?: string;
}

export interface Client {
  /** The server, without a trailing slash. */
  readonly baseURL: string;
  /** wx.login() → POST /api/auth/login. Concurrent calls share one login. */
  login(profile?: Profile): Promise<LoginResult>;
  /** wx.login() → POST /api/auth/phone-login with e.detail.code of the getPhoneNumber button: log in and bind the phone. */
  phoneLogin(phoneCode: string): Promise<LoginResult>;
  /** wx.request with the user's token, logging in first if needed and refreshing once on a 401. */
  request<T = unknown>(options: RequestOptions): Promise<Response<T>>;
  /** wx.uploadFile with the user's token, for your own backend's routes under baseURL. */
  uploadFile(options: UploadFileOptions): Promise<UploadFileResponse>;
  /** POST /api/auth/logout, then forgets the session here, even when the network fails. */
  logout(): Promise<void>;
  /** PUT /api/me; resolves with the updated user. */
  updateProfile(fields: Profile): Promise<User>;
  /** wx.uploadFile to POST /api/me/avatar (the temp file of the chooseAvatar button); resolves with the user. */
  uploadAvatar(tempFilePath: string): Promise<User>;
  /** POST /api/me/phone with e.detail.code of the getPhoneNumber button; resolves with the user. */
  bindPhone(code: string): Promise<User>;
  /** GET /api/me/phone/offer: whether to show the (billed) phone button now. Logs in first if needed. */
  phoneOffer(): Promise<PhoneOffer>;
  /** Web sign-in: claims the code a website showed (query.scene of the page it opened) and says where it comes from. */
  scanWebLogin(scene: string): Promise<WebLoginScan>;
  /** Web sign-in: scans (if not done yet) and confirms: the browser is signed in as this user. */
  confirmWebLogin(scene: string): Promise<WebLoginScan>;
  /** Web sign-in: refuses it; the browser is told "denied". */
  denyWebLogin(scene: string): Promise<void>;
  /** GET /api/me/sessions: the user's devices, newest first. */
  listSessions(): Promise<Session[]>;
  /** DELETE /api/me/sessions/{id}: signs that device out at once. */
  endSession(id: number): Promise<void>;
  /** DELETE /api/me/sessions: signs out every device but this one. */
  endOtherSessions(): Promise<void>;
  /** DELETE /api/me (account cancellation), then forgets the session here. */
  deleteAccount(): Promise<void>;
  /** The user as last seen, from storage; null when signed out. No request. */
  getUser(): User | null;
  /** Whether tokens are stored (they may have expired: request() handles that). No request. */
  isLoggedIn(): boolean;
}

/** Creates a client; create one in app.js and share it. Throws invalid_request for bad options. */
export declare function createClient(options: ClientOptions): Client;

/** WeChat's errno in a getPhoneNumber callback once the mini program's paid phone quota is used up (no code, nothing billed). */
export declare const PHONE_NO_QUOTA: 1400001;

/** The detail of a getPhoneNumber button event, as far as the kit reads it. */
export interface PhoneNumberDetail {
  code?: string;
  errno?: number | string;
  errMsg?: string;
}

/**
 * Whether a getPhoneNumber event (or its detail) says the phone quota is
 * used up (errno PHONE_NO_QUOTA): hide the phone button and offer another way.
 */
export declare function phoneQuotaExhausted(e: { detail?: PhoneNumberDetail } | PhoneNumberDetail | null | undefined): boolean;

/**
 * The message to show next to a form field after a failed call, or "" when
 * the error is not about that field (validation_failed and
 * content_rejected name their fields). message replaces the server's text
 * for content_rejected, e.g. in the page's language.
 */
export declare function fieldError(err: unknown, field: string, message?: string): string;
