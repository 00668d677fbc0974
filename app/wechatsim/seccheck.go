package wechatsim

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Content security (WECHAT.md 5.4, 5.5): msgSecCheck v2 answers at once,
// mediaCheckAsync v2 answers a trace_id and the verdict is pushed later
// (Pusher, MediaCheck).
const (
	PathMsgSecCheck     = "/wxa/msg_sec_check"
	PathMediaCheckAsync = "/wxa/media_check_async"
)

// The simulator's text verdict: a text containing RiskyWord is risky,
// one containing ReviewWord is review, anything else passes, so that a
// developer can try each answer from the mini program.
const (
	RiskyWord  = "risky"
	ReviewWord = "review"
)

// MediaCheckCall is one mediaCheckAsync request the simulator accepted.
type MediaCheckCall struct {
	AppID, OpenID, MediaURL, TraceID string
}

// TextCheckCall is one msgSecCheck request the simulator answered.
type TextCheckCall struct {
	AppID, OpenID, Content, Suggest string
	Scene                           int
}

type secState struct {
	media []MediaCheckCall
	texts []TextCheckCall
}

// MediaChecks lists the accepted mediaCheckAsync requests.
func (s *Server) MediaChecks() []MediaCheckCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]MediaCheckCall(nil), s.sec.media...)
}

// TextChecks lists the answered msgSecCheck requests.
func (s *Server) TextChecks() []TextCheckCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TextCheckCall(nil), s.sec.texts...)
}

// serveSecCheck answers the content security APIs; false: path is not
// one of them.
func (s *Server) serveSecCheck(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case PathMsgSecCheck:
		s.msgSecCheck(w, r)
	case PathMediaCheckAsync:
		s.mediaCheckAsync(w, r)
	default:
		return false
	}
	return true
}

// TextSuggest is the simulator's verdict on a text.
func TextSuggest(content string) (suggest string, label int) {
	c := strings.ToLower(content)
	switch {
	case strings.Contains(c, RiskyWord):
		return "risky", 20006
	case strings.Contains(c, ReviewWord):
		return "review", 21000
	}
	return "pass", 100
}

func (s *Server) msgSecCheck(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Version any    `json:"version"`
		Scene   int    `json:"scene"`
		OpenID  string `json:"openid"`
		Content string `json:"content"`
	}
	if !s.readPOST(w, r, &in) {
		return
	}
	app, ok := s.tokenAppOf(w, r)
	if !ok {
		return
	}
	switch {
	case in.Version != float64(2) && in.Version != "2":
		s.writeError(w, 47001, "data format error: version")
		return
	case in.Scene < 1 || in.Scene > 4:
		s.writeError(w, 40129, "invalid scene")
		return
	case in.OpenID == "":
		s.writeError(w, 40003, "invalid openid")
		return
	case in.Content == "" || utf8.RuneCountInString(in.Content) > 2500:
		s.writeError(w, 47001, "data format error: content")
		return
	}
	suggest, label := TextSuggest(in.Content)
	s.mu.Lock()
	s.sec.texts = append(s.sec.texts, TextCheckCall{AppID: app, OpenID: in.OpenID, Content: in.Content, Suggest: suggest, Scene: in.Scene})
	s.mu.Unlock()
	s.writeJSON(w, map[string]any{
		"errcode": 0, "errmsg": "ok", "trace_id": randomString(24),
		"result": map[string]any{"suggest": suggest, "label": label},
		"detail": []any{map[string]any{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90}},
	})
}

func (s *Server) mediaCheckAsync(w http.ResponseWriter, r *http.Request) {
	var in struct {
		MediaURL  string `json:"media_url"`
		MediaType int    `json:"media_type"`
		Version   any    `json:"version"`
		Scene     int    `json:"scene"`
		OpenID    string `json:"openid"`
	}
	if !s.readPOST(w, r, &in) {
		return
	}
	app, ok := s.tokenAppOf(w, r)
	if !ok {
		return
	}
	u, err := url.Parse(in.MediaURL)
	switch {
	case in.Version != float64(2) && in.Version != "2":
		s.writeError(w, 47001, "data format error: version")
		return
	case in.MediaType != 1 && in.MediaType != 2:
		s.writeError(w, 40004, "invalid media type")
		return
	case in.Scene < 1 || in.Scene > 4:
		s.writeError(w, 40129, "invalid scene")
		return
	case in.OpenID == "":
		s.writeError(w, 40003, "invalid openid")
		return
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		s.writeError(w, 47001, "data format error: media_url")
		return
	}
	trace := randomString(8) + "-" + randomString(8) + "-" + randomString(8)
	s.mu.Lock()
	s.sec.media = append(s.sec.media, MediaCheckCall{AppID: app, OpenID: in.OpenID, MediaURL: in.MediaURL, TraceID: trace})
	s.mu.Unlock()
	s.writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "trace_id": trace})
}
