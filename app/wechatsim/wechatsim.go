// Package wechatsim is a stand-in for WeChat's server APIs.
//
// It behaves like the real thing where it matters to a client: answers are
// JSON served as text/plain, errors come as errcodes with HTTP 200, login
// and phone codes are single-use, stable_token returns the same access
// token while it is valid and business calls with a stale token get 40001.
// The development server uses it in lenient mode (any login code logs in a
// stable fake user, any phone code yields a fake number); tests use it
// strict, on an httptest.Server, and script failures with Fail.
package wechatsim

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Endpoint paths.
const (
	PathCode2Session = "/sns/jscode2session"
	PathStableToken  = "/cgi-bin/stable_token"
	PathPhoneNumber  = "/wxa/business/getuserphonenumber"
)

// DefaultTokenTTL is the lifetime of a stable access token, as WeChat's.
const DefaultTokenTTL = 7200 * time.Second

// Failure is a scripted answer for the next call to an endpoint.
type Failure struct {
	ErrCode int           // errcode to answer with (HTTP 200), if Status and Body are zero
	Status  int           // HTTP status to answer with
	Body    string        // raw body (for garbage answers)
	Delay   time.Duration // wait before answering (or until the client gives up)
}

// Identity is who a login code belongs to.
type Identity struct {
	OpenID  string
	UnionID string
	// SessionKey, if set, is the session_key code2Session hands out for
	// this code instead of a random one (to replay official test vectors).
	SessionKey string
	// AppID, if set, is the only app the code works for (as a real
	// wx.login code belongs to the mini program that asked for it).
	AppID string
}

// Server is the simulated WeChat.
type Server struct {
	AppID  string
	Secret string
	// Lenient accepts any code, derives the openid from it and lets it be
	// used again: the development simulator.
	Lenient bool
	// TokenTTL is the lifetime of a new stable access token (default
	// DefaultTokenTTL).
	TokenTTL time.Duration
	// WatermarkAppID, if set, is the appid phone answers are watermarked
	// with instead of AppID (to test that a client checks it).
	WatermarkAppID string
	// CountryCodeAsString sends countryCode as a JSON string; by default
	// it is a bare number, as in WeChat's own example.
	CountryCodeAsString bool

	mu       sync.Mutex
	codes    map[string]Identity
	used     map[string]bool
	failures map[string][]Failure
	calls    map[string]int
	// SessionKeys holds the session_key last handed out per openid.
	sessionKeys map[string]string

	// apps are the mini programs besides AppID (AddApp).
	apps map[string]string

	tokens         map[string]*tokenState
	currentToken   string
	otherTokens    map[string]string // current token of the apps besides AppID
	forceRefreshes int
	phoneCodes     map[string]*phoneCode

	// Official Account and mobile app logins (oauth.go).
	oauthCodeMap   map[string]OAuthPerson
	oauthTokens    map[string]OAuthPerson
	authorizeQueue []AuthorizeAnswer
	guard          guardState // risk ranks and phone billing (guard.go)
}

// New makes a strict simulator for one app.
func New(appID, secret string) *Server {
	return &Server{
		AppID:       appID,
		Secret:      secret,
		codes:       map[string]Identity{},
		used:        map[string]bool{},
		failures:    map[string][]Failure{},
		calls:       map[string]int{},
		sessionKeys: map[string]string{},
		tokens:      map[string]*tokenState{},
		phoneCodes:  map[string]*phoneCode{},
		apps:        map[string]string{},
		otherTokens: map[string]string{},
	}
}

// AddApp makes the simulator serve another mini program besides AppID.
func (s *Server) AddApp(appID, secret string) {
	s.mu.Lock()
	s.apps[appID] = secret
	s.mu.Unlock()
}

// appSecret is the secret of a served app. The lenient simulator serves
// any app id with its one Secret, so development can try several apps.
// s.mu need not be held.
func (s *Server) appSecret(appID string) (string, bool) {
	if appID == s.AppID {
		return s.Secret, true
	}
	s.mu.Lock()
	secret, ok := s.apps[appID]
	s.mu.Unlock()
	if !ok && s.Lenient && appID != "" {
		return s.Secret, true
	}
	return secret, ok
}

// DevelopmentAppID is the development simulator's default app id.
const DevelopmentAppID = "wxsimulator0000000"

// NewDevelopment makes the lenient simulator the server runs when no
// WeChat credentials are configured.
func NewDevelopment() *Server {
	s := New(DevelopmentAppID, "simulator-secret")
	s.Lenient = true
	return s
}

// NewCode issues a fresh single-use login code for an identity, as
// wx.login would on the user's phone.
func (s *Server) NewCode(id Identity) string {
	code := randomString(24)
	s.mu.Lock()
	s.codes[code] = id
	s.mu.Unlock()
	return code
}

