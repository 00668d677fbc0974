package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/wechatsim"
)

// A write on A that commits while B's change listener is reconnecting
// must still reach B's cache. The worst order, made deterministic: the
// write's row is locked (as a concurrent refresh holds it), both
// listeners are cut, the write starts on A and waits for the lock, B
// listens again and caches the still-live session, then the lock goes.
// After A's answer, B must not serve the old state from its cache.
func TestClusterWriteDuringListenerReconnectReachesTheOther(t *testing.T) {
	type target struct {
		table string // sessions or users: the row the write waits for
		id    int
	}
	// panel is an operator signed in to A's admin panel (set below).
	var panel *adminPanel
	cases := []struct {
		name string
		// act runs the write on A; victim is the grant whose next request
		// on B must see it; openid is the victim's WeChat openid.
		act func(a *apptest.Env, victim, other *apptest.Grant, openid string) *apptest.Response
		// lock is the row the write needs.
		lock func(victim, other *apptest.Grant) target
		// status is A's answer to the write.
		status int
		// want is what B answers the victim's GET /api/me with afterwards:
		// nil, the token is refused; else these fields of the user.
		want map[string]any
	}{
		{"logout", func(a *apptest.Env, v, _ *apptest.Grant, _ string) *apptest.Response {
			return a.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/logout", Token: v.AccessToken})
		}, func(v, _ *apptest.Grant) target { return target{"sessions", sid(t, v)} }, http.StatusNoContent, nil},
		{"end one session from another device", func(a *apptest.Env, v, o *apptest.Grant, _ string) *apptest.Response {
			return a.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me/sessions/" + strconv.Itoa(sid(t, v)), Token: o.AccessToken})
		}, func(v, _ *apptest.Grant) target { return target{"sessions", sid(t, v)} }, http.StatusNoContent, nil},
		{"end every other session", func(a *apptest.Env, v, o *apptest.Grant, _ string) *apptest.Response {
			return a.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me/sessions", Token: o.AccessToken})
		}, func(v, _ *apptest.Grant) target { return target{"sessions", sid(t, v)} }, http.StatusNoContent, nil},
		{"refresh token reuse", func(a *apptest.Env, v, _ *apptest.Grant, _ string) *apptest.Response {
			return a.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": v.RefreshToken}})
		}, func(v, _ *apptest.Grant) target { return target{"sessions", sid(t, v)} }, http.StatusUnauthorized, nil},
		{"account deletion", func(a *apptest.Env, v, _ *apptest.Grant, _ string) *apptest.Response {
			return a.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me", Token: v.AccessToken})
		}, func(v, _ *apptest.Grant) target { return target{"users", uid(t, v)} }, http.StatusNoContent, nil},
		{"profile change", func(a *apptest.Env, v, _ *apptest.Grant, _ string) *apptest.Response {
			return a.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: v.AccessToken, Body: map[string]any{"nickname": "after the reconnect"}})
		}, func(v, _ *apptest.Grant) target { return target{"users", uid(t, v)} }, http.StatusOK, map[string]any{"nickname": "after the reconnect"}},
		// The contract: disabling revokes every session at once.
		{"admin disables the user", func(_ *apptest.Env, v, _ *apptest.Grant, _ string) *apptest.Response {
			return panel.post(t, fmt.Sprintf("/admin/users/%d/disable", uid(t, v)))
		}, func(v, _ *apptest.Grant) target { return target{"users", uid(t, v)} }, http.StatusSeeOther, nil},
		{"admin ends the session", func(_ *apptest.Env, v, _ *apptest.Grant, _ string) *apptest.Response {
			return panel.post(t, fmt.Sprintf("/admin/users/%d/sessions/%d/revoke", uid(t, v), sid(t, v)))
		}, func(v, _ *apptest.Grant) target { return target{"sessions", sid(t, v)} }, http.StatusSeeOther, nil},
		// A returning user's phone login binds the phone to the user B
		// has cached.
		{"phone login", func(a *apptest.Env, _, _ *apptest.Grant, openid string) *apptest.Response {
			return a.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/phone-login", Body: map[string]any{
				"code":       a.WeChat.NewCode(wechatsim.Identity{OpenID: openid}),
				"phone_code": a.WeChat.NewPhoneCodeFor(openid, "13700000017", "86"),
			}})
		}, func(v, _ *apptest.Grant) target { return target{"users", uid(t, v)} }, http.StatusOK, map[string]any{"phone": "13700000017"}},
		// A returning login with a nickname fills the user's empty one.
		{"returning login", func(a *apptest.Env, _, _ *apptest.Grant, openid string) *apptest.Response {
			return a.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/login", Body: map[string]any{
				"code":     a.WeChat.NewCode(wechatsim.Identity{OpenID: openid}),
				"nickname": "filled by a login",
			}})
		}, func(v, _ *apptest.Grant) target { return target{"users", uid(t, v)} }, http.StatusOK, map[string]any{"nickname": "filled by a login"}},
	}

	url := apptest.FreshPostgres(t)
	wx := apptest.NewWeChat(t)
	shared := map[string]string{"MINIAUTH_DATABASE_URL": url, "MINIAUTH_JWT_SECRET": testJWTSecret}
	pa, pb := apptest.StartProcess(t, wx, shared), apptest.StartProcess(t, wx, shared)
	waitLog(t, pa, cacheOn, 1)
	waitLog(t, pb, cacheOn, 1)
	a, b := pa.Env(wx), pb.Env(wx)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	panel = signInPanel(t, url, a.URL)

	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			openid := "reconnect-" + strconv.Itoa(i)
			victim := a.Login(t, openid)
			if tc.name == "refresh token reuse" {
				// The victim's refresh token is rotated once: sending the
				// old one again is reuse.
				r := a.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": victim.RefreshToken}})
				if r.Status != http.StatusOK {
					t.Fatalf("refresh: %d %s", r.Status, r.Body)
				}
				victim.AccessToken = r.JSON(t)["access_token"].(string)
			}
			other := a.Login(t, openid)
			meOnB := func() *apptest.Response {
				return b.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: victim.AccessToken})
			}
			if r := meOnB(); r.Status != http.StatusOK {
				t.Fatalf("B before: %d %s", r.Status, r.Body)
			} else if u := r.JSON(t); tc.want != nil {
				for field, v := range tc.want {
					if u[field] == v {
						t.Fatalf("B answers %s %v before the write: the case proves nothing", field, v)
					}
				}
			}

			ctx := context.Background()
			lock, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer lock.Rollback()
			row := tc.lock(victim, other)
			if _, err := lock.ExecContext(ctx, "SELECT id FROM "+row.table+" WHERE id = $1 FOR UPDATE", row.id); err != nil {
				t.Fatal(err)
			}

			ups := strings.Count(pb.Log(), cacheOn)
			if _, err := db.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE datname = current_database() AND application_name = $1`, database.ListenerAppName); err != nil {
				t.Fatal(err)
			}
			answered := make(chan *apptest.Response, 1)
			go func() { answered <- tc.act(a, victim, other, openid) }()
			waitLocked(t, db)
			// B listens again and caches the session, still live.
			waitLog(t, pb, cacheOn, ups+1)
			for n := 0; n < 2; n++ {
				if r := meOnB(); r.Status != http.StatusOK {
					t.Fatalf("B while the write waits: %d %s", r.Status, r.Body)
				}
			}
			if err := lock.Rollback(); err != nil {
				t.Fatal(err)
			}
			r := <-answered
			if r.Status != tc.status {
				t.Fatalf("the write on A: %d %s, want %d", r.Status, r.Body, tc.status)
			}
			if tc.want == nil {
				apptest.Expect(t, meOnB(), 401, "unauthorized")
			} else {
				u := meOnB().JSON(t)
				for field, v := range tc.want {
					if u[field] != v {
						t.Fatalf("B answers %s %v after A changed it to %v", field, u[field], v)
					}
				}
			}
			waitLog(t, pa, cacheOn, strings.Count(pa.Log(), cacheOn)) // A is back too
		})
	}
}

// waitLocked waits until some connection is waiting for a row lock: the
// write under test has reached the locked row.
func waitLocked(t *testing.T, db *sql.DB) {
	t.Helper()
	apptest.Eventually(t, 30*time.Second, "a write waiting for the locked row", func() (bool, string) {
		var n int
		err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		return err == nil && n > 0, "none waiting"
	})
}

func sid(t *testing.T, g *apptest.Grant) int { _, s := sessionIDs(t, g.AccessToken); return s }
func uid(t *testing.T, g *apptest.Grant) int { u, _ := sessionIDs(t, g.AccessToken); return u }

// adminPanel is a browser signed in to an instance's admin panel as an
// operator (panelAdmin, made with the CLI in the shared database).
type adminPanel struct {
	base, csrf string
	browser    *http.Client
}

// signInPanel makes panelAdmin an operator and signs in at base.
func signInPanel(t *testing.T, dbURL, base string) *adminPanel {
	t.Helper()
	create := exec.Command(apptest.Binary(t), "admin", "create", "--username", panelAdmin, "--role", "operator", "--password-stdin")
	create.Env = append(os.Environ(), "MINIAUTH_DATABASE_URL="+dbURL, "MINIAUTH_DATA_DIR="+t.TempDir())
	create.Stdin = strings.NewReader(panelPassword + "\n")
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("admin create: %v\n%s", err, out)
	}
	jar, _ := cookiejar.New(nil)
	p := &adminPanel{base: base, browser: &http.Client{Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	resp, err := p.browser.PostForm(base+"/admin/login", url.Values{"username": {panelAdmin}, "password": {panelPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("admin sign-in: %d", resp.StatusCode)
	}
	// The CSRF token belongs to the panel session: any page's form has it.
	resp, err = p.browser.Get(base + "/admin/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	p.csrf = apptest.CSRF(t, page)
	return p
}

// post submits a panel form (path under the instance) with the CSRF
// token. It runs off the test's goroutine: failures are Errors.
func (p *adminPanel) post(t *testing.T, path string) *apptest.Response {
	resp, err := p.browser.PostForm(p.base+path, url.Values{"csrf": {p.csrf}})
	if err != nil {
		t.Error(err)
		return &apptest.Response{}
	}
	defer resp.Body.Close()
	if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, "/admin/login") {
		t.Errorf("POST %s: sent to sign in again (%s), not done", path, loc)
	}
	body, _ := io.ReadAll(resp.Body)
	return &apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}
