package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/wechatsim"
)

type sessionsAnswer struct {
	Sessions []struct {
		ID         int    `json:"id"`
		CreatedAt  string `json:"created_at"`
		LastUsedAt string `json:"last_used_at"`
		IP         string `json:"ip"`
		Device     string `json:"device"`
		App        string `json:"app"`
		Current    bool   `json:"current"`
	} `json:"sessions"`
}

func listSessions(t *testing.T, env *apptest.Env, token string) sessionsAnswer {
	t.Helper()
	r := env.Do(t, apptest.Request{Method: "GET", Path: "/api/me/sessions", Token: token})
	if r.Status != http.StatusOK {
		t.Fatalf("list sessions: %d %s", r.Status, r.Body)
	}
	fragments(t, r.Body, []string{`"sessions":[`}, []string{"refresh", "token", "user_agent"})
	var a sessionsAnswer
	if err := json.Unmarshal(r.Body, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestUserSessions(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		agents := []string{
			"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x18003237) NetType/WIFI Language/zh_CN",
			"Mozilla/5.0 (Linux; Android 13; V2218A) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 MicroMessenger/8.0.49.2600(0x28003133) NetType/4G",
			"Mozilla/5.0 (Windows NT 10.0) wechatdevtools/1.06.2310080 MicroMessenger/8.0.5",
		}
		var grants []*apptest.Grant
		for _, ua := range agents {
			code := env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_devices"})
			r := env.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: map[string]any{"code": code}, Header: map[string]string{"User-Agent": ua}})
			grants = append(grants, grantOf(t, r))
		}
		list := listSessions(t, env, grants[2].AccessToken)
		if len(list.Sessions) != 3 {
			t.Fatalf("sessions: %+v", list)
		}
		wantDevices := []string{"WeChat DevTools on Windows", "WeChat 8.0.49 on Android", "WeChat 8.0.50 on iPhone"}
		for i, s := range list.Sessions {
			if s.Device != wantDevices[i] || s.App != apptest.AppID || s.IP != "127.0.0.1" || s.CreatedAt == "" || s.LastUsedAt == "" {
				t.Errorf("session %d (newest first): %+v, want device %q", i, s, wantDevices[i])
			}
			if s.Current != (i == 0) {
				t.Errorf("session %d current = %v", i, s.Current)
			}
		}
		// Someone else cannot end them: 404, as for an unknown id.
		other := env.Login(t, "o_devices_other")
		for _, s := range list.Sessions {
			r := env.Do(t, apptest.Request{Method: "DELETE", Path: fmt.Sprintf("/api/me/sessions/%d", s.ID), Token: other.AccessToken})
			apptest.Expect(t, r, http.StatusNotFound, "not_found")
		}
		for _, bad := range []string{"999999", "0", "-1", "abc", "1e3", "01"} {
			r := env.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me/sessions/" + bad, Token: grants[0].AccessToken})
			apptest.Expect(t, r, http.StatusNotFound, "not_found")
		}
		// The user ends the Android session from the devtools one.
		android := list.Sessions[1].ID
		r := env.Do(t, apptest.Request{Method: "DELETE", Path: fmt.Sprintf("/api/me/sessions/%d", android), Token: grants[2].AccessToken})
		if r.Status != http.StatusNoContent {
			t.Fatalf("end session: %d %s", r.Status, r.Body)
		}
		expectUnauthorized(t, me(t, env, grants[1].AccessToken))
		expectUnauthorized(t, env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": grants[1].RefreshToken}}))
		apptest.Expect(t, env.Do(t, apptest.Request{Method: "DELETE", Path: fmt.Sprintf("/api/me/sessions/%d", android), Token: grants[2].AccessToken}),
			http.StatusNotFound, "not_found")
		if n := len(listSessions(t, env, grants[0].AccessToken).Sessions); n != 2 {
			t.Errorf("%d sessions after ending one, want 2", n)
		}
		// Sign out the other devices: only the caller's session lives.
		r = env.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me/sessions", Token: grants[2].AccessToken})
		if r.Status != http.StatusNoContent {
			t.Fatalf("end others: %d %s", r.Status, r.Body)
		}
		expectUnauthorized(t, me(t, env, grants[0].AccessToken))
		if r := me(t, env, grants[2].AccessToken); r.Status != http.StatusOK {
			t.Fatalf("the current session must live: %d", r.Status)
		}
		if l := listSessions(t, env, grants[2].AccessToken); len(l.Sessions) != 1 || !l.Sessions[0].Current {
			t.Errorf("after ending the others: %+v", l)
		}
		// The other user was not touched.
		if r := me(t, env, other.AccessToken); r.Status != http.StatusOK {
			t.Error("another user's session ended")
		}
		expectUnauthorized(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/me/sessions"}))
	})
}

// TestEndSessionsConcurrently ends many sessions at once, while another
// user tries the same ids: each ends exactly once, the other user always
// gets 404.
func TestEndSessionsConcurrently(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		const n = 50
		var grants []*apptest.Grant
		for range n + 1 {
			grants = append(grants, env.Login(t, "o_many_devices"))
		}
		keeper := grants[n]
		list := listSessions(t, env, keeper.AccessToken)
		if len(list.Sessions) != n+1 {
			t.Fatalf("%d sessions", len(list.Sessions))
		}
		other := env.Login(t, "o_many_devices_other")
		statuses := make(chan string, 4*n)
		var wg sync.WaitGroup
		for _, s := range list.Sessions {
			if s.Current {
				continue
			}
			for _, tok := range []string{keeper.AccessToken, keeper.AccessToken, other.AccessToken} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					status, _, err := do(env, "DELETE", fmt.Sprintf("/api/me/sessions/%d", s.ID), tok)
					if err != nil {
						t.Error(err)
					}
					who := "owner"
					if tok == other.AccessToken {
						who = "other"
					}
					statuses <- fmt.Sprintf("%s %d", who, status)
				}()
			}
		}
		wg.Wait()
		close(statuses)
		got := map[string]int{}
		for s := range statuses {
			got[s]++
		}
		if got["owner 204"] != n || got["owner 404"] != n || got["other 404"] != n || len(got) != 3 {
			t.Errorf("answers: %v; want each session ended once (%d×204), then 404s", got, n)
		}
		if l := listSessions(t, env, keeper.AccessToken); len(l.Sessions) != 1 {
			t.Errorf("%d sessions left, want 1", len(l.Sessions))
		}
	})
}

// do sends a bodiless request with a bearer token from any goroutine.
func do(env *apptest.Env, method, path, token string) (int, []byte, error) {
	req, err := http.NewRequest(method, env.URL+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := env.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var buf [512]byte
	n, _ := resp.Body.Read(buf[:])
	return resp.StatusCode, buf[:n], nil
}
