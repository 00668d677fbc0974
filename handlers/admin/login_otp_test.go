package admin_test

import (
	"context"
	"encoding/base32"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/audit"
)

// enrollAdmin gives the test admin a second factor and returns its
// secret and recovery codes. The confirming code's step is spent.
func (p *panel) enrollAdmin(t testing.TB) ([]byte, []string) {
	t.Helper()
	svc := admins.New(p.Server.DB, p.Server.Keys)
	e, err := svc.BeginTOTP(context.Background(), adminName)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := svc.ConfirmTOTP(context.Background(), adminName, admins.TOTPCodeAt(e.Secret, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return e.Secret, codes
}

var pendingField = regexp.MustCompile(`name="pending" value="([^"]+)"`)

// passwordStep posts the right password and returns the pending token of
// the code form it must answer with.
func (p *panel) passwordStep(t testing.TB) string {
	t.Helper()
	r := p.form(t, "/admin/login", "", url.Values{"username": {adminName}, "password": {adminPassword}})
	expectHTML(t, r, http.StatusOK, `action="/admin/login/otp"`, `name="otp"`)
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "miniauth_admin" {
			t.Fatalf("the password alone set the session cookie")
		}
	}
	if strings.Contains(string(r.Body), adminPassword) {
		t.Fatal("the code form carries the password")
	}
	m := pendingField.FindSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no pending field:\n%s", r.Body)
	}
	return string(m[1])
}

func (p *panel) codeStep(t testing.TB, pending, code string) *apptest.Response {
	t.Helper()
	return p.form(t, "/admin/login/otp", "", url.Values{"pending": {pending}, "otp": {code}})
}

// nextCode is a code the server accepts and has not seen: the step after
// now (one step of drift is allowed), since enrolling spent now's step.
func nextCode(secret []byte, steps int) string {
	return admins.TOTPCodeAt(secret, time.Now().Add(time.Duration(steps)*admins.TOTPPeriod))
}

func TestTwoStepSignIn(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		secret, recovery := p.enrollAdmin(t)

		pending := p.passwordStep(t)
		expectHTML(t, p.codeStep(t, pending, "000000"), http.StatusUnauthorized, `action="/admin/login/otp"`, "wrong", pending)
		expectHTML(t, p.codeStep(t, pending, ""), http.StatusUnauthorized, `action="/admin/login/otp"`)
		code := nextCode(secret, 1)
		r := p.codeStep(t, pending, code)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/admin/" {
			t.Fatalf("right code: %d %s\n%s", r.Status, r.Header.Get("Location"), r.Body)
		}
		cookie := sessionCookie(t, r).Value
		expectHTML(t, p.get(t, "/admin/", cookie), http.StatusOK, `id="stat-total"`)

		// The same code again, even with a fresh password step: refused.
		expectHTML(t, p.codeStep(t, p.passwordStep(t), code), http.StatusUnauthorized, `action="/admin/login/otp"`)
		// A recovery code works once.
		pending = p.passwordStep(t)
		if r := p.codeStep(t, pending, recovery[0]); r.Status != http.StatusSeeOther {
			t.Fatalf("recovery code: %d\n%s", r.Status, r.Body)
		}
		expectHTML(t, p.codeStep(t, pending, recovery[0]), http.StatusUnauthorized)

		// A forged or altered pending token goes back to the password.
		for _, bad := range []string{"", "1.99999999999.forged", strings.Replace(pending, "1.", "2.", 1)} {
			expectHTML(t, p.codeStep(t, bad, nextCode(secret, 0)), http.StatusUnauthorized, `id="login-form"`)
		}
		// A cross-site post of the second step is refused before anything.
		r = p.Do(t, apptest.Request{Method: "POST", Path: "/admin/login/otp", NoType: true,
			Body:   url.Values{"pending": {pending}, "otp": {nextCode(secret, 0)}}.Encode(),
			Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"}})
		expectHTML(t, r, http.StatusForbidden)
		// The code is read from the body only.
		r = p.Do(t, apptest.Request{Method: "POST", Path: "/admin/login/otp?otp=" + nextCode(secret, 0) + "&pending=" + url.QueryEscape(pending),
			NoType: true, Body: "", Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
		if r.Status == http.StatusSeeOther {
			t.Error("a code in the query string signed in")
		}

		if n := len(p.auditEntries(t, audit.SecondFactorFail)); n < 3 {
			t.Errorf("%d second-factor failures audited, want at least 3", n)
		}
		if n := len(p.auditEntries(t, audit.SignIn)); n != 2 {
			t.Errorf("%d sign-ins audited, want 2", n)
		}
	})
}

// TestSecondStepThrottle: wrong codes count like wrong passwords, per
// admin, even when fifty arrive at once; then even the right code waits.
func TestSecondStepThrottle(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		secret, _ := p.enrollAdmin(t)
		pending := p.passwordStep(t)
		statuses := make(chan int, 50)
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() { defer wg.Done(); statuses <- p.codeStep(t, pending, "123456").Status }()
		}
		wg.Wait()
		close(statuses)
		count := map[int]int{}
		for s := range statuses {
			count[s]++
		}
		if count[http.StatusUnauthorized] != admins.DefaultFailuresPerUsername || count[http.StatusTooManyRequests] != 50-admins.DefaultFailuresPerUsername {
			t.Fatalf("50 wrong codes at once: %v, want %d checked (401) and the rest 429", count, admins.DefaultFailuresPerUsername)
		}
		r := p.codeStep(t, pending, nextCode(secret, 1))
		expectHTML(t, r, http.StatusTooManyRequests, `action="/admin/login/otp"`)
		if r.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		// The password step for that admin is throttled too.
		r = p.form(t, "/admin/login", "", url.Values{"username": {adminName}, "password": {adminPassword}})
		expectHTML(t, r, http.StatusTooManyRequests)
	})
}

