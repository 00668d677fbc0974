package app_test

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/database"
)

const cacheOn = "listening for other instances' changes; cache on"

// waitLog waits until the process has logged want at least n times. The
// wait is for the process's own report, not a timing assumption: the
// deadline only stops a broken test from hanging.
func waitLog(t *testing.T, p *apptest.Process, want string, n int) {
	t.Helper()
	apptest.Eventually(t, 30*time.Second, fmt.Sprintf("%d× %q in the log", n, want), func() (bool, string) {
		return strings.Count(p.Log(), want) >= n, p.Log()
	})
}

// Killing B's change listener (pg_terminate_backend) must not let B answer
// a session that A revoked meanwhile from its warm cache: while the
// listener is down B checks the database, and once it listens again it has
// flushed and follows changes again.
func TestClusterCacheListenerKilledStillRefusesRevokedTokens(t *testing.T) {
	url := apptest.FreshPostgres(t)
	wx := apptest.NewWeChat(t)
	shared := map[string]string{"MINIAUTH_DATABASE_URL": url, "MINIAUTH_JWT_SECRET": strings.Repeat("k", 48)}
	pa, pb := apptest.StartProcess(t, wx, shared), apptest.StartProcess(t, wx, shared)
	waitLog(t, pa, cacheOn, 1)
	waitLog(t, pb, cacheOn, 1)
	a, b := pa.Env(wx), pb.Env(wx)

	g1, g2, g3 := a.Login(t, "killed-1"), a.Login(t, "killed-2"), a.Login(t, "killed-3")
	warm := func(g *apptest.Grant) {
		t.Helper()
		for i := 0; i < 2; i++ {
			if r := b.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}); r.Status != http.StatusOK {
				t.Fatalf("B: %d %s", r.Status, r.Body)
			}
		}
	}
	warm(g1)
	warm(g2)
	warm(g3)

	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var killed int
	if err := db.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND application_name = $1`, database.ListenerAppName).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 2 {
		t.Fatalf("terminated %d listener connections, want 2 (one per instance)", killed)
	}
	waitLog(t, pb, "change listener down", 1)

	// Revoked on A while B's listener was cut: refused on B at once.
	if r := a.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/logout", Token: g1.AccessToken}); r.Status != http.StatusNoContent {
		t.Fatalf("logout on A: %d %s", r.Status, r.Body)
	}
	apptest.Expect(t, b.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g1.AccessToken}), 401, "unauthorized")

	// Listening again: B's warm cache follows A's revocations.
	waitLog(t, pb, cacheOn, 2)
	waitLog(t, pa, cacheOn, 2)
	warm(g2)
	warm(g3)
	if r := a.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/logout", Token: g2.AccessToken}); r.Status != http.StatusNoContent {
		t.Fatalf("logout on A: %d %s", r.Status, r.Body)
	}
	apptest.Expect(t, b.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g2.AccessToken}), 401, "unauthorized")
	apptest.Expect(t, b.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g1.AccessToken}), 401, "unauthorized")
	if r := b.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g3.AccessToken}); r.Status != http.StatusOK {
		t.Fatalf("a live session refused on B: %d %s", r.Status, r.Body)
	}
}

// A profile change on A is what B answers next, even from a warm cache.
func TestClusterProfileChangeOnOneInstanceIsSeenOnTheOther(t *testing.T) {
	c := startCluster(t)
	g := c.a.Login(t, "cluster-profile")
	for i := 0; i < 3; i++ {
		c.b.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken})
		nick := "nick " + string(rune('a'+i))
		if r := c.a.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: g.AccessToken, Body: map[string]any{"nickname": nick}}); r.Status != http.StatusOK {
			t.Fatalf("PUT on A: %d %s", r.Status, r.Body)
		}
		if m := c.b.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}).JSON(t); m["nickname"] != nick {
			t.Fatalf("B answers %v after A set %q", m["nickname"], nick)
		}
	}
}

// Ending a device's session, or every other one, on A is refused on B at
// once, with B's cache warm.
func TestClusterEndingSessionsOnOneInstanceHoldsOnTheOther(t *testing.T) {
	c := startCluster(t)
	phone, tablet, laptop := c.a.Login(t, "cluster-devices"), c.a.Login(t, "cluster-devices"), c.a.Login(t, "cluster-devices")
	for _, g := range []*apptest.Grant{phone, tablet, laptop} {
		for i := 0; i < 2; i++ {
			if r := c.b.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}); r.Status != http.StatusOK {
				t.Fatalf("B: %d %s", r.Status, r.Body)
			}
		}
	}
	list := c.a.Do(t, apptest.Request{Method: "GET", Path: "/api/me/sessions", Token: phone.AccessToken})
	if list.Status != http.StatusOK {
		t.Fatalf("list sessions: %d %s", list.Status, list.Body)
	}
	// The tablet's session id, from its token's sid claim: end it on A.
	sid := sessionID(t, tablet.AccessToken)
	if r := c.a.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me/sessions/" + sid, Token: phone.AccessToken}); r.Status != http.StatusNoContent {
		t.Fatalf("end tablet session on A: %d %s", r.Status, r.Body)
	}
	apptest.Expect(t, c.b.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: tablet.AccessToken}), 401, "unauthorized")
	if r := c.a.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me/sessions", Token: phone.AccessToken}); r.Status != http.StatusNoContent {
		t.Fatalf("end other sessions on A: %d %s", r.Status, r.Body)
	}
	apptest.Expect(t, c.b.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: laptop.AccessToken}), 401, "unauthorized")
	if r := c.b.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: phone.AccessToken}); r.Status != http.StatusOK {
		t.Fatalf("the current session was ended too: %d %s", r.Status, r.Body)
	}
}

// sessionID reads the sid claim of an access token (no verification: the
// test made the token).
func sessionID(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		SID json.Number `json:"sid"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims.SID.String()
}
