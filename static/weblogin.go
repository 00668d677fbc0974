package static

import _ "embed"

// LoginQRPage is the web sign-in demo page, GET /login/qr: it loads only
// weblogin.js and weblogin.css from /static/.
//
//go:embed login-qr.html
var LoginQRPage []byte
