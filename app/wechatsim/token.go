package wechatsim

import (
	"net/http"
	"time"
)

// tokenState is one access token the simulator issued.
type tokenState struct {
	appID   string
	expires time.Time
	invalid bool // invalidated: business calls get 40001
}

// stableToken answers POST /cgi-bin/stable_token like WeChat: in normal
// mode the same token while it is valid, with its remaining lifetime; a
// new one once it is expired or invalidated; force_refresh rotates.
func (s *Server) stableToken(w http.ResponseWriter, r *http.Request) {
	var in struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}
	if !s.readPOST(w, r, &in) {
		return
	}
	secret, knownApp := s.appSecret(in.AppID)
	switch {
	case in.GrantType != "client_credential":
		s.writeError(w, 40002, "invalid grant_type")
		return
	case !knownApp:
		s.writeError(w, 40013, "invalid appid")
		return
	case in.Secret == "":
		s.writeError(w, 41004, "appsecret missing")
		return
	case in.Secret != secret:
		s.writeError(w, 40125, "invalid appsecret")
		return
	}
	now := time.Now()
	s.mu.Lock()
	curToken := s.currentTokenOf(in.AppID)
	cur := s.tokens[curToken]
	if in.ForceRefresh {
		s.forceRefreshes++
	}
	if in.ForceRefresh || cur == nil || cur.invalid || !now.Before(cur.expires) {
		if cur != nil && in.ForceRefresh {
			cur.invalid = true
		}
		ttl := s.TokenTTL
		if ttl <= 0 {
			ttl = DefaultTokenTTL
		}
		curToken = "sim-token-" + randomString(40)
		cur = &tokenState{appID: in.AppID, expires: now.Add(ttl)}
		s.tokens[curToken] = cur
		s.setCurrentToken(in.AppID, curToken)
	}
	token, left := curToken, int(cur.expires.Sub(now)/time.Second)
	s.mu.Unlock()
	s.writeJSON(w, map[string]any{"access_token": token, "expires_in": left})
}

// currentTokenOf is an app's current access token. s.mu must be held.
func (s *Server) currentTokenOf(appID string) string {
	if appID == s.AppID {
		return s.currentToken
	}
	return s.otherTokens[appID]
}

func (s *Server) setCurrentToken(appID, token string) {
	if appID == s.AppID {
		s.currentToken = token
		return
	}
	s.otherTokens[appID] = token
}

// checkToken is the errcode a business call with token gets (0: valid).
// s.mu must be held.
func (s *Server) checkToken(token string) int {
	st := s.tokens[token]
	switch {
	case st == nil || st.invalid:
		return 40001
	case !time.Now().Before(st.expires):
		return 42001
	}
	return 0
}

// InvalidateToken makes the current access token invalid, as when
// another party force-refreshes it: business calls with it get 40001 and
// the next stable_token call issues a new one.
func (s *Server) InvalidateToken() {
	s.mu.Lock()
	if st := s.tokens[s.currentToken]; st != nil {
		st.invalid = true
	}
	s.currentToken = ""
	s.mu.Unlock()
}

// ExpireToken makes the current access token expired: business calls with
// it get 42001 and the next stable_token call issues a new one.
func (s *Server) ExpireToken() {
	s.mu.Lock()
	if st := s.tokens[s.currentToken]; st != nil {
		st.expires = time.Now()
	}
	s.mu.Unlock()
}

// AccessTokens lists every access token the simulator has issued.
func (s *Server) AccessTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.tokens))
	for t := range s.tokens {
		out = append(out, t)
	}
	return out
}

// ForceRefreshes is how many stable_token calls asked for force_refresh
// (a client should never do so on its own: WeChat allows 20 a day).
func (s *Server) ForceRefreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.forceRefreshes
}
