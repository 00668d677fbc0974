package app_test

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/database"
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
	cases := []struct {
		name string
		// act runs the write on A; victim is the grant whose next request
		// on B must see it.
		act func(a *apptest.Env, victim, other *apptest.Grant) *apptest.Response
		// lock is the row the write needs.
		lock func(victim, other *apptest.Grant) target
		// gone: the victim's token is refused on B afterwards; otherwise
		// B answers the new nickname.
		gone bool
	}{
		{"logout", func(a *apptest.Env, v, _ *apptest.Grant) *apptest.Response {
			return a.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/logout", Token: v.AccessToken})
		}, func(v, _ *apptest.Grant) target { return target{"sessions", sid(t, v)} }, true},
		{"end one session from another device", func(a *apptest.Env, v, o *apptest.Grant) *apptest.Response {
			return a.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me/sessions/" + strconv.Itoa(sid(t, v)), Token: o.AccessToken})
		}, func(v, _ *apptest.Grant) target { return target{"sessions", sid(t, v)} }, true},
		{"end every other session", func(a *apptest.Env, v, o *apptest.Grant) *apptest.Response {
			return a.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me/sessions", Token: o.AccessToken})
		}, func(v, _ *apptest.Grant) target { return target{"sessions", sid(t, v)} }, true},
		{"refresh token reuse", func(a *apptest.Env, v, _ *apptest.Grant) *apptest.Response {
			return a.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": v.RefreshToken}})
		}, func(v, _ *apptest.Grant) target { return target{"sessions", sid(t, v)} }, true},
		{"account deletion", func(a *apptest.Env, v, _ *apptest.Grant) *apptest.Response {
			return a.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me", Token: v.AccessToken})
		}, func(v, _ *apptest.Grant) target { return target{"users", uid(t, v)} }, true},
		{"profile change", func(a *apptest.Env, v, _ *apptest.Grant) *apptest.Response {
			return a.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: v.AccessToken, Body: map[string]any{"nickname": "after the reconnect"}})
		}, func(v, _ *apptest.Grant) target { return target{"users", uid(t, v)} }, false},
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
			go func() { answered <- tc.act(a, victim, other) }()
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
			if r.Status/100 != 2 && !(tc.name == "refresh token reuse" && r.Status == http.StatusUnauthorized) {
				t.Fatalf("the write on A: %d %s", r.Status, r.Body)
			}
			if tc.gone {
				apptest.Expect(t, meOnB(), 401, "unauthorized")
			} else if m := meOnB().JSON(t); m["nickname"] != "after the reconnect" {
				t.Fatalf("B answers nickname %v after A changed it", m["nickname"])
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
