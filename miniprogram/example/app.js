// Example mini program using the miniauth kit.
//
// The kit is not inside this folder: copy it here first, as you would into
// your own mini program (from the repository root):
//
//   cp -r miniprogram/miniauth miniprogram/example/
const miniauth = require('./miniauth/index.js');

// Your miniauth server. In WeChat DevTools tick "不校验合法域名" to use a
// local http:// address; a published mini program needs an https domain
// listed under 开发管理 → 开发设置 → 服务器域名 (request and uploadFile).
const BASE_URL = 'http://127.0.0.1:8080';

App({
  auth: miniauth.createClient({ baseURL: BASE_URL }),
});
