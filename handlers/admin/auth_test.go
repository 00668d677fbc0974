package admin_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/handlers/admin"
)

func TestSignInPageAndRedirects(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		r := p.get(t, "/admin/login", "")
		expectHTML(t, r, http.StatusOK, `name="username"`, `name="password"`, `action="/admin/login"`, `method="post"`)

		for _, path := range []string{"/admin", "/admin/", "/admin/users", "/admin/users?q=x", "/admin/users/1", "/admin/users.csv", "/admin/no-such-page"} {
			expectSignInRedirect(t, p.get(t, path, ""), "GET "+path)
		}
		for _, path := range []string{"/admin/users/1/disable", "/admin/users/1/enable", "/admin/logout"} {
			expectSignInRedirect(t, p.form(t, path, "", url.Values{}), "POST "+path)
		}
		// A forged or foreign cookie is no better than none.
		expectSignInRedirect(t, p.get(t, "/admin/", "not-a-jwt"), "garbage cookie")
	})
}

func TestSignIn(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		for _, c := range []struct{ name, user, pass string }{
			{"wrong password", adminName, "not the password"},
			{"unknown username", "nobody", adminPassword},
			{"empty form", "", ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := p.form(t, "/admin/login", "", url.Values{"username": {c.user}, "password": {c.pass}})
				expectHTML(t, r, http.StatusUnauthorized, "Wrong username or password", `name="password"`)
				if strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), ";"), admin.CookieName+"=ey") {
					t.Fatal("a failed sign-in set a session cookie")
				}
			})
		}

		r := p.form(t, "/admin/login", "", url.Values{"username": {" Operator "}, "password": {adminPassword}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/admin/" {
			t.Fatalf("sign in: %d to %q", r.Status, r.Header.Get("Location"))
		}
		c := sessionCookie(t, r)
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/admin" || c.Secure {
			t.Fatalf("cookie attributes: %+v (want HttpOnly, SameSite=Strict, Path=/admin, not Secure outside production)", c)
		}
		expectHTML(t, p.get(t, "/admin/", c.Value), http.StatusOK, "Dashboard", `id="stat-total"`, `id="signup-chart"`, adminName)
		if strings.Contains(p.Logs.String(), adminPassword) || strings.Contains(p.Logs.String(), c.Value) {
			t.Fatal("the log holds the password or the session token")
		}
	})
}

// Sign-in and every other admin form post are refused when the browser
// says they come from another origin: Sec-Fetch-Site, or the Origin, or
// without it the Referer. Same-origin posts and clients that send none
// of them (curl, scripts) are served.
func TestCrossOriginPostsRefused(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		self := p.URL // http://127.0.0.1:port
		signIn := func(h map[string]string) *apptest.Response {
			h["Content-Type"] = "application/x-www-form-urlencoded"
			return p.Do(t, apptest.Request{Method: "POST", Path: "/admin/login", NoType: true, Header: h,
				Body: url.Values{"username": {adminName}, "password": {adminPassword}}.Encode()})
		}
		refused := []map[string]string{
			{"Origin": "https://evil.example"},
			{"Origin": "null"},
			{"Origin": "http://127.0.0.1:1"},
			{"Origin": "http://127.0.0.1"},
			{"Referer": "https://evil.example/login.html"},
			{"Referer": "not a url"},
			{"Sec-Fetch-Site": "cross-site"},
			{"Sec-Fetch-Site": "same-site"},
			{"Sec-Fetch-Site": "same-origin", "Origin": "https://evil.example"},
			{"Origin": "https://evil.example", "Referer": self + "/admin/login"},
		}
		for _, h := range refused {
			r := signIn(h)
			expectHTML(t, r, http.StatusForbidden)
			if strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), ";"), admin.CookieName+"=ey") {
				t.Fatalf("%v: signed in", h)
			}
		}
		// A hundred forged sign-ins at once: every one refused.
		var wg sync.WaitGroup
		var mu sync.Mutex
		statuses := map[int]int{}
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func(h map[string]string) {
				defer wg.Done()
				r := signIn(h)
				mu.Lock()
				statuses[r.Status]++
				mu.Unlock()
			}(map[string]string{"Origin": "https://evil.example"})
		}
		wg.Wait()
		if statuses[http.StatusForbidden] != 100 {
			t.Fatalf("100 concurrent cross-origin sign-ins: %v, want all 403", statuses)
		}
		for _, h := range []map[string]string{
			{"Origin": self, "Sec-Fetch-Site": "same-origin"},
			{"Origin": strings.ToUpper(self)},
			{"Referer": self + "/admin/login"},
			{"Sec-Fetch-Site": "none"},
			{},
		} {
			if r := signIn(h); r.Status != http.StatusSeeOther {
				t.Fatalf("%v: same-origin sign-in got %d", h, r.Status)
			}
		}
		// Other forms too: a cross-origin logout with a valid token is refused.
		cookie := p.signIn(t)
		token := csrf(t, p.get(t, "/admin/", cookie))
		r := p.Do(t, apptest.Request{Method: "POST", Path: "/admin/logout", NoType: true, Body: url.Values{"csrf": {token}}.Encode(),
			Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": admin.CookieName + "=" + cookie, "Origin": "https://evil.example"}})
		expectHTML(t, r, http.StatusForbidden)
		expectHTML(t, p.get(t, "/admin/", cookie), http.StatusOK)
	})
}

