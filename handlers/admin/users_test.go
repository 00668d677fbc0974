package admin_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/userlist"
	"github.com/miniauth/miniauth/ent"
)

func TestUsersTable(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		cookie := p.signIn(t)
		expectHTML(t, p.get(t, "/admin/users", cookie), http.StatusOK, `id="no-users"`, "No users yet")

		alice := p.loginUser(t, "o-alice-openid-0000000000001", "", "Alice Wang")
		p.loginUser(t, "o-alicia-openid-000000000002", "", "Alicia")
		bob := p.loginUser(t, "o-bob-openid-00000000000003", "", "Bob")
		evil := p.loginUser(t, "o-evil-openid-0000000000004", "", "<script>alert(1)</script>")
		p.updateUser(t, bob.UserID(), func(u *ent.UserUpdateOne) { u.SetPhone("13800138000").SetPhoneCountryCode("86") })
		p.updateUser(t, alice.UserID(), func(u *ent.UserUpdateOne) { u.SetAvatarURL("https://example.com/alice.png") })
		// Stored before validation existed, say: never rendered as a URL.
		p.updateUser(t, evil.UserID(), func(u *ent.UserUpdateOne) { u.SetAvatarURL("javascript:alert(1)") })

		r := p.get(t, "/admin/users", cookie)
		expectHTML(t, r, http.StatusOK, `id="users-table"`, "Alice Wang", "Alicia", "Bob", "o-bob-openid-00000000000003",
			"13800138000", `id="users-total">4<`, `src="https://example.com/alice.png"`,
			"&lt;script&gt;alert(1)&lt;/script&gt;")
		body := string(r.Body)
		if strings.Contains(body, "<script>alert(1)") || strings.Contains(body, "javascript:alert") {
			t.Fatalf("user input rendered unescaped:\n%s", body)
		}
		// Newest first by default.
		if strings.Index(body, "Bob") > strings.Index(body, "Alice Wang") {
			t.Error("default order is not newest first")
		}

		search := func(q string) string {
			t.Helper()
			r := p.get(t, "/admin/users?q="+url.QueryEscape(q), cookie)
			expectHTML(t, r, http.StatusOK)
			return string(r.Body)
		}
		if s := search("Ali"); !strings.Contains(s, "Alice Wang") || !strings.Contains(s, "Alicia") || strings.Contains(s, ">Bob<") {
			t.Errorf("nickname prefix search: %s", s)
		}
		if s := search("Alice"); !strings.Contains(s, "Alice Wang") || strings.Contains(s, "Alicia") {
			t.Error("prefix search matched more than the prefix")
		}
		if s := search("lice"); !strings.Contains(s, `id="no-users"`) {
			t.Error("a substring that is not a prefix matched")
		}
		if s := search("o-bob-openid-00000000000003"); !strings.Contains(s, ">Bob<") || strings.Contains(s, "Alice") {
			t.Error("exact openid search")
		}
		if s := search("o-bob-openid"); strings.Contains(s, ">Bob<") {
			t.Error("openid matched by prefix; only exact openids should match")
		}
		if s := search("13800138000"); !strings.Contains(s, ">Bob<") {
			t.Error("exact phone search")
		}

		// Sorting and paging, with the state in the URL.
		r = p.get(t, "/admin/users?sort=id&per_page=2", cookie)
		expectHTML(t, r, http.StatusOK, "Page 1 of 2", "sort=id", "per_page=2&amp;sort=id")
		body = string(r.Body)
		if !strings.Contains(body, "Alice Wang") || strings.Contains(body, ">Bob<") {
			t.Errorf("oldest-first first page of 2: %s", body)
		}
		r = p.get(t, "/admin/users?sort=id&per_page=2&page=2", cookie)
		expectHTML(t, r, http.StatusOK, "Page 2 of 2", ">Bob<")
		// Out-of-range and nonsense parameters fall back, never fail.
		for _, q := range []string{"page=99", "page=-1", "per_page=100000", "sort=password_hash", "per_page=x&page=y", "q=" + strings.Repeat("x", 1000)} {
			expectHTML(t, p.get(t, "/admin/users?"+q, cookie), http.StatusOK)
		}
	})
}

