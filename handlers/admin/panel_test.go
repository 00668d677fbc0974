package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/admin"
	"github.com/miniauth/miniauth/ent/auditentry"
	"github.com/miniauth/miniauth/ent/session"
)

const viewerName, viewerPassword = "support", "viewer password 123"

// signInAs signs another admin in and returns the cookie's value.
func (p *panel) signInAs(t testing.TB, name, password string) string {
	t.Helper()
	r := p.form(t, "/admin/login", "", url.Values{"username": {name}, "password": {password}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("sign in %s: %d\n%s", name, r.Status, r.Body)
	}
	return sessionCookie(t, r).Value
}

// getLang fetches a page with a language cookie and Accept-Language.
func (p *panel) getLang(t testing.TB, path, cookie, langCookie, accept string) *apptest.Response {
	t.Helper()
	h := map[string]string{}
	var cookies []string
	if cookie != "" {
		cookies = append(cookies, "miniauth_admin="+cookie)
	}
	if langCookie != "" {
		cookies = append(cookies, "lang="+langCookie)
	}
	if len(cookies) > 0 {
		h["Cookie"] = strings.Join(cookies, "; ")
	}
	if accept != "" {
		h["Accept-Language"] = accept
	}
	return p.Do(t, apptest.Request{Method: "GET", Path: path, Header: h})
}

// auditEntries are the entries with an action, oldest first.
func (p *panel) auditEntries(t testing.TB, action string) []*ent.AuditEntry {
	t.Helper()
	return p.Server.DB.Read.AuditEntry.Query().Where(auditentry.Action(action)).Order(auditentry.ByID()).AllX(context.Background())
}

func TestLanguages(t *testing.T) {
	p := startPanel(t, apptest.Options{})
	cookie := p.signIn(t)
	g := p.loginUser(t, "o-lang-openid-000000000001", "", "Lang")
	pages := []string{"/admin/", "/admin/users", fmt.Sprintf("/admin/users/%d", g.UserID()), "/admin/audit", "/admin/account", "/admin/nowhere"}
	for _, path := range pages {
		for _, tc := range []struct{ langCookie, accept, want, text string }{
			{"", "zh-CN,zh;q=0.9", "zh-CN", "退出登录"},
			{"", "zh-Hans", "zh-CN", "退出登录"},
			{"", "zh", "zh-CN", "退出登录"},
			{"", "en-US", "en", "Sign out"},
			{"", "", "en", "Sign out"},
			{"en", "zh-CN", "en", "Sign out"},
			{"zh-CN", "en", "zh-CN", "退出登录"},
		} {
			r := p.getLang(t, path, cookie, tc.langCookie, tc.accept)
			body := string(r.Body)
			if !strings.Contains(body, `<html lang="`+tc.want+`">`) || !strings.Contains(body, tc.text) || !strings.Contains(body, `id="lang-switch"`) {
				t.Errorf("%s with cookie %q, Accept-Language %q: want lang %s with %q and the switch\n%s", path, tc.langCookie, tc.accept, tc.want, tc.text, body)
			}
		}
	}
	// Signed out too: the sign-in page and its errors.
	expectHTML(t, p.getLang(t, "/admin/login", "", "", "zh-CN"), http.StatusOK, `<html lang="zh-CN">`, "登录管理后台", `href="/admin/lang?back=%2Fadmin%2Flogin&amp;to=en"`)
	r := p.Do(t, apptest.Request{Method: "POST", Path: "/admin/login", NoType: true, Body: url.Values{"username": {"x"}, "password": {"y"}}.Encode(),
		Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Accept-Language": "zh-CN"}})
	expectHTML(t, r, http.StatusUnauthorized, "用户名或密码错误")

	// The switch sets the cookie and comes back, only to panel paths.
	for back, want := range map[string]string{
		"/admin/users?q=a": "/admin/users?q=a", "https://evil.example/": "/admin/", "//evil.example": "/admin/",
		"/admin/../api/me": "/admin/", "/api/me": "/admin/", "": "/admin/", "/admin/lang?to=en": "/admin/",
	} {
		r := p.get(t, "/admin/lang?"+url.Values{"to": {"zh-CN"}, "back": {back}}.Encode(), "")
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != want {
			t.Errorf("switch back to %q: %d to %q, want %q", back, r.Status, r.Header.Get("Location"), want)
		}
		var c *http.Cookie
		for _, k := range (&http.Response{Header: r.Header}).Cookies() {
			if k.Name == "lang" {
				c = k
			}
		}
		if c == nil || c.Value != "zh-CN" || c.Path != "/admin" {
			t.Errorf("switch: lang cookie %+v", c)
		}
	}
	expectHTML(t, p.get(t, "/admin/lang?to=fr", ""), http.StatusBadRequest)

	// Chinese labels reach the data: genders, dates in the chart.
	zh := string(p.getLang(t, "/admin/", cookie, "zh-CN", "").Body)
	if !regexp.MustCompile(`\d+月\d+日`).MatchString(zh) || !strings.Contains(zh, "今日新增") {
		t.Errorf("Chinese dashboard lacks Chinese dates:\n%s", zh)
	}
}

func TestTimesShowTheZone(t *testing.T) {
	for zone, want := range map[string]string{"": "CST", "UTC": "UTC", "America/New_York": "ES"} {
		env := map[string]string{}
		if zone != "" {
			env["MINIAUTH_TIMEZONE"] = zone
		}
		p := startPanel(t, apptest.Options{Env: env})
		cookie := p.signIn(t)
		g := p.loginUser(t, "o-zone-openid-000000000001", "", "Zone")
		body := string(p.get(t, fmt.Sprintf("/admin/users/%d", g.UserID()), cookie).Body)
		if !regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d ` + want).MatchString(body) {
			t.Errorf("zone %q: user page times lack %q\n%s", zone, want, body)
		}
		if zone == "" {
			csvBody := string(p.get(t, "/admin/users.csv", cookie).Body)
			if !strings.Contains(csvBody, "+08:00") {
				t.Errorf("CSV times are not in Asia/Shanghai:\n%s", csvBody)
			}
			if !strings.Contains(body, "Asia/Shanghai") && !strings.Contains(string(p.get(t, "/admin/", cookie).Body), "Asia/Shanghai") {
				t.Errorf("the dashboard does not name the zone")
			}
		}
	}
}

func TestEndOneSession(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		cookie := p.signIn(t)
		first := p.loginUser(t, "o-end-openid-0000000000001", "", "Two Phones")
		second := p.loginUser(t, "o-end-openid-0000000000001", "", "")
		other := p.loginUser(t, "o-end-openid-0000000000002", "", "Other")
		id := first.UserID()
		ctx := context.Background()
		sids := p.Server.DB.Read.Session.Query().Where(session.UserID(id)).Order(ent.Asc(session.FieldID)).IDsX(ctx)
		otherSid := p.Server.DB.Read.Session.Query().Where(session.UserID(other.UserID())).OnlyIDX(ctx)
		path := fmt.Sprintf("/admin/users/%d", id)
		page := p.get(t, path, cookie)
		expectHTML(t, page, http.StatusOK, fmt.Sprintf(`action="%s/sessions/%d/revoke"`, path, sids[0]), "End session")
		token := csrf(t, page)
		revoke := func(sid int, csrfToken string) *apptest.Response {
			return p.form(t, fmt.Sprintf("%s/sessions/%d/revoke", path, sid), cookie, url.Values{"csrf": {csrfToken}})
		}
		expectHTML(t, revoke(sids[0], ""), http.StatusForbidden)
		expectHTML(t, revoke(otherSid, token), http.StatusNotFound)
		expectHTML(t, p.form(t, fmt.Sprintf("%s/sessions/x/revoke", path), cookie, url.Values{"csrf": {token}}), http.StatusNotFound)
		apptest.Expect(t, p.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: first.AccessToken}), http.StatusOK, "")

		// Twenty admins' clicks at once: one ends it, the others find it ended.
		statuses := make(chan int, 20)
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() { defer wg.Done(); statuses <- revoke(sids[0], token).Status }()
		}
		wg.Wait()
		close(statuses)
		count := map[int]int{}
		for s := range statuses {
			count[s]++
		}
		if count[http.StatusSeeOther] != 1 || count[http.StatusNotFound] != 19 {
			t.Fatalf("20 concurrent revokes: %v, want one 303 and 19 404", count)
		}
		// That session's tokens are dead at once; the other phone's live.
		apptest.Expect(t, p.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: first.AccessToken}), http.StatusUnauthorized, "unauthorized")
		apptest.Expect(t, p.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": first.RefreshToken}}),
			http.StatusUnauthorized, "unauthorized")
		apptest.Expect(t, p.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: second.AccessToken}), http.StatusOK, "")
		apptest.Expect(t, p.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: other.AccessToken}), http.StatusOK, "")

		// The page says why, in words, and lists the audit entry.
		body := string(p.get(t, path, cookie).Body)
		if !strings.Contains(body, "ended by an admin") || strings.Contains(body, "admin_revoked") {
			t.Errorf("revoke reason not in words:\n%s", body)
		}
		if !strings.Contains(body, `id="user-audit"`) || !strings.Contains(body, "ended a session") {
			t.Errorf("user page lacks its audit entry:\n%s", body)
		}
		zh := string(p.getLang(t, path, cookie, "zh-CN", "").Body)
		if !strings.Contains(zh, "被管理员强制下线") {
			t.Errorf("Chinese reason missing")
		}
		entries := p.auditEntries(t, audit.SessionEnded)
		if len(entries) != 1 || entries[0].Actor != adminName || entries[0].TargetUserID == nil || *entries[0].TargetUserID != id ||
			entries[0].Detail != fmt.Sprintf("session %d", sids[0]) || entries[0].IP == "" {
			t.Fatalf("audit entries: %+v", entries)
		}
	})
}

func TestReasonsInWords(t *testing.T) {
	p := startPanel(t, apptest.Options{})
	cookie := p.signIn(t)
	g := p.loginUser(t, "o-reason-openid-00000000001", "", "Reasons")
	p.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/logout", Token: g.AccessToken})
	g2 := p.loginUser(t, "o-reason-openid-00000000001", "", "")
	// Presenting a rotated refresh token again revokes the session.
	r := p.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": g2.RefreshToken}})
	apptest.Expect(t, r, http.StatusOK, "")
	p.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": g2.RefreshToken}})
	en := string(p.get(t, fmt.Sprintf("/admin/users/%d", g.UserID()), cookie).Body)
	zh := string(p.getLang(t, fmt.Sprintf("/admin/users/%d", g.UserID()), cookie, "zh-CN", "").Body)
	for _, want := range []string{"refresh token reused — possible theft", "logout"} {
		if !strings.Contains(en, want) {
			t.Errorf("English page lacks %q", want)
		}
	}
	for _, want := range []string{"登录凭证被重复使用", "用户主动退出"} {
		if !strings.Contains(zh, want) {
			t.Errorf("Chinese page lacks %q", want)
		}
	}
	if strings.Contains(en, "refresh_token_reuse") {
		t.Error("raw reason code shown")
	}
}

func TestAuditLog(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		p.form(t, "/admin/login", "", url.Values{"username": {adminName}, "password": {"not the password"}})
		cookie := p.signIn(t)
		g := p.loginUser(t, "o-audit-openid-0000000001", "", "Audited")
		path := fmt.Sprintf("/admin/users/%d", g.UserID())
		token := csrf(t, p.get(t, path, cookie))
		p.form(t, path+"/disable", cookie, url.Values{"csrf": {token}})
		p.form(t, path+"/enable", cookie, url.Values{"csrf": {token}})
		p.get(t, "/admin/users.csv?q=Aud", cookie)

		r := p.get(t, "/admin/audit", cookie)
		expectHTML(t, r, http.StatusOK, `id="audit-table"`, "sign-in failed", "signed in", "disabled a user", "enabled a user", "exported CSV", "search: Aud")
		if strings.Contains(string(r.Body), "not the password") {
			t.Fatal("a tried password is in the audit log")
		}
		failed := p.auditEntries(t, audit.SignInFailed)
		if len(failed) != 1 || failed[0].Actor != adminName || failed[0].AdminID != nil {
			t.Fatalf("failed sign-in entry: %+v", failed)
		}
		// Filters.
		for query, want := range map[string][]string{
			"?action=user_disabled":                        {"user_disabled"},
			"?user=" + fmt.Sprint(g.UserID()):              {"user_enabled", "user_disabled"},
			"?admin=" + adminName + "&action=csv_exported": {"csv_exported"},
			"?admin=nobody":                                {},
			"?from=2000-01-01&to=2000-01-02":               {},
		} {
			body := string(p.get(t, "/admin/audit"+query, cookie).Body)
			got := regexp.MustCompile(`data-action="([a-z_]+)"`).FindAllStringSubmatch(body, -1)
			var actions []string
			for _, m := range got {
				actions = append(actions, m[1])
			}
			if fmt.Sprint(actions) != fmt.Sprint(want) {
				t.Errorf("audit%s: %v, want %v", query, actions, want)
			}
		}
		// Nonsense filters are ignored, not errors.
		expectHTML(t, p.get(t, "/admin/audit?user=abc&from=yesterday&action=drop+table&page=-5", cookie), http.StatusOK, `id="audit-table"`)
		// Paging: 120 entries more make three pages of 50.
		l := audit.New(p.Server.DB)
		for i := range 120 {
			if err := l.Record(context.Background(), audit.Entry{Actor: "bulk", Action: audit.SignInFailed, Detail: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		r = p.get(t, "/admin/audit?admin=bulk", cookie)
		expectHTML(t, r, http.StatusOK, `href="/admin/audit?admin=bulk&amp;page=2"`)
		r = p.get(t, "/admin/audit?admin=bulk&page=3", cookie)
		if n := strings.Count(string(r.Body), `data-action=`); n != 20 || strings.Contains(string(r.Body), `id="audit-next"`) {
			t.Errorf("page 3: %d rows", n)
		}
		// No route edits or deletes entries.
		for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
			r := p.Do(t, apptest.Request{Method: m, Path: "/admin/audit", Body: url.Values{"csrf": {token}}.Encode(), NoType: true,
				Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": "miniauth_admin=" + cookie}})
			if r.Status < 400 {
				t.Errorf("%s /admin/audit: %d", m, r.Status)
			}
		}
		expectSignInRedirect(t, p.get(t, "/admin/audit", ""), "audit without a session")
	})
}

func TestViewerCannotChangeAnything(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		if _, err := admins.New(p.Server.DB, p.Server.Keys).CreateWithRole(context.Background(), viewerName, viewerPassword, admin.RoleViewer); err != nil {
			t.Fatal(err)
		}
		cookie := p.signInAs(t, viewerName, viewerPassword)
		g := p.loginUser(t, "o-viewer-openid-0000000001", "", "Protected")
		sid := p.Server.DB.Read.Session.Query().Where(session.UserID(g.UserID())).OnlyIDX(context.Background())
		path := fmt.Sprintf("/admin/users/%d", g.UserID())
		page := p.get(t, path, cookie)
		expectHTML(t, page, http.StatusOK, "Protected", "viewer")
		for _, hidden := range []string{`id="disable-user"`, `id="enable-user"`, "/revoke"} {
			if strings.Contains(string(page.Body), hidden) {
				t.Errorf("viewer's user page shows %s", hidden)
			}
		}
		if users := p.get(t, "/admin/users", cookie); strings.Contains(string(users.Body), `id="export-csv"`) {
			t.Error("viewer sees the export button")
		}
		token := csrf(t, page)
		// Many at once: every one refused and audited.
		var wg sync.WaitGroup
		results := make(chan *apptest.Response, 40)
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch i % 4 {
				case 0:
					results <- p.form(t, path+"/disable", cookie, url.Values{"csrf": {token}})
				case 1:
					results <- p.form(t, path+"/enable", cookie, url.Values{"csrf": {token}})
				case 2:
					results <- p.form(t, fmt.Sprintf("%s/sessions/%d/revoke", path, sid), cookie, url.Values{"csrf": {token}})
				default:
					results <- p.get(t, "/admin/users.csv", cookie)
				}
			}()
		}
		wg.Wait()
		close(results)
		for r := range results {
			expectHTML(t, r, http.StatusForbidden, "viewer", `id="error-message"`)
		}
		apptest.Expect(t, p.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}), http.StatusOK, "")
		if n := len(p.auditEntries(t, audit.Forbidden)); n != 40 {
			t.Errorf("%d forbidden entries, want 40", n)
		}
		if n := len(p.auditEntries(t, audit.UserDisabled)) + len(p.auditEntries(t, audit.CSVExported)); n != 0 {
			t.Errorf("a viewer's action was recorded as done (%d)", n)
		}
		// The viewer still reads everything, and signs out.
		expectHTML(t, p.get(t, "/admin/audit", cookie), http.StatusOK, "refused (viewer)")
		// Made an operator, the same session can act at once.
		if err := admins.New(p.Server.DB, p.Server.Keys).SetRole(context.Background(), viewerName, admin.RoleOperator); err != nil {
			t.Fatal(err)
		}
		if r := p.form(t, path+"/disable", cookie, url.Values{"csrf": {token}}); r.Status != http.StatusSeeOther {
			t.Errorf("after promotion: %d", r.Status)
		}
	})
}