// The CSRF token, the username and the password are read from the form
// body only, never from the URL, where they would reach logs and history.
func TestFormFieldsFromBodyOnly(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		cookie := p.signIn(t)
		token := csrf(t, p.get(t, "/admin/", cookie))
		q := "?" + url.Values{"csrf": {token}}.Encode()
		expectHTML(t, p.form(t, "/admin/logout"+q, cookie, url.Values{}), http.StatusForbidden)
		expectHTML(t, p.get(t, "/admin/", cookie), http.StatusOK) // still signed in
		r := p.form(t, "/admin/login?"+url.Values{"username": {adminName}, "password": {adminPassword}}.Encode(), "", url.Values{})
		expectHTML(t, r, http.StatusUnauthorized, "Wrong username or password")
		// A token in both places: the body's counts.
		r = p.form(t, "/admin/logout?csrf=forged", cookie, url.Values{"csrf": {token}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("logout with the token in the body: %d", r.Status)
		}
	})
}

func TestSecureCookieInProduction(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t), Env: map[string]string{"MINIAUTH_ENV": "production"}})
		r := p.form(t, "/admin/login", "", url.Values{"username": {adminName}, "password": {adminPassword}})
		if c := sessionCookie(t, r); !c.Secure {
			t.Fatalf("production cookie is not Secure: %+v", c)
		}
	})
}

func TestLogout(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		cookie := p.signIn(t)
		page := p.get(t, "/admin/", cookie)
		token := csrf(t, page)

		expectHTML(t, p.form(t, "/admin/logout", cookie, url.Values{}), http.StatusForbidden)
		expectHTML(t, p.form(t, "/admin/logout", cookie, url.Values{"csrf": {"forged"}}), http.StatusForbidden)
		expectHTML(t, p.get(t, "/admin/", cookie), http.StatusOK) // still signed in

		r := p.form(t, "/admin/logout", cookie, url.Values{"csrf": {token}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/admin/login" {
			t.Fatalf("logout: %d to %q", r.Status, r.Header.Get("Location"))
		}
		// The JWT is still well signed and unexpired, but its session is gone.
		expectSignInRedirect(t, p.get(t, "/admin/", cookie), "cookie after logout")
	})
}

func TestTokensDoNotCross(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		g := p.loginUser(t, "o-cross-user", "", "Crosser")
		cookie := p.signIn(t)

		// A user's access token opens no admin page, as a header or a cookie.
		r := p.Do(t, apptest.Request{Method: "GET", Path: "/admin/users", Token: g.AccessToken})
		expectSignInRedirect(t, r, "user token as bearer")
		expectSignInRedirect(t, p.get(t, "/admin/users", g.AccessToken), "user token as admin cookie")
		// Even signed with the admin key, a token of the user kind is refused.
		s := &tokens.Signer{Kind: tokens.Access, Key: p.Server.Keys.AdminToken, TTL: 3600e9}
		forged, _, err := s.Sign(1, 1, "")
		if err != nil {
			t.Fatal(err)
		}
		expectSignInRedirect(t, p.get(t, "/admin/users", forged), "access-kind token under the admin key")

		// The admin cookie opens no API route, as a cookie or a bearer token.
		r = p.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Header: map[string]string{"Cookie": admin.CookieName + "=" + cookie}})
		apptest.Expect(t, r, http.StatusUnauthorized, "unauthorized")
		r = p.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: cookie})
		apptest.Expect(t, r, http.StatusUnauthorized, "unauthorized")
		// And the user token still works where it belongs.
		r = p.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken})
		if r.Status != http.StatusOK {
			t.Fatalf("user token on /api/me: %d %s", r.Status, r.Body)
		}
	})
}

func TestSecurityHeadersAndErrorPages(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		cookie := p.signIn(t)
		pages := map[string]int{"/admin/login": 200, "/admin/": 200, "/admin/users": 200, "/admin/no-such-page": 404,
			"/admin/users/999999": 404, "/admin/users/abc": 404}
		for path, status := range pages {
			r := p.get(t, path, cookie)
			expectHTML(t, r, status)
			csp := r.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("%s: CSP %q", path, csp)
			}
			for h, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "same-origin", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
				if got := r.Header.Get(h); got != want {
					t.Errorf("%s: %s = %q, want %q", path, h, got, want)
				}
			}
			if strings.Contains(string(r.Body), `"error":`) {
				t.Errorf("%s answered JSON: %s", path, r.Body)
			}
			if strings.Contains(string(r.Body), "<script>") {
				t.Errorf("%s has an inline script", path)
			}
		}
		expectHTML(t, p.get(t, "/admin/no-such-page", cookie), 404, "Not Found")
		// Static files are served, and may be cached.
		r := p.get(t, "/admin/static/admin.css", "")
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") || r.Header.Get("Cache-Control") == "no-store" {
			t.Fatalf("stylesheet: %d %q %q", r.Status, r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"))
		}
		if r := p.get(t, "/admin/static/admin.js", ""); r.Status != 200 || !strings.Contains(r.Header.Get("Content-Type"), "javascript") {
			t.Fatalf("script: %d %q", r.Status, r.Header.Get("Content-Type"))
		}
		// The API keeps its JSON errors.
		apptest.Expect(t, p.Do(t, apptest.Request{Method: "GET", Path: "/api/nope"}), 404, "not_found")
	})
}

func TestServerErrorPage(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		cookie := p.signIn(t)
		// A database that stops answering makes every page fail.
		p.Server.DB.Read.Close()
		r := p.get(t, "/admin/users", cookie)
		expectHTML(t, r, http.StatusInternalServerError, "Internal Server Error", "The error was logged")
		if strings.Contains(string(r.Body), "database is closed") {
			t.Fatal("the error page shows the internal cause")
		}
		if !strings.Contains(p.Logs.String(), "admin panel error") {
			t.Fatal("the internal error was not logged")
		}
	})
}
