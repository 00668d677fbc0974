package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/ent/user"
)

// call is a goroutine-safe request with an optional bearer token and
// extra headers (apptest.Do may call t.Fatal).
func call(env *apptest.Env, method, path, token string, body any, header map[string]string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, env.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func errorCodeOf(body []byte) string {
	r := apptest.Response{Body: body}
	return r.ErrorCode()
}

func storedPhone(t *testing.T, env *apptest.Env, userID int) string {
	t.Helper()
	u, err := env.Server.DB.Read.User.Query().Where(user.ID(userID)).Only(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return u.Phone
}

// TestPhoneCodeOfAnotherUserIsRefused: a phone code is bound to the user
// who tapped the button. Redeemed on another user's session (WeChat
// answers 40003 to the openid miniauth sends along) it is refused with
// 403 phone_code_mismatch and nothing is stored; its owner can still use
// it. Many thieves at once change nothing.
func TestPhoneCodeOfAnotherUserIsRefused(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		alice := env.Login(t, "o_alice_phone")
		const thieves = 40
		grants := make([]*apptest.Grant, thieves)
		for i := range grants {
			grants[i] = env.Login(t, fmt.Sprintf("o_thief_%d", i))
		}
		code := env.WeChat.NewPhoneCodeFor("o_alice_phone", "13800001111", "86")

		r := bindPhone(t, env, grants[0].AccessToken, code)
		apptest.Expect(t, r, http.StatusForbidden, "phone_code_mismatch")
		if got := env.WeChat.PhoneCodeOpenID(code); got != "" {
			t.Fatalf("the refused exchange consumed the code (openid %q recorded)", got)
		}

		var wg sync.WaitGroup
		statuses := make([]string, thieves)
		for i := range thieves {
			wg.Go(func() {
				status, body, err := call(env, "POST", "/api/me/phone", grants[i].AccessToken, map[string]any{"code": code}, nil)
				statuses[i] = fmt.Sprintf("%d %s %v", status, errorCodeOf(body), err)
			})
		}
		wg.Wait()
		for i, s := range statuses {
			if s != "403 phone_code_mismatch <nil>" {
				t.Errorf("thief %d: %s", i, s)
			}
			if p := storedPhone(t, env, grants[i].UserID()); p != "" {
				t.Errorf("thief %d got phone %q", i, p)
			}
		}

		// The owner redeems it.
		u := expectUser(t, bindPhone(t, env, alice.AccessToken, code))
		if u["phone"] != "13800001111" {
			t.Fatalf("owner's phone = %v", u["phone"])
		}
	})
}

// TestPhoneLoginWithAnotherUsersCode: phone-login sends the openid of the
// same request's code2Session; a code tapped by someone else is refused
// and the would-be user is not created.
func TestPhoneLoginWithAnotherUsersCode(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		env.Login(t, "o_existing") // something to count
		before := counts(t, env)
		r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/phone-login", Body: map[string]any{
			"code":       env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_newcomer"}),
			"phone_code": env.WeChat.NewPhoneCodeFor("o_someone_else", "13900002222", "86"),
		}})
		apptest.Expect(t, r, http.StatusForbidden, "phone_code_mismatch")
		if after := counts(t, env); after != before {
			t.Errorf("a refused phone login wrote rows: before %v, after %v", before, after)
		}
		// With a code of their own, the same person signs up.
		own := env.WeChat.NewPhoneCodeFor("o_newcomer", "13900002222", "86")
		g := grantOf(t, env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/phone-login", Body: map[string]any{
			"code": env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_newcomer"}), "phone_code": own,
		}}))
		if !g.IsNewUser || g.User["phone"] != "13900002222" {
			t.Fatalf("phone login with own code: %+v", g)
		}
		if got := env.WeChat.PhoneCodeOpenID(own); got != "o_newcomer" {
			t.Errorf("phone-login sent openid %q, want the login's", got)
		}
	})
}