func TestRequireTOTP(t *testing.T) {
	p := startPanel(t, apptest.Options{Env: map[string]string{"MINIAUTH_ADMIN_REQUIRE_TOTP": "1"}})
	r := p.form(t, "/admin/login", "", url.Values{"username": {adminName}, "password": {adminPassword}})
	expectHTML(t, r, http.StatusForbidden, "miniauth admin totp --username "+adminName)
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "miniauth_admin" {
			t.Fatal("an admin without a second factor got a session")
		}
	}
	// A wrong password still says only that.
	expectHTML(t, p.form(t, "/admin/login", "", url.Values{"username": {adminName}, "password": {"wrong password!"}}), http.StatusUnauthorized)
	secret, _ := p.enrollAdmin(t)
	if r := p.codeStep(t, p.passwordStep(t), nextCode(secret, 1)); r.Status != http.StatusSeeOther {
		t.Fatalf("enrolled admin: %d", r.Status)
	}
}

// TestAccountPageEnrollment enrolls and removes a second factor in the
// panel, as a browser would.
func TestAccountPageEnrollment(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		cookie := p.signIn(t)
		page := p.get(t, "/admin/account", cookie)
		expectHTML(t, page, http.StatusOK, `id="totp-start"`, "operator")
		token := csrf(t, page)
		expectHTML(t, p.form(t, "/admin/account/totp", cookie, url.Values{}), http.StatusForbidden)
		if r := p.form(t, "/admin/account/totp", cookie, url.Values{"csrf": {token}}); r.Status != http.StatusSeeOther {
			t.Fatalf("start: %d", r.Status)
		}
		page = p.get(t, "/admin/account", cookie)
		expectHTML(t, page, http.StatusOK, `<svg xmlns="http://www.w3.org/2000/svg"`, `id="totp-confirm-form"`)
		m := regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`).FindSubmatch(page.Body)
		if m == nil {
			t.Fatalf("no key shown:\n%s", page.Body)
		}
		secret, err := decodeSecret(string(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		expectHTML(t, p.form(t, "/admin/account/totp/confirm", cookie, url.Values{"csrf": {token}, "otp": {"000000"}}), http.StatusUnprocessableEntity, "wrong")
		r := p.form(t, "/admin/account/totp/confirm", cookie, url.Values{"csrf": {token}, "otp": {admins.TOTPCodeAt(secret, time.Now())}})
		expectHTML(t, r, http.StatusOK, `id="recovery-codes"`, "badge-ok")
		if n := len(regexp.MustCompile(`<li>[a-z2-9]{5}-[a-z2-9]{5}</li>`).FindAll(r.Body, -1)); n != 10 {
			t.Errorf("%d recovery codes shown", n)
		}
		// Shown once only.
		if strings.Contains(string(p.get(t, "/admin/account", cookie).Body), `id="recovery-codes"`) {
			t.Error("recovery codes shown again")
		}
		// Removal needs a current code.
		expectHTML(t, p.form(t, "/admin/account/totp/disable", cookie, url.Values{"csrf": {token}, "otp": {"000000"}}), http.StatusUnprocessableEntity)
		expectHTML(t, p.form(t, "/admin/account/totp/disable", cookie, url.Values{"csrf": {token}, "otp": {nextCode(secret, 1)}}), http.StatusOK, `id="totp-start"`)
		got := []string{}
		for _, a := range []string{audit.TOTPEnrolled, audit.SecondFactorFail, audit.TOTPRemoved} {
			got = append(got, a, strings.Repeat("x", len(p.auditEntries(t, a))))
		}
		if strings.Join(got, " ") != "totp_enrolled x second_factor_failed x totp_removed x" {
			t.Errorf("audit: %v", got)
		}
	})
}

func decodeSecret(s string) ([]byte, error) {
	return base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
}

// TestAccountPageCancelEnrollment: a started setup can be cancelled (with
// the CSRF token), after which the QR code stays away, also in a new
// session; cancelling never removes a confirmed second factor. The labels
// say what each step asks, and the recovery codes come with copy and
// download buttons.
func TestAccountPageCancelEnrollment(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		cookie := p.signIn(t)
		token := csrf(t, p.get(t, "/admin/account", cookie))
		p.form(t, "/admin/account/totp", cookie, url.Values{"csrf": {token}})
		page := p.get(t, "/admin/account", cookie)
		expectHTML(t, page, http.StatusOK, `id="totp-qr"`, `id="totp-cancel"`, "Step 2: the 6-digit code")
		if strings.Contains(string(page.Body), "recovery code") {
			t.Error("the setup asks for a recovery code before any exists")
		}
		expectHTML(t, p.form(t, "/admin/account/totp/cancel", cookie, url.Values{}), http.StatusForbidden)
		if r := p.form(t, "/admin/account/totp/cancel", cookie, url.Values{"csrf": {token}}); r.Status != http.StatusSeeOther {
			t.Fatalf("cancel: %d", r.Status)
		}
		for _, c := range []string{cookie, p.signIn(t)} {
			page = p.get(t, "/admin/account", c)
			expectHTML(t, page, http.StatusOK, `id="totp-start"`)
			if strings.Contains(string(page.Body), `id="totp-qr"`) {
				t.Fatal("the QR code came back after cancelling")
			}
		}
		// Enrol for real; a cancel then changes nothing.
		p.form(t, "/admin/account/totp", cookie, url.Values{"csrf": {token}})
		m := regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`).FindSubmatch(p.get(t, "/admin/account", cookie).Body)
		secret, err := decodeSecret(string(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		r := p.form(t, "/admin/account/totp/confirm", cookie, url.Values{"csrf": {token}, "otp": {admins.TOTPCodeAt(secret, time.Now())}})
		expectHTML(t, r, http.StatusOK, `id="recovery-copy"`, `id="recovery-download"`, `data-filename="miniauth-recovery-codes-`)
		p.form(t, "/admin/account/totp/cancel", cookie, url.Values{"csrf": {token}})
		expectHTML(t, p.get(t, "/admin/account", cookie), http.StatusOK, "badge-ok", `id="totp-disable-form"`)
	})
}