// A page number near the largest int shows an empty page under its own
// (clamped) number, not page 1 under a huge one, and never fails, on a
// search whose count is capped (the last page is unknown).
func TestHugePageNumber(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		ctx := context.Background()
		if err := userlist.Seed(ctx, p.Server.DB, userlist.CountCap+10, userlist.SeedOptions{}); err != nil {
			t.Fatal(err)
		}
		err := p.Server.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
			return tx.User.Update().SetNickname("x-user").Exec(ctx)
		})
		if err != nil {
			t.Fatal(err)
		}
		cookie := p.signIn(t)
		expectHTML(t, p.get(t, "/admin/users?q=x&sort=id", cookie), http.StatusOK, "Page 1", "10,000+", `href="/admin/users/1"`)
		for _, page := range []string{"9223372036854775807", "9223372036854775808", "99999999999999999999999", "4611686018427387904"} {
			r := p.get(t, "/admin/users?q=x&sort=id&page="+page, cookie)
			expectHTML(t, r, http.StatusOK, `id="no-users"`, "There are no users on page", "Back to page 1")
			body := string(r.Body)
			if strings.Contains(body, `href="/admin/users/1"`) || strings.Contains(body, "9,223,372,036,854,775,807") {
				t.Fatalf("page %s shows page 1 or an unclamped number:\n%s", page, body)
			}
		}
	})
}

func TestUserDetailDisableEnable(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		cookie := p.signIn(t)
		g := p.loginUser(t, "o-target-openid-00000000001", "union-target-1", "Target")
		id := g.UserID()
		path := fmt.Sprintf("/admin/users/%d", id)

		r := p.get(t, path, cookie)
		expectHTML(t, r, http.StatusOK, "o-target-openid-00000000001", "union-target-1", "Target",
			`id="sessions-table"`, `id="disable-user"`, "live", "stored (sealed)")
		token := csrf(t, r)

		// No or a wrong CSRF token: refused, nothing changes.
		expectHTML(t, p.form(t, path+"/disable", cookie, url.Values{}), http.StatusForbidden)
		expectHTML(t, p.form(t, path+"/disable", cookie, url.Values{"csrf": {token + "x"}}), http.StatusForbidden)
		if r := p.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}); r.Status != http.StatusOK {
			t.Fatalf("a refused disable had an effect: %d", r.Status)
		}
		// A cross-site form post is refused whatever it carries.
		r = p.Do(t, apptest.Request{Method: "POST", Path: path + "/disable", Body: url.Values{"csrf": {token}}.Encode(), NoType: true,
			Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": "miniauth_admin=" + cookie, "Sec-Fetch-Site": "cross-site"}})
		expectHTML(t, r, http.StatusForbidden)

		// The notice cannot be spoofed through the URL.
		r = p.get(t, path+"?done=disabled", cookie)
		expectHTML(t, r, http.StatusOK, `id="disable-user"`)
		if strings.Contains(string(r.Body), `id="notice"`) || strings.Contains(string(r.Body), "User disabled") {
			t.Fatalf("?done=disabled shows a notice for an active user:\n%s", r.Body)
		}
		// Nor through a flash cookie that is not true of the user.
		r = p.Do(t, apptest.Request{Method: "GET", Path: path, Header: map[string]string{"Cookie": "miniauth_admin=" + cookie + "; miniauth_flash=disabled"}})
		if strings.Contains(string(r.Body), `id="notice"`) {
			t.Fatalf("a forged flash cookie shows a notice for an active user:\n%s", r.Body)
		}

		r = p.form(t, path+"/disable", cookie, url.Values{"csrf": {token}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != path {
			t.Fatalf("disable: %d to %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
		}
		flash := flashCookie(t, r)
		if flash.Path != path || !flash.HttpOnly || flash.SameSite != http.SameSiteStrictMode || flash.MaxAge <= 0 {
			t.Fatalf("flash cookie attributes: %+v", flash)
		}
		// Every session dies at once, and logins are refused.
		apptest.Expect(t, p.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}), http.StatusUnauthorized, "unauthorized")
		apptest.Expect(t, p.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": g.RefreshToken}}),
			http.StatusUnauthorized, "unauthorized")
		code := p.WeChat.NewCode(wechatSimIdentity("o-target-openid-00000000001"))
		apptest.Expect(t, p.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/login", Body: map[string]any{"code": code}}),
			http.StatusForbidden, "user_disabled")
		// The page the action redirects to shows the notice once, and clears it.
		r = p.Do(t, apptest.Request{Method: "GET", Path: path, Header: map[string]string{"Cookie": "miniauth_admin=" + cookie + "; miniauth_flash=" + flash.Value}})
		expectHTML(t, r, http.StatusOK, "Disabled", `id="enable-user`, "user_disabled", `id="notice"`, "User disabled")
		if cleared := flashCookie(t, r); cleared.Value != "" || cleared.Path != path {
			t.Fatalf("the flash cookie was not cleared: %+v", cleared)
		}
		if r := p.get(t, path, cookie); strings.Contains(string(r.Body), `id="notice"`) {
			t.Fatal("the notice shows again without its cookie")
		}
		expectHTML(t, p.get(t, "/admin/users", cookie), http.StatusOK, "badge-danger")

		r = p.form(t, path+"/enable", cookie, url.Values{"csrf": {token}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("enable: %d", r.Status)
		}
		p.loginUser(t, "o-target-openid-00000000001", "", "")

		expectHTML(t, p.form(t, "/admin/users/999999/disable", cookie, url.Values{"csrf": {token}}), http.StatusNotFound)
		expectHTML(t, p.form(t, "/admin/users/0/disable", cookie, url.Values{"csrf": {token}}), http.StatusNotFound)
	})
}

// flashCookie is the notice cookie r sets (or clears).
func flashCookie(t testing.TB, r *apptest.Response) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "miniauth_flash" {
			return c
		}
	}
	t.Fatalf("no miniauth_flash cookie in %v", r.Header.Values("Set-Cookie"))
	return nil
}

