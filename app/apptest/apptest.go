// Package apptest starts the real miniauth for tests: the real Fiber app
// on a loopback listener, a real database (a SQLite file in a temp dir, or
// a fresh PostgreSQL database), and a simulated WeChat on an
// httptest.Server that behaves like WeChat.
package apptest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"

	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app"
	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/config"
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/app/wechatsim"
)

// Test WeChat credentials.
const (
	AppID  = "wx0123456789abcdef"
	Secret = "test-app-secret-0123456789abcdef"
)

// PostgresEnv names the variable holding a PostgreSQL URL whose user may
// create databases. Without it PostgreSQL tests are skipped, unless
// MINIAUTH_REQUIRE_POSTGRES=1 (as in CI), which makes them fail.
const PostgresEnv = "MINIAUTH_TEST_POSTGRES_URL"

// Backend is a database the tests run against.
type Backend struct {
	Name string
	// URL returns a fresh, empty database for one test ("" for SQLite in
	// the data dir).
	URL func(t testing.TB) string
}

// Backends lists SQLite and, when PostgresEnv is set, PostgreSQL.
func Backends() []Backend {
	return []Backend{
		{Name: "sqlite", URL: func(testing.TB) string { return "" }},
		{Name: "postgres", URL: FreshPostgres},
	}
}

// EachBackend runs fn as a subtest on every backend.
func EachBackend(t *testing.T, fn func(t *testing.T, b Backend)) {
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, b) })
	}
}

// FreshPostgres creates a throwaway database and returns its URL. It
// skips the test when PostgresEnv is not set.
func FreshPostgres(t testing.TB) string {
	admin := os.Getenv(PostgresEnv)
	if admin == "" && os.Getenv("MINIAUTH_REQUIRE_POSTGRES") == "1" {
		t.Fatalf("MINIAUTH_REQUIRE_POSTGRES=1 but %s is not set", PostgresEnv)
	}
	if admin == "" {
		t.Skipf("PostgreSQL not configured: set %s=postgres://… to run this test on PostgreSQL", PostgresEnv)
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("open %s: %v", PostgresEnv, err)
	}
	defer db.Close()
	name := "miniauth_test_" + strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(tokens.RandomString(9)))
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Options tune one test server.
type Options struct {
	DataDir     string            // default: a new temp dir
	DatabaseURL string            // default: SQLite in the data dir
	Env         map[string]string // extra MINIAUTH_* settings
	WeChat      *WeChat           // default: a new simulated WeChat
	Routes      []app.Routes      // the team's own API, as main.go passes it
	// Clock, if set, is the server's clock (sessions, tokens' iat and
	// exp), so that a test moves time instead of sleeping. contrib/jwt
	// checks exp against the system clock: use a clock.Shifted.
	Clock clock.Clock
}

// WeChat is the simulated WeChat on a loopback httptest.Server.
type WeChat struct {
	*wechatsim.Server
	HTTP *httptest.Server
}

// NewWeChat starts a strict simulated WeChat for AppID/Secret.
func NewWeChat(t testing.TB) *WeChat {
	sim := wechatsim.New(AppID, Secret)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &WeChat{Server: sim, HTTP: srv}
}

// Env is a running miniauth.
type Env struct {
	URL     string
	DataDir string
	WeChat  *WeChat
	Server  *app.Server
	Logs    *Logs
	HTTP    *http.Client
	stop    func()
}

