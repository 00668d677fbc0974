package wechatsim

import (
	"net/http"
	"net/url"
	"strings"
)

// Paths of WeChat's OAuth (sns) APIs and of its web authorization page,
// which lives on open.weixin.qq.com (MINIAUTH_WECHAT_OPEN_BASE); the
// simulator serves both from one root.
const (
	PathOAuthToken = "/sns/oauth2/access_token"
	PathUserInfo   = "/sns/userinfo"
	PathAuthorize  = "/connect/oauth2/authorize"
)

// OAuthPerson is who an Official Account authorization or a mobile app
// login code belongs to.
type OAuthPerson struct {
	AppID   string // the Official Account or mobile app; required
	OpenID  string
	UnionID string // given only with snsapi_userinfo, as WeChat documents
	// Scope granted; empty: snsapi_userinfo (what apps always get).
	Scope string
	// Snapshot marks a virtual user of WeChat's snapshot page
	// (is_snapshotuser=1).
	Snapshot   bool
	Nickname   string
	HeadImgURL string
	Sex        int
}

func (p OAuthPerson) userInfoScope() bool {
	return p.Scope == "" || strings.Contains(p.Scope, "snsapi_userinfo")
}

// AuthorizeAnswer is what the simulated authorize page does next: send
// the browser back with a code of Person, or without one (Deny).
type AuthorizeAnswer struct {
	Person OAuthPerson
	Deny   bool
}

// NewOAuthCode issues a single-use code for p, as WeChat's authorize page
// or a mobile app's SDK would.
func (s *Server) NewOAuthCode(p OAuthPerson) string {
	code := randomString(24)
	s.mu.Lock()
	s.oauthCodes()[code] = p
	s.mu.Unlock()
	return code
}

// QueueAuthorize makes the next visit of the authorize page answer a.
func (s *Server) QueueAuthorize(a AuthorizeAnswer) {
	s.mu.Lock()
	s.authorizeQueue = append(s.authorizeQueue, a)
	s.mu.Unlock()
}

func (s *Server) oauthCodes() map[string]OAuthPerson {
	if s.oauthCodeMap == nil {
		s.oauthCodeMap = map[string]OAuthPerson{}
		s.oauthTokens = map[string]OAuthPerson{}
	}
	return s.oauthCodeMap
}

// authorize is WeChat's web authorization page, after the person tapped
// (or not): a 302 back to redirect_uri with code and state. WeChat shows
// its page errors (10003 …) as HTML; so does this.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	back, err := url.Parse(q.Get("redirect_uri"))
	switch {
	case q.Get("appid") == "":
		http.Error(w, "10012 appid不能为空", http.StatusOK)
		return
	case err != nil || back.Scheme == "" || back.Host == "":
		http.Error(w, "10011 redirect_uri不能为空", http.StatusOK)
		return
	case q.Get("scope") != "snsapi_base" && q.Get("scope") != "snsapi_userinfo":
		http.Error(w, "10005 此公众号并没有这些scope的权限", http.StatusOK)
		return
	case q.Get("response_type") != "code":
		http.Error(w, "10014 response_type错误", http.StatusOK)
		return
	}
	if _, ok := s.appSecret(q.Get("appid")); !ok {
		http.Error(w, "10016 不支持的appid", http.StatusOK)
		return
	}
	s.mu.Lock()
	var a AuthorizeAnswer
	switch {
	case len(s.authorizeQueue) > 0:
		a = s.authorizeQueue[0]
		s.authorizeQueue = s.authorizeQueue[1:]
	case s.Lenient:
		a.Person = OAuthPerson{OpenID: DevOpenID(q.Get("appid") + "/oa"), UnionID: DevUnionID("oa-person"), Nickname: "微信用户"}
	default:
		s.mu.Unlock()
		http.Error(w, "simulator: no scripted person (QueueAuthorize)", http.StatusOK)
		return
	}
	s.mu.Unlock()
	v := back.Query()
	if !a.Deny {
		p := a.Person
		p.AppID, p.Scope = q.Get("appid"), q.Get("scope")
		v.Set("code", s.NewOAuthCode(p))
	}
	v.Set("state", q.Get("state"))
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// oauthToken is /sns/oauth2/access_token: a single-use code of the app
// for the person's openid and a user access token.
func (s *Server) oauthToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("grant_type") != "authorization_code" {
		s.writeError(w, 40002, "invalid grant_type")
		return
	}
	appID := q.Get("appid")
	secret, ok := s.appSecret(appID)
	switch {
	case !ok:
		s.writeError(w, 40013, "invalid appid")
		return
	case q.Get("secret") != secret:
		s.writeError(w, 40125, "invalid appsecret")
		return
	case q.Get("code") == "":
		s.writeError(w, 41008, "missing code")
		return
	}
	code := q.Get("code")
	s.mu.Lock()
	p, known := s.oauthCodes()[code]
	if !known && s.Lenient {
		p, known = OAuthPerson{AppID: appID, OpenID: DevOpenID(appID + "/" + code), UnionID: DevUnionID(code), Nickname: "微信用户"}, true
	}
	switch {
	case !known || p.AppID != appID:
		s.mu.Unlock()
		s.writeError(w, 40029, "invalid code")
		return
	case s.used["oauth:"+code] && !s.Lenient:
		s.mu.Unlock()
		s.writeError(w, 40163, "code been used")
		return
	}
	s.used["oauth:"+code] = true
	token := randomString(32)
	s.oauthTokens[token] = p
	s.mu.Unlock()
	scope := p.Scope
	if scope == "" {
		scope = "snsapi_userinfo"
	}
	out := map[string]any{"access_token": token, "expires_in": 7200, "refresh_token": randomString(32),
		"openid": p.OpenID, "scope": scope}
	if p.UnionID != "" && p.userInfoScope() {
		out["unionid"] = p.UnionID
	}
	if p.Snapshot {
		out["is_snapshotuser"] = 1
	}
	s.writeJSON(w, out)
}

// userInfo is /sns/userinfo: the profile, for a token of a
// snsapi_userinfo authorization only (else 48001).
func (s *Server) userInfo(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	s.oauthCodes()
	p, ok := s.oauthTokens[q.Get("access_token")]
	s.mu.Unlock()
	switch {
	case !ok:
		s.writeError(w, 40001, "invalid credential, access_token is invalid or not latest")
		return
	case q.Get("openid") != p.OpenID:
		s.writeError(w, 40003, "invalid openid")
		return
	case !p.userInfoScope():
		s.writeError(w, 48001, "api unauthorized")
		return
	}
	out := map[string]any{"openid": p.OpenID, "nickname": p.Nickname, "sex": p.Sex, "province": "", "city": "",
		"country": "", "headimgurl": p.HeadImgURL, "privilege": []string{}}
	if p.UnionID != "" {
		out["unionid"] = p.UnionID
	}
	s.writeJSON(w, out)
}