func TestCSVExport(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		testCSVExport(t, p)
	})
}

// hiddenTriggers are nicknames whose formula trigger hides behind an
// invisible character or comes in its full-width form.
var hiddenTriggers = []string{"\u200b=1+2", "\ufeff=1+2", "\u00ad+1", "\u2060@SUM(A1)", "\u200e\u200b-3", "＝1+2", "＋1", "－1", "＠SUM(A1)",
	"\u200b＝HYPERLINK(\"http://evil\")", "\n=1+2"}

func testCSVExport(t *testing.T, p *panel) {
	cookie := p.signIn(t)
	var ids []int
	for i, nick := range []string{"=HYPERLINK(\"http://evil\")", "+1+1", "-2", "@SUM(A1)", "Plain, \"quoted\"", "Zed"} {
		g := p.loginUser(t, fmt.Sprintf("o-csv-openid-%014d", i), "", nick)
		ids = append(ids, g.UserID())
	}
	p.updateUser(t, ids[5], func(u *ent.UserUpdateOne) { u.SetPhone("=1+2") })
	// Stored behind the API's back: the guard must not depend on what the
	// API lets through.
	hidden := map[int]string{}
	for i, nick := range hiddenTriggers {
		g := p.loginUser(t, fmt.Sprintf("o-csv-hidden-%014d", i), "", "")
		p.updateUser(t, g.UserID(), func(u *ent.UserUpdateOne) { u.SetNickname(nick) })
		hidden[g.UserID()] = nick
	}
	// Harmless text with invisible characters is left alone.
	plain := p.loginUser(t, "o-csv-plain-00000000000001", "", "")
	p.updateUser(t, plain.UserID(), func(u *ent.UserUpdateOne) { u.SetNickname("\u200b微信用户") })

	r := p.get(t, "/admin/users.csv", cookie)
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") ||
		!strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("export: %d %q %q", r.Status, r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"))
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(r.Body, []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, r.Body)
	}
	if want := 1 + 6 + len(hiddenTriggers) + 1; len(rows) != want || rows[0][0] != "id" || rows[0][1] != "openid" || rows[0][3] != "nickname" {
		t.Fatalf("want %d rows with the header, got %d: %q", want, len(rows), rows)
	}
	wantNick := []string{"'=HYPERLINK(\"http://evil\")", "'+1+1", "'-2", "'@SUM(A1)", "Plain, \"quoted\"", "Zed"}
	for i, row := range rows[1:7] {
		if row[0] != fmt.Sprint(ids[i]) || row[3] != wantNick[i] {
			t.Errorf("row %d: id %s nickname %q, want %d %q", i, row[0], row[3], ids[i], wantNick[i])
		}
		for j, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("row %d column %s starts with a formula character: %q", i, rows[0][j], cell)
			}
		}
	}
	if rows[6][6] != "'=1+2" {
		t.Errorf("phone cell %q not neutralised", rows[6][6])
	}
	for _, row := range rows[7:] {
		id, _ := strconv.Atoi(row[0])
		nick, isHidden := hidden[id]
		switch {
		case isHidden && row[3] != "'"+nick:
			t.Errorf("user %d: nickname cell %q, want %q", id, row[3], "'"+nick)
		case !isHidden && row[3] != "\u200b微信用户":
			t.Errorf("user %d: harmless nickname changed to %q", id, row[3])
		}
	}
	// The export follows the search.
	r = p.get(t, "/admin/users.csv?q=Ze", cookie)
	rows, _ = csv.NewReader(bytes.NewReader(bytes.TrimPrefix(r.Body, []byte("\ufeff")))).ReadAll()
	if len(rows) != 2 || rows[1][3] != "Zed" {
		t.Fatalf("filtered export: %q", rows)
	}
	expectSignInRedirect(t, p.get(t, "/admin/users.csv", ""), "export without a session")
}