// Logs collects everything the server (or a Process) logged; it may be
// written and read at the same time.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String is every log line so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Start runs miniauth until the test ends.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.WeChat == nil {
		o.WeChat = NewWeChat(t)
	}
	vars := map[string]string{
		"MINIAUTH_ADDR":            "127.0.0.1:0",
		"MINIAUTH_DATA_DIR":        o.DataDir,
		"MINIAUTH_DATABASE_URL":    o.DatabaseURL,
		"MINIAUTH_WECHAT_APPID":    AppID,
		"MINIAUTH_WECHAT_SECRET":   Secret,
		"MINIAUTH_WECHAT_API_BASE": o.WeChat.HTTP.URL,
		// Content checks call WeChat on every nickname and upload; the
		// tests of content security turn them on.
		"MINIAUTH_CONTENT_CHECK": "off",
	}
	for k, v := range o.Env {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logs := &Logs{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := app.New(ctx, cfg, log, o.Routes...)
	if err != nil {
		cancel()
		t.Fatalf("start miniauth: %v", err)
	}
	if o.Clock != nil {
		srv.Logins.Now, srv.Profiles.Now, srv.Sessions.Now, srv.Logins.Access.Now = o.Clock, o.Clock, o.Clock, o.Clock
		srv.OALogin.Now, srv.WebLogin.Now = o.Clock, o.Clock
		if srv.Ring != nil {
			srv.Ring.Now = o.Clock
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatalf("listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	e := &Env{
		URL:     "http://" + ln.Addr().String(),
		DataDir: o.DataDir,
		WeChat:  o.WeChat,
		Server:  srv,
		Logs:    logs,
		HTTP:    &http.Client{Timeout: 30 * time.Second},
	}
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server stopped with: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		e.stop()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return e
}

// Stop shuts the server down now (it is also stopped when the test ends).
func (e *Env) Stop() { e.stop() }

// Response is an HTTP answer, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map.
func (r *Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v\n%s", r.Status, err, r.Body)
	}
	return m
}

// ErrorCode is the contract error code of the body ("" if none).
func (r *Response) ErrorCode() string {
	var m struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(r.Body, &m)
	return m.Error.Code
}

// Request is an HTTP request to the server.
type Request struct {
	Method  string
	Path    string
	Body    any    // marshalled as JSON unless []byte or string
	Token   string // bearer token
	Header  map[string]string
	NoType  bool // do not set Content-Type
	RawBody io.Reader
}

// Do sends a request and reads the whole answer.
func (e *Env) Do(t testing.TB, r Request) *Response {
	t.Helper()
	var body io.Reader = r.RawBody
	switch b := r.Body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	case string:
		body = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		body = bytes.NewReader(j)
	}
	req, err := http.NewRequest(r.Method, e.URL+r.Path, body)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if body != nil && !r.NoType {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	resp, err := e.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", r.Method, r.Path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Grant is a login or refresh answer.
type Grant struct {
	AccessToken  string         `json:"access_token"`
	RefreshToken string         `json:"refresh_token"`
	TokenType    string         `json:"token_type"`
	ExpiresIn    int            `json:"expires_in"`
	User         map[string]any `json:"user"`
	IsNewUser    bool           `json:"is_new_user"`
}

// UserID is the logged-in user's id.
func (g *Grant) UserID() int { return int(g.User["id"].(float64)) }

// Login logs a WeChat user in through a fresh wx.login code.
func (e *Env) Login(t testing.TB, openid string) *Grant {
	t.Helper()
	code := e.WeChat.NewCode(wechatsim.Identity{OpenID: openid})
	return e.LoginWith(t, map[string]any{"code": code})
}

// LoginWith posts a login body and expects a 200.
func (e *Env) LoginWith(t testing.TB, body map[string]any) *Grant {
	t.Helper()
	r := e.Do(t, Request{Method: "POST", Path: "/api/auth/login", Body: body})
	if r.Status != http.StatusOK {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	var g Grant
	if err := json.Unmarshal(r.Body, &g); err != nil {
		t.Fatalf("login answer: %v", err)
	}
	return &g
}

// Expect fails the test unless r has the status and error code.
func Expect(t testing.TB, r *Response, status int, code string) {
	t.Helper()
	if r.Status != status || r.ErrorCode() != code {
		t.Fatalf("got %d %q, want %d %q\nbody: %s", r.Status, r.ErrorCode(), status, code, r.Body)
	}
}
