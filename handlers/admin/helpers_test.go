package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/handlers/admin"
)

const (
	adminName     = "operator"
	adminPassword = "correct horse battery staple"
)

// panel is a running server with an admin account, whose HTTP client
// does not follow redirects (the tests check them).
type panel struct {
	*apptest.Env
	// browsers maps a pending sign-in token to the cookie the password
	// step set with it (the code step is good only in that browser).
	browsers sync.Map
}

func startPanel(t testing.TB, o apptest.Options) *panel {
	t.Helper()
	env := apptest.Start(t, o)
	env.HTTP.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if _, err := admins.New(env.Server.DB, env.Server.Keys).Create(context.Background(), adminName, adminPassword); err != nil {
		t.Fatalf("create admin: %v", err)
	}
	return &panel{Env: env}
}

// form posts an HTML form, with the admin cookie if not empty.
func (p *panel) form(t testing.TB, path, cookie string, values url.Values) *apptest.Response {
	t.Helper()
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	if cookie != "" {
		h["Cookie"] = admin.CookieName + "=" + cookie
	}
	return p.Do(t, apptest.Request{Method: "POST", Path: path, Body: values.Encode(), NoType: true, Header: h})
}

// get fetches a page with the admin cookie (if not empty).
func (p *panel) get(t testing.TB, path, cookie string) *apptest.Response {
	t.Helper()
	h := map[string]string{}
	if cookie != "" {
		h["Cookie"] = admin.CookieName + "=" + cookie
	}
	return p.Do(t, apptest.Request{Method: "GET", Path: path, Header: h})
}

// signIn signs in through the form and returns the cookie's value.
func (p *panel) signIn(t testing.TB) string {
	t.Helper()
	r := p.form(t, "/admin/login", "", url.Values{"username": {adminName}, "password": {adminPassword}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/admin/" {
		t.Fatalf("sign in: %d %s\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	c := sessionCookie(t, r)
	return c.Value
}

func sessionCookie(t testing.TB, r *apptest.Response) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == admin.CookieName && c.Value != "" {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", admin.CookieName, r.Header.Values("Set-Cookie"))
	return nil
}

// csrf is the CSRF token of the forms on a page.
func csrf(t testing.TB, r *apptest.Response) string {
	t.Helper()
	return apptest.CSRF(t, r.Body)
}

// expectSignInRedirect fails unless r sends the browser to sign in.
func expectSignInRedirect(t testing.TB, r *apptest.Response, what string) {
	t.Helper()
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/admin/login" {
		t.Fatalf("%s: got %d to %q, want 303 to /admin/login\n%s", what, r.Status, r.Header.Get("Location"), r.Body)
	}
}

func expectHTML(t testing.TB, r *apptest.Response, status int, fragments ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("got %d, want %d\n%s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("Content-Type %q, want HTML\n%s", ct, r.Body)
	}
	for _, f := range fragments {
		if !strings.Contains(string(r.Body), f) {
			t.Errorf("page lacks %q\n%s", f, r.Body)
		}
	}
}

// loginUser logs a mini program user in and sets their profile.
func (p *panel) loginUser(t testing.TB, openid, unionid, nickname string) *apptest.Grant {
	t.Helper()
	code := p.WeChat.NewCode(wechatsim.Identity{OpenID: openid, UnionID: unionid})
	body := map[string]any{"code": code}
	if nickname != "" {
		body["nickname"] = nickname
	}
	return p.LoginWith(t, body)
}

// updateUser changes a user behind the API's back (fields the API
// validates or sets elsewhere).
func (p *panel) updateUser(t testing.TB, id int, fn func(*ent.UserUpdateOne)) {
	t.Helper()
	err := p.Server.DB.Writer.Do(context.Background(), func(ctx context.Context, tx *ent.Client) error {
		u := tx.User.UpdateOneID(id)
		fn(u)
		return u.Exec(ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
	// A write behind the service's back must tell the session cache.
	p.Server.Sessions.Cache.ForgetUser(id)
}

func wechatSimIdentity(openid string) wechatsim.Identity { return wechatsim.Identity{OpenID: openid} }
