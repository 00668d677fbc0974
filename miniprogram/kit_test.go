// Package miniprogram_test runs the mini program kit's Node.js tests
// (miniprogram/test/*.test.js) against the real miniauth binary and a
// simulated WeChat on loopback, so `go test ./...` stays the one command.
package miniprogram_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/wechatsim"
)

// RequireNodeEnv makes a missing Node.js a failure instead of a skip (CI).
const RequireNodeEnv = "MINIAUTH_REQUIRE_NODE"

// ShortAccessTTL is the second server's access token lifetime, for the
// expiry tests. Tokens are issued on whole seconds, so 3s leaves a fresh
// token at least 2s: ample for a replay on a loaded machine.
const ShortAccessTTL = "3s"

// The main server's panel admin, for the tests that disable a user.
const kitAdmin, kitAdminPassword = "kit-ops", "correct horse battery staple"

// The second mini program of the several-apps server.
const (
	SecondAppID  = "wxsecondapp0000001"
	SecondSecret = "second-app-secret-0123456789abcdef"
)

func TestMain(m *testing.M) {
	code := m.Run()
	apptest.RemoveBinary()
	os.Exit(code)
}

func TestMiniProgramKit(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv(RequireNodeEnv) == "1" {
			t.Fatalf("node not found on PATH and %s=1: install Node.js >= 20", RequireNodeEnv)
		}
		t.Skipf("node not found on PATH: skipping the mini program kit's Node.js tests (set %s=1 to make this a failure)", RequireNodeEnv)
	}
	files, err := filepath.Glob(filepath.Join("test", "*.test.js"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Node tests in miniprogram/test: %v", err)
	}

	fake := newFakeWeChat(t)
	wx := &apptest.WeChat{Server: fake.sim, HTTP: fake.Server}
	main := apptest.StartProcess(t, wx, map[string]string{"MINIAUTH_SQLITE_SYNC": "normal"})
	// The admin the hooks tests sign in to the panel with, to disable a user.
	create := exec.Command(apptest.Binary(t), "admin", "create", "--username", kitAdmin, "--password-stdin")
	create.Env = apptest.Environ(map[string]string{"MINIAUTH_DATA_DIR": main.DataDir})
	create.Stdin = strings.NewReader(kitAdminPassword + "\n")
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("admin create: %v\n%s", err, out)
	}
	short := apptest.StartProcess(t, wx, map[string]string{"MINIAUTH_SQLITE_SYNC": "normal", "MINIAUTH_ACCESS_TTL": ShortAccessTTL})
	// Two mini programs on one server, both served by the fake WeChat.
	fake.sim.AddApp(SecondAppID, SecondSecret)
	multi := apptest.StartProcess(t, wx, map[string]string{"MINIAUTH_SQLITE_SYNC": "normal",
		"MINIAUTH_WECHAT_APPID": "", "MINIAUTH_WECHAT_SECRET": "",
		"MINIAUTH_WECHAT_APPS": apptest.AppID + ":" + apptest.Secret + "," + SecondAppID + ":" + SecondSecret,
		// One phone number per mini program per day: phoneoffer.test.js
		// sees the second user told budget_exhausted.
		"MINIAUTH_PHONE_DAILY_BUDGET": "1"})

	// A server on PostgreSQL behind a proxy the Node tests cut and
	// restore (POST /test/db/cut, /test/db/restore on the fake WeChat),
	// for the kit's retry of a 503.
	faultyURL := ""
	if os.Getenv(apptest.PostgresEnv) != "" || os.Getenv("MINIAUTH_REQUIRE_POSTGRES") == "1" {
		proxy, dbURL := apptest.ProxyPostgres(t, apptest.FreshPostgres(t))
		fake.setDB(proxy)
		faultyURL = apptest.StartProcess(t, wx, map[string]string{"MINIAUTH_DATABASE_URL": dbURL}).URL
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append([]string{"--test", "--test-reporter=spec"}, files...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Env = append(os.Environ(),
		"MINIAUTH_URL="+main.URL,
		"MINIAUTH_SHORT_TTL_URL="+short.URL,
		"WECHAT_TEST_URL="+fake.URL,
		"MINIAUTH_MULTI_URL="+multi.URL,
		"MINIAUTH_APPID="+apptest.AppID,
		"MINIAUTH_SECOND_APPID="+SecondAppID,
		"MINIAUTH_FAULTY_URL="+faultyURL,
		"MINIAUTH_ADMIN_USER="+kitAdmin,
		"MINIAUTH_ADMIN_PASSWORD="+kitAdminPassword,
		"NO_COLOR=1",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("node --test failed: %v\n%s", err, out)
		return
	}
	t.Logf("node --test:\n%s", out)
	// A run where the tests were skipped or not found would pass
	// silently: none of these skip, so they must show as passed.
	for _, name := range []string{"first login", "concurrent requests before login", "access token expiry", "refresh token reuse", "uploadAvatar uploads", "bindPhone binds", "example page", "business route behind a forward-auth proxy",
		"phoneLogin signs up", "phoneLogin refuses a phone", "listSessions", "endSession", "endOtherSessions", "two mini programs", "example devices page",
		"web sign-in: confirmWebLogin", "web sign-in: scanWebLogin then denyWebLogin", "example web sign-in page",
		"content_rejected names the nickname field",
		"phoneOffer offers the button", "phoneOffer shares the budget", "phoneOffer before login logs in first",
		"phoneQuotaExhausted recognizes errno 1400001", "example page shows the phone button only when offered",
		"uploadFile to a business route", "hooks: onSignedOut on logout", "hooks: onUserDisabled", "hooks: onSignedOut session_ended", "hooks: a hook that throws"} {
		if !bytes.Contains(out, []byte("✔ "+name)) {
			t.Errorf("node output does not show %q as passed", name)
		}
	}
	if faultyURL == "" {
		return
	}
	for _, name := range []string{"login retries a 503 once", "a second 503 is passed on as unavailable"} {
		if !bytes.Contains(out, []byte("✔ "+name)) {
			t.Errorf("node output does not show %q as passed", name)
		}
	}
}

// fakeWeChat is the strict simulator plus test-only endpoints the Node wx
// shim calls: POST /test/code {"openid","unionid"?} → {"code"} (what wx.login does on
// a phone), GET /test/stats?openid= → how many codes of that openid were
// exchanged, and POST /test/phonecode {"phone"} → {"code"} (what
// <button open-type="getPhoneNumber"> does).
type fakeWeChat struct {
	*httptest.Server
	sim *wechatsim.Server

	mu        sync.Mutex
	owner     map[string]string // login code → openid
	exchanges map[string]int    // openid → jscode2session calls
	db        *apptest.CutProxy // the faulty server's way to PostgreSQL
}

// setDB names the proxy /test/db/cut and /test/db/restore act on.
func (f *fakeWeChat) setDB(p *apptest.CutProxy) {
	f.mu.Lock()
	f.db = p
	f.mu.Unlock()
}

// cutDB is POST /test/db/{cut,restore}: the faulty server's database
// drops off the network, or comes back.
func (f *fakeWeChat) cutDB(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	p := f.db
	f.mu.Unlock()
	if p == nil {
		http.Error(w, "no faulty server (PostgreSQL not configured)", http.StatusNotFound)
		return
	}
	if r.PathValue("action") == "cut" {
		p.Cut()
	} else {
		p.Restore()
	}
	w.WriteHeader(http.StatusNoContent)
}

func newFakeWeChat(t *testing.T) *fakeWeChat {
	f := &fakeWeChat{
		sim:       wechatsim.New(apptest.AppID, apptest.Secret),
		owner:     map[string]string{},
		exchanges: map[string]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /test/code", f.newCode)
	mux.HandleFunc("GET /test/stats", f.stats)
	mux.HandleFunc("POST /test/phonecode", f.newPhoneCode)
	mux.HandleFunc("POST /test/db/{action}", f.cutDB)
	mux.HandleFunc(wechatsim.PathCode2Session, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		if openid, ok := f.owner[r.URL.Query().Get("js_code")]; ok {
			f.exchanges[openid]++
		}
		f.mu.Unlock()
		f.sim.ServeHTTP(w, r)
	})
	mux.Handle("/", f.sim)
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeWeChat) newCode(w http.ResponseWriter, r *http.Request) {
	var in struct {
		OpenID  string `json:"openid"`
		UnionID string `json:"unionid"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.OpenID == "" {
		http.Error(w, "want {\"openid\", \"unionid\"?}", http.StatusBadRequest)
		return
	}
	code := f.sim.NewCode(wechatsim.Identity{OpenID: in.OpenID, UnionID: in.UnionID})
	f.mu.Lock()
	f.owner[code] = in.OpenID
	f.mu.Unlock()
	writeJSON(w, map[string]string{"code": code})
}

func (f *fakeWeChat) stats(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	n := f.exchanges[r.URL.Query().Get("openid")]
	f.mu.Unlock()
	writeJSON(w, map[string]int{"code2session": n})
}

// newPhoneCode issues a getPhoneNumber code for a mainland number, as
// the button would on the user's phone.
func (f *fakeWeChat) newPhoneCode(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Phone string `json:"phone"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Phone == "" {
		http.Error(w, "want {\"phone\"}", http.StatusBadRequest)
		return
	}
	writeJSON(w, map[string]string{"code": f.sim.NewPhoneCode(in.Phone, "86")})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
