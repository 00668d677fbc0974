package app_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/wechatsim"
)

// cluster is two miniauth processes sharing one PostgreSQL database and
// one secret, as behind a load balancer.
type cluster struct {
	dbURL string
	wx    *apptest.WeChat
	a, b  *apptest.Env
}

func startCluster(t *testing.T, extra ...string) *cluster {
	t.Helper()
	url := apptest.FreshPostgres(t)
	wx := apptest.NewWeChat(t)
	shared := map[string]string{
		"MINIAUTH_DATABASE_URL": url,
		"MINIAUTH_JWT_SECRET":   strings.Repeat("s", 48),
	}
	for i := 0; i+1 < len(extra); i += 2 {
		shared[extra[i]] = extra[i+1]
	}
	pa := apptest.StartProcess(t, wx, shared)
	pb := apptest.StartProcess(t, wx, shared)
	return &cluster{dbURL: url, wx: wx, a: pa.Env(wx), b: pb.Env(wx)}
}

func TestClusterLogoutOnOneInstanceHoldsOnTheOther(t *testing.T) {
	c := startCluster(t)
	g := c.a.Login(t, "cluster-logout")
	if r := c.b.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}); r.Status != http.StatusOK {
		t.Fatalf("B refused A's token before logout: %d %s", r.Status, r.Body)
	}
	if r := c.a.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/logout", Token: g.AccessToken}); r.Status != http.StatusNoContent {
		t.Fatalf("logout on A: %d %s", r.Status, r.Body)
	}
	apptest.Expect(t, c.b.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}), 401, "unauthorized")
	apptest.Expect(t, c.b.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh",
		Body: map[string]any{"refresh_token": g.RefreshToken}}), 401, "unauthorized")
}

func TestClusterRefreshReuseAcrossInstancesRevokesSession(t *testing.T) {
	c := startCluster(t)
	g := c.a.Login(t, "cluster-refresh")
	r := c.a.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": g.RefreshToken}})
	if r.Status != http.StatusOK {
		t.Fatalf("refresh on A: %d %s", r.Status, r.Body)
	}
	next := r.JSON(t)
	// The rotated token replayed on B: refused, and the session dies.
	apptest.Expect(t, c.b.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh",
		Body: map[string]any{"refresh_token": g.RefreshToken}}), 401, "unauthorized")
	apptest.Expect(t, c.a.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: next["access_token"].(string)}), 401, "unauthorized")
	apptest.Expect(t, c.a.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh",
		Body: map[string]any{"refresh_token": next["refresh_token"]}}), 401, "unauthorized")
}

func TestClusterConcurrentFirstLoginsMakeOneUser(t *testing.T) {
	c := startCluster(t)
	const n = 20
	ids := make([]int, n)
	newUsers := 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		env := c.a
		if i%2 == 1 {
			env = c.b
		}
		code := c.wx.NewCode(wechatsim.Identity{OpenID: "cluster-same-user"})
		wg.Add(1)
		go func(i int, env *apptest.Env, code string) {
			defer wg.Done()
			r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/login", Body: map[string]any{"code": code}})
			if r.Status != http.StatusOK {
				t.Errorf("login %d: %d %s", i, r.Status, r.Body)
				return
			}
			m := r.JSON(t)
			mu.Lock()
			defer mu.Unlock()
			ids[i] = int(m["user"].(map[string]any)["id"].(float64))
			if m["is_new_user"] == true {
				newUsers++
			}
		}(i, env, code)
	}
	wg.Wait()
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("logins made different users: %v", ids)
		}
	}
	if newUsers != 1 {
		t.Fatalf("%d logins said is_new_user, want exactly 1", newUsers)
	}
}

// The per-IP login limit is one budget for the whole service, not one per
// instance.
func TestClusterLoginRateLimitIsShared(t *testing.T) {
	c := startCluster(t, "MINIAUTH_LOGIN_RATE_LIMIT", "6")
	for i := 0; i < 6; i++ {
		env := c.a
		if i%2 == 1 {
			env = c.b
		}
		env.Login(t, "limited")
	}
	for _, env := range []*apptest.Env{c.a, c.b} {
		code := c.wx.NewCode(wechatsim.Identity{OpenID: "limited"})
		r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/login", Body: map[string]any{"code": code}})
		apptest.Expect(t, r, http.StatusTooManyRequests, "rate_limited")
		if r.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
}

// Both instances use one WeChat access token: it is fetched once and
// shared through the database.
func TestClusterShareOneWeChatAccessToken(t *testing.T) {
	c := startCluster(t)
	for i, env := range []*apptest.Env{c.a, c.b, c.a, c.b} {
		g := env.Login(t, fmt.Sprintf("phone-%d", i))
		code := c.wx.NewPhoneCode(fmt.Sprintf("1380013800%d", i), "86")
		r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/me/phone", Token: g.AccessToken, Body: map[string]any{"code": code}})
		if r.Status != http.StatusOK {
			t.Fatalf("bind phone on instance %d: %d %s", i%2, r.Status, r.Body)
		}
	}
	if n := c.wx.Calls(wechatsim.PathStableToken); n != 1 {
		t.Fatalf("stable_token called %d times by two instances, want 1", n)
	}
}

// An admin disabling a user on A's panel cuts the user off on B at once.
func TestClusterDisableOnOneInstanceHoldsOnTheOther(t *testing.T) {
	c := startCluster(t)
	g := c.b.Login(t, "cluster-disable")
	// B's session cache holds the session before A disables the user.
	for i := 0; i < 2; i++ {
		if r := c.b.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}); r.Status != http.StatusOK {
			t.Fatalf("B before disable: %d %s", r.Status, r.Body)
		}
	}

	// The first admin, made with the CLI against the shared database.
	create := exec.Command(apptest.Binary(t), "admin", "create", "--username", panelAdmin, "--password-stdin")
	create.Env = append(os.Environ(), "MINIAUTH_DATABASE_URL="+c.dbURL, "MINIAUTH_DATA_DIR="+t.TempDir())
	create.Stdin = strings.NewReader(panelPassword + "\n")
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("admin create: %v\n%s", err, out)
	}

	panelDisable(t, c.a.URL, g.UserID()) // on A

	apptest.Expect(t, c.b.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}), 401, "unauthorized")
	code := c.wx.NewCode(wechatsim.Identity{OpenID: "cluster-disable"})
	apptest.Expect(t, c.b.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/login", Body: map[string]any{"code": code}}), 403, "user_disabled")
}
