package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// Checks of the JSON API shared by the end-to-end tests in app/ and
// handlers/, so that each is written once.

// JWTSecret is configured where a test must forge tokens with our key.
const JWTSecret = "miniauth-test-jwt-secret-0123456789abcdef"

// StartOn starts the server on backend b with these variables.
func StartOn(t testing.TB, b Backend, env map[string]string) *Env {
	t.Helper()
	return Start(t, Options{DatabaseURL: b.URL(t), Env: env})
}

// Fragments fails unless body holds every want and none of absent.
func Fragments(t testing.TB, body []byte, want, absent []string) {
	t.Helper()
	for _, w := range want {
		if !bytes.Contains(body, []byte(w)) {
			t.Errorf("body lacks %q\nbody: %s", w, body)
		}
	}
	for _, a := range absent {
		if a != "" && bytes.Contains(body, []byte(a)) {
			t.Errorf("body contains %q, which must never appear\nbody: %s", a, body)
		}
	}
}

// ErrorFields is the "fields" of a validation_failed answer.
func ErrorFields(t testing.TB, r *Response) map[string]string {
	t.Helper()
	var m struct {
		Error struct {
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("error body: %v\n%s", err, r.Body)
	}
	return m.Error.Fields
}

// ExpectUnauthorized fails the test unless r is the contract's 401 with
// one Bearer challenge.
func ExpectUnauthorized(t testing.TB, r *Response) {
	t.Helper()
	Expect(t, r, http.StatusUnauthorized, "unauthorized")
	if hs := r.Header.Values("WWW-Authenticate"); len(hs) != 1 || !strings.HasPrefix(hs[0], "Bearer") {
		t.Errorf("WWW-Authenticate = %q, want one Bearer challenge", hs)
	}
}

// GrantOf is the grant in a 200 answer; the test fails on anything else.
func GrantOf(t testing.TB, r *Response) *Grant {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("want 200, got %d %s", r.Status, r.Body)
	}
	var g Grant
	if err := json.Unmarshal(r.Body, &g); err != nil {
		t.Fatalf("grant: %v\n%s", err, r.Body)
	}
	return &g
}

// Me is GET /api/me with this access token.
func (e *Env) Me(t testing.TB, token string) *Response {
	t.Helper()
	return e.Do(t, Request{Method: "GET", Path: "/api/me", Token: token})
}

// Refresh is POST /api/auth/refresh with this refresh token.
func (e *Env) Refresh(t testing.TB, token string) *Response {
	t.Helper()
	return e.Do(t, Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": token}})
}

// UserCount is the number of users in the database.
func (e *Env) UserCount(t testing.TB) int {
	t.Helper()
	n, err := e.Server.DB.Read.User.Query().Count(context.Background())
	if err != nil {
		t.Fatalf("count users: %v", err)
	}
	return n
}

// Post is a goroutine-safe JSON POST (Do may call t.Fatal, which only the
// test's goroutine may).
func (e *Env) Post(path string, body any) (int, []byte, error) {
	j, _ := json.Marshal(body)
	resp, err := e.HTTP.Post(e.URL+path, "application/json", bytes.NewReader(j))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// UploadAvatar uploads an image as the user's avatar and returns its URL.
func (e *Env) UploadAvatar(t testing.TB, token string, image []byte) string {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	w, _ := mw.CreateFormFile("file", "avatar")
	w.Write(image)
	mw.Close()
	r := e.Do(t, Request{Method: "POST", Path: "/api/me/avatar", Token: token, Body: b.Bytes(),
		Header: map[string]string{"Content-Type": mw.FormDataContentType()}})
	if r.Status != http.StatusOK {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	url, _ := r.JSON(t)["avatar_url"].(string)
	return url
}

// AccessLogIP is the ip logged for the request with this X-Request-Id,
// after checking that the request has exactly one complete access line.
func (e *Env) AccessLogIP(t testing.TB, requestID, method, path string, status int) string {
	t.Helper()
	var found []map[string]any
	for _, line := range strings.Split(e.Logs.String(), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) == nil && l["msg"] == "request" && l["request_id"] == requestID {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d access log lines for request %q, want 1", len(found), requestID)
	}
	l := found[0]
	if l["method"] != method || l["path"] != path || l["status"] != float64(status) || l["latency_ms"] == nil {
		t.Errorf("access log line %v lacks method %s, path %s, status %d or latency", l, method, path, status)
	}
	ip, _ := l["ip"].(string)
	return ip
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// CSRF is the CSRF token of the admin panel's forms on a page, as a
// browser would send it back (HTML entities undone).
func CSRF(t testing.TB, page []byte) string {
	t.Helper()
	m := csrfField.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF field on the page:\n%s", page)
	}
	return html.UnescapeString(string(m[1]))
}
