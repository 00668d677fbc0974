package wechatsim

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// phoneCode is a code from <button open-type="getPhoneNumber">.
type phoneCode struct {
	phone   string
	country string
	used    bool
	openid  string // the openid the exchange carried, if any
	// owner is the openid of the user who tapped the button ("": not
	// bound, any openid passes); app the mini program it was tapped in
	// ("": any). See phonetap.go.
	owner, app string
}

// NewPhoneCode issues a single-use phone code for a number, as the
// getPhoneNumber button would on the user's phone. country is the calling
// code without "+", e.g. "86". The code is not bound to a user (see
// TapPhoneButton for one that is); the tap is billed to AppID.
func (s *Server) NewPhoneCode(phone, country string) string {
	return s.TapPhoneButton(PhoneTap{Phone: phone, Country: country})
}

// PhoneCodeOpenID is the openid sent along with a phone code's exchange.
func (s *Server) PhoneCodeOpenID(code string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pc := s.phoneCodes[code]; pc != nil {
		return pc.openid
	}
	return ""
}

// DevPhone is the number the lenient simulator gives an unknown phone code.
func DevPhone(code string) string {
	sum := sha256.Sum256([]byte("miniauth-simulator-phone:" + code))
	return fmt.Sprintf("139%08d", binary.BigEndian.Uint32(sum[:4])%100000000)
}

// phoneNumber answers POST /wxa/business/getuserphonenumber.
func (s *Server) phoneNumber(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Code   string `json:"code"`
		OpenID string `json:"openid"`
	}
	if !s.readPOST(w, r, &in) {
		return
	}
	s.mu.Lock()
	if code := s.checkToken(r.URL.Query().Get("access_token")); code != 0 {
		s.mu.Unlock()
		msg := "invalid credential, access_token is invalid or not latest"
		if code == 42001 {
			msg = "access_token expired"
		}
		s.writeError(w, code, msg)
		return
	}
	tokenApp := s.tokens[r.URL.Query().Get("access_token")].appID
	pc := s.phoneCodes[in.Code]
	if pc == nil && s.Lenient && in.Code != "" {
		pc = &phoneCode{phone: DevPhone(in.Code), country: "86"}
		s.phoneCodes[in.Code] = pc
	}
	if pc == nil || (pc.used && !s.Lenient) || pc.app != "" && pc.app != tokenApp {
		s.mu.Unlock()
		s.writeError(w, 40029, "invalid code")
		return
	}
	if pc.owner != "" && in.OpenID != "" && in.OpenID != pc.owner {
		// "填入后会校验openid和code的绑定关系，并在不匹配时报错": the
		// errcode is undocumented; 40003 (invalid openid) is the one
		// miniauth expects (WECHAT.md 5.8). The code stays usable by its
		// owner.
		s.mu.Unlock()
		s.writeError(w, 40003, "invalid openid")
		return
	}
	pc.used, pc.openid = true, in.OpenID
	phone, country := pc.phone, pc.country
	s.mu.Unlock()

	full := phone
	if country != "86" {
		full = "+" + country + phone
	}
	var cc any = country
	if n, err := strconv.Atoi(country); err == nil && !s.CountryCodeAsString {
		cc = n
	}
	mark := s.WatermarkAppID
	if mark == "" {
		mark = tokenApp
	}
	s.writeJSON(w, map[string]any{
		"errcode": 0,
		"errmsg":  "ok",
		"phone_info": map[string]any{
			"phoneNumber":     full,
			"purePhoneNumber": phone,
			"countryCode":     cc,
			"watermark":       map[string]any{"timestamp": time.Now().Unix(), "appid": mark},
		},
	})
}