func TestSignInRateLimit(t *testing.T) {
	// Trust loopback as a proxy so that X-Forwarded-For stands for other
	// client addresses.
	p := startPanel(t, apptest.Options{Env: map[string]string{"MINIAUTH_TRUSTED_PROXIES": "127.0.0.1/32,::1/128"}})
	from := func(ip string, user, pass string) *apptest.Response {
		return p.Do(t, apptest.Request{Method: "POST", Path: "/admin/login", NoType: true,
			Body:   url.Values{"username": {user}, "password": {pass}}.Encode(),
			Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": ip}})
	}
	// Normal use: successful sign-ins never count.
	for i := 0; i < 8; i++ {
		if r := from("192.0.2.10", adminName, adminPassword); r.Status != http.StatusSeeOther {
			t.Fatalf("sign-in %d: %d", i, r.Status)
		}
	}
	// A guesser on one username, from changing addresses, gets 401s, then 429s.
	statuses := []int{}
	for i := 0; i < 7; i++ {
		statuses = append(statuses, from(fmt.Sprintf("198.51.100.%d", i), adminName, "guess number "+fmt.Sprint(i)).Status)
	}
	want := []int{401, 401, 401, 401, 401, 429, 429}
	if fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Fatalf("brute force statuses %v, want %v", statuses, want)
	}
	r := from("203.0.113.9", adminName, adminPassword)
	expectHTML(t, r, http.StatusTooManyRequests, "Too many failed sign-ins")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// Another admin name from an address that did nothing wrong is not affected.
	if r := from("203.0.113.10", "someone-else", "wrong password here"); r.Status != http.StatusUnauthorized {
		t.Fatalf("unrelated sign-in: %d", r.Status)
	}
}