// Fail makes the next call to path answer with f (calls queue up).
func (s *Server) Fail(path string, f Failure) {
	s.mu.Lock()
	s.failures[path] = append(s.failures[path], f)
	s.mu.Unlock()
}

// Calls is how many requests path has received.
func (s *Server) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

// SessionKey is the session_key last handed out for openid.
func (s *Server) SessionKey(openid string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessionKeys[openid]
}

// DevOpenID is the openid the lenient simulator gives a code.
func DevOpenID(code string) string {
	sum := sha256.Sum256([]byte("miniauth-simulator:" + code))
	return "sim_" + base64.RawURLEncoding.EncodeToString(sum[:18])
}

// DevUnionID is the unionid the lenient simulator gives a code: the same
// code on two app ids is the same person, as under one Open Platform
// account.
func DevUnionID(code string) string {
	sum := sha256.Sum256([]byte("miniauth-simulator-union:" + code))
	return "simu_" + base64.RawURLEncoding.EncodeToString(sum[:18])
}

// ServeHTTP answers like api.weixin.qq.com.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls[r.URL.Path]++
	var f *Failure
	if q := s.failures[r.URL.Path]; len(q) > 0 {
		f = &q[0]
		s.failures[r.URL.Path] = q[1:]
	}
	s.mu.Unlock()
	if f != nil {
		if f.Delay > 0 {
			// Reading the whole body first lets net/http notice a client
			// that gives up, which ends r.Context().
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			r.Body = io.NopCloser(bytes.NewReader(body))
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return
			}
		}
		switch {
		case f.Body != "" || f.Status != 0:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(max(f.Status, http.StatusOK))
			w.Write([]byte(f.Body))
			return
		case f.ErrCode != 0:
			s.writeError(w, f.ErrCode, "scripted failure")
			return
		}
	}
	switch r.URL.Path {
	case PathCode2Session:
		s.code2Session(w, r)
	case PathStableToken:
		s.stableToken(w, r)
	case PathPhoneNumber:
		s.phoneNumber(w, r)
	case PathOAuthToken:
		s.oauthToken(w, r)
	case PathUserInfo:
		s.userInfo(w, r)
	case PathAuthorize:
		s.authorize(w, r)
	default:
		if !s.serveGuard(w, r) {
			s.writeError(w, 40066, "invalid url")
		}
	}
}

func (s *Server) code2Session(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("grant_type") != "authorization_code" {
		s.writeError(w, 40002, "invalid grant_type")
		return
	}
	appID := q.Get("appid")
	secret, knownApp := s.appSecret(appID)
	if !knownApp {
		s.writeError(w, 40013, "invalid appid")
		return
	}
	if q.Get("secret") != secret {
		s.writeError(w, 40125, "invalid appsecret")
		return
	}
	code := q.Get("js_code")
	if code == "" {
		s.writeError(w, 41008, "missing code")
		return
	}
	s.mu.Lock()
	id, known := s.codes[code]
	if s.Lenient && !known {
		id, known = Identity{OpenID: DevOpenID(code), UnionID: DevUnionID(code)}, true
		if appID != s.AppID {
			id.OpenID = DevOpenID(appID + "/" + code)
		}
	}
	switch {
	case !known || id.AppID != "" && id.AppID != appID:
		s.mu.Unlock()
		s.writeError(w, 40029, "invalid code")
		return
	case s.used[code] && !s.Lenient:
		s.mu.Unlock()
		s.writeError(w, 40163, "code been used")
		return
	}
	s.used[code] = true
	key := id.SessionKey
	if key == "" {
		key = randomKey()
	}
	s.sessionKeys[id.OpenID] = key
	s.mu.Unlock()
	out := map[string]string{"openid": id.OpenID, "session_key": key}
	if id.UnionID != "" {
		out["unionid"] = id.UnionID
	}
	s.writeJSON(w, out)
}

// writeJSON answers the way WeChat does: JSON labelled text/plain.
func (s *Server) writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "text/plain")
	json.NewEncoder(w).Encode(v)
}

func (s *Server) writeError(w http.ResponseWriter, code int, msg string) {
	s.writeJSON(w, map[string]any{"errcode": code, "errmsg": fmt.Sprintf("%s rid: %s", msg, randomString(6))})
}

// readPOST reads a POST's JSON body into in, as WeChat's POST APIs do:
// another method gets 43002, a body that is not JSON 47001. It reports
// whether the handler should go on.
func (s *Server) readPOST(w http.ResponseWriter, r *http.Request, in any) bool {
	if r.Method != http.MethodPost {
		s.writeError(w, 43002, "require POST method")
		return false
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(in); err != nil {
		s.writeError(w, 47001, "data format error")
		return false
	}
	return true
}

// Transport serves requests in-process, for the development server.
func (s *Server) Transport() http.RoundTripper { return handlerTransport{s} }

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

func randomKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
