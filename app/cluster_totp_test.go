package app_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/keys"
)

// Two instances sharing PostgreSQL (and the secret) are one service for
// the second factor: the password step on one and the code on the other
// sign in, a code used on one is refused on the other, and both show the
// same audit log.
func TestClusterTwoStepSignInAndAudit(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	db := apptest.OpenDB(t, c.dbURL)
	ks, err := keys.Load(strings.Repeat("s", 48), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := admins.New(db, ks)
	const name, password = "ops", "correct horse battery staple"
	if _, err := svc.Create(ctx, name, password); err != nil {
		t.Fatal(err)
	}
	e, err := svc.BeginTOTP(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	recovery, err := svc.ConfirmTOTP(ctx, name, admins.TOTPCodeAt(e.Secret, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(base, path string, form url.Values, cookie string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	pendingOf := func(body string) string {
		m := regexp.MustCompile(`name="pending" value="([^"]+)"`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no code form:\n%s", body)
		}
		return m[1]
	}
	// browserOf is the cookie the password step left in the browser.
	browserOf := func(resp *http.Response) string {
		for _, k := range resp.Cookies() {
			if k.Name == "miniauth_pending" {
				return k.Name + "=" + k.Value
			}
		}
		t.Fatal("the password step set no pending cookie")
		return ""
	}
	step1, body := post(c.a.URL, "/admin/login", url.Values{"username": {name}, "password": {password}}, "")
	browser, pending := browserOf(step1), pendingOf(body)
	code := admins.TOTPCodeAt(e.Secret, time.Now().Add(admins.TOTPPeriod))
	resp, _ := post(c.b.URL, "/admin/login/otp", url.Values{"pending": {pending}, "otp": {code}}, browser)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("code on B after the password on A: %d", resp.StatusCode)
	}
	// The pending step is single-use across instances: spent on B, it
	// goes back to the password on A even with a good code.
	if resp, body := post(c.a.URL, "/admin/login/otp", url.Values{"pending": {pending}, "otp": {recovery[0]}}, browser); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `id="login-form"`) {
		t.Fatalf("pending step replayed on A: %d", resp.StatusCode)
	}
	var cookie string
	for _, k := range resp.Cookies() {
		if k.Name == "miniauth_admin" {
			cookie = k.Value
		}
	}
	step1, body = post(c.b.URL, "/admin/login", url.Values{"username": {name}, "password": {password}}, "")
	if resp, _ := post(c.a.URL, "/admin/login/otp", url.Values{"pending": {pendingOf(body)}, "otp": {code}}, browserOf(step1)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the code used on B, replayed on A: %d, want 401", resp.StatusCode)
	}
	for _, inst := range []*apptest.Env{c.a, c.b} {
		req, _ := http.NewRequest("GET", inst.URL+"/admin/audit?admin="+name, nil)
		req.Header.Set("Cookie", "miniauth_admin="+cookie)
		r, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		for _, action := range []string{`data-action="sign_in"`, `data-action="second_factor_failed"`} {
			if !strings.Contains(string(b), action) {
				t.Errorf("%s: audit page lacks %s", inst.URL, action)
			}
		}
	}
}
