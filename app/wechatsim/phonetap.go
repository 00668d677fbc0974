package wechatsim

// PhoneTap is one successful tap on <button open-type="getPhoneNumber">:
// WeChat bills it there and then and hands the mini program a code.
type PhoneTap struct {
	Phone   string
	Country string // calling code without "+"; default "86"
	// OpenID, if set, binds the code to that user: an exchange that
	// carries another openid gets errcode 40003.
	OpenID string
	// AppID is the mini program the tap was billed to (default AppID);
	// only its access token can redeem the code.
	AppID string
}

// TapPhoneButton issues a single-use phone code as the button would, and
// bills the tap to the app's phone-number package (see billing.go), as
// WeChat does, before the code ever reaches a server.
func (s *Server) TapPhoneButton(t PhoneTap) string {
	if t.Country == "" {
		t.Country = "86"
	}
	code := randomString(32)
	pc := &phoneCode{phone: t.Phone, country: t.Country, owner: t.OpenID}
	if t.AppID != "" && t.AppID != s.AppID {
		pc.app = t.AppID
	}
	app := t.AppID
	if app == "" {
		app = s.AppID
	}
	s.mu.Lock()
	s.phoneCodes[code] = pc
	s.billTapLocked(app)
	s.mu.Unlock()
	return code
}

// NewPhoneCodeFor issues a phone code tapped by openid: WeChat refuses it
// (40003) when it is redeemed with another user's openid.
func (s *Server) NewPhoneCodeFor(openid, phone, country string) string {
	return s.TapPhoneButton(PhoneTap{Phone: phone, Country: country, OpenID: openid})
}
