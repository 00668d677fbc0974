package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/ent/identity"
	"github.com/miniauth/miniauth/ent/identityconflict"
)

// Test apps of the other doors.
const (
	oaAppID     = "wxoa00000000000001"
	oaSecret    = "test-oa-secret-0123456789abcdef"
	mobileAppID = "wxapp0000000000001"
	mobileApp2  = "wxapp0000000000002"
	mobileKey   = "test-mobile-secret-0123456789ab"
	// The team's H5 pages, and the public URL the callback is built from.
	h5Prefix  = "https://h5.example.com/shop/"
	publicURL = "https://auth.example.com"
)

// startDoors runs miniauth with an Official Account and a mobile app
// configured, against the simulated WeChat (which also serves the
// authorize page).
func startDoors(t *testing.T, dbURL string, extra map[string]string) *apptest.Env {
	t.Helper()
	wx := apptest.NewWeChat(t)
	wx.AddApp(oaAppID, oaSecret)
	wx.AddApp(mobileAppID, mobileKey)
	env := map[string]string{
		"MINIAUTH_WECHAT_OA_APPS":     oaAppID + ":" + oaSecret,
		"MINIAUTH_WECHAT_MOBILE_APPS": mobileAppID + ":" + mobileKey,
		"MINIAUTH_WECHAT_OPEN_BASE":   wx.HTTP.URL,
		"MINIAUTH_PUBLIC_URL":         publicURL,
		"MINIAUTH_OA_RETURN_URLS":     h5Prefix + ", https://m.example.com/",
	}
	for k, v := range extra {
		env[k] = v
	}
	return apptest.Start(t, apptest.Options{DatabaseURL: dbURL, WeChat: wx, Env: env})
}

// browser is a web browser that follows redirects by hand, so each hop
// can be checked, and keeps its cookies (the Secure flag aside: the
// public URL is https, the test server http).
type browser struct {
	t       *testing.T
	http    *http.Client
	cookies map[string]string
}

func newBrowser(t *testing.T) *browser {
	return &browser{t: t, cookies: map[string]string{}, http: &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// get fetches a URL and answers its status and Location.
func (b *browser) get(u string) (int, string) {
	b.t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	var pairs []string
	for k, v := range b.cookies {
		pairs = append(pairs, k+"="+v)
	}
	if len(pairs) > 0 {
		req.Header.Set("Cookie", strings.Join(pairs, "; "))
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		b.cookies[c.Name] = c.Value
	}
	return resp.StatusCode, resp.Header.Get("Location")
}

// onServer maps a URL of the public host to the test server.
func onServer(e *apptest.Env, u string) string {
	return strings.Replace(u, publicURL, e.URL, 1)
}

// authorize starts a web authorization and answers WeChat's authorize URL.
func (b *browser) authorize(e *apptest.Env, scope, returnTo string) string {
	b.t.Helper()
	q := url.Values{"appid": {oaAppID}, "scope": {scope}, "return_to": {returnTo}}
	status, loc := b.get(e.URL + "/api/auth/oa/authorize?" + q.Encode())
	if status != http.StatusFound {
		b.t.Fatalf("authorize: %d, want 302", status)
	}
	return loc
}

// consent visits WeChat's authorize page (the simulator answers as
// queued) and answers the callback URL it sends the browser to.
func (b *browser) consent(authorizeURL string) string {
	b.t.Helper()
	status, loc := b.get(authorizeURL)
	if status != http.StatusFound || !strings.HasPrefix(loc, publicURL+"/api/auth/oa/callback?") {
		b.t.Fatalf("WeChat's page: %d %q", status, loc)
	}
	return loc
}

// fragment is the part after # of the URL the callback sends to.
func fragment(t *testing.T, loc, returnTo string) url.Values {
	t.Helper()
	base, frag, ok := strings.Cut(loc, "#")
	if !ok || base != returnTo {
		t.Fatalf("callback sent the browser to %q, want %s#…", loc, returnTo)
	}
	v, err := url.ParseQuery(frag)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// oaLogin walks the whole H5 flow for person and redeems the ticket.
func oaLogin(t *testing.T, e *apptest.Env, scope string, p wechatsim.OAuthPerson) *apptest.Grant {
	t.Helper()
	b := newBrowser(t)
	e.WeChat.QueueAuthorize(wechatsim.AuthorizeAnswer{Person: p})
	returnTo := h5Prefix + "index.html?from=menu"
	status, loc := b.get(onServer(e, b.consent(b.authorize(e, scope, returnTo))))
	if status != http.StatusFound {
		t.Fatalf("callback: %d", status)
	}
	ticket := fragment(t, loc, returnTo).Get("ticket")
	if ticket == "" {
		t.Fatalf("no ticket in %q", loc)
	}
	return redeem(t, e, ticket)
}

func redeem(t *testing.T, e *apptest.Env, ticket string) *apptest.Grant {
	t.Helper()
	r := e.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/ticket", Body: map[string]any{"ticket": ticket}})
	if r.Status != http.StatusOK {
		t.Fatalf("ticket: %d %s", r.Status, r.Body)
	}
	var g apptest.Grant
	if err := json.Unmarshal(r.Body, &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

func mobileLogin(t *testing.T, e *apptest.Env, p wechatsim.OAuthPerson) *apptest.Response {
	t.Helper()
	p.AppID = mobileAppID
	code := e.WeChat.NewOAuthCode(p)
	return e.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/app-login", Body: map[string]any{"code": code}})
}

func TestOAAuthorizeRedirectsToWeChat(t *testing.T) {
	e := startDoors(t, "", nil)
	b := newBrowser(t)
	loc := b.authorize(e, "snsapi_userinfo", h5Prefix+"index.html")
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	// WeChat's page checks the order of the parameters (WECHAT.md §6.1.2).
	want := e.WeChat.HTTP.URL + "/connect/oauth2/authorize?appid=" + oaAppID + "&redirect_uri=" +
		url.QueryEscape(publicURL+"/api/auth/oa/callback") + "&response_type=code&scope=snsapi_userinfo&state="
	if !strings.HasPrefix(loc, want) || u.Fragment != "wechat_redirect" {
		t.Fatalf("authorize URL %q, want %s…#wechat_redirect", loc, want)
	}
	state := u.Query().Get("state")
	if len(state) < 32 || len(state) > 128 || strings.Trim(state, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
		t.Fatalf("state %q: want ≥32 letters and digits", state)
	}
	if b.cookies["miniauth_oa"] == "" || strings.Contains(b.cookies["miniauth_oa"], state) {
		t.Fatalf("cookie %v: want a browser key of its own", b.cookies)
	}
	// A second authorization gets another state.
	if other := newBrowser(t).authorize(e, "snsapi_base", h5Prefix); strings.Contains(other, "state="+state) {
		t.Fatal("state reused")
	}
}

func TestOAAuthorizeRefusesBadInput(t *testing.T) {
	e := startDoors(t, "", nil)
	for _, tc := range []struct{ name, appid, scope, returnTo string }{
		{"other host", oaAppID, "snsapi_base", "https://evil.example.com/shop/"},
		{"host suffix", oaAppID, "snsapi_base", "https://h5.example.com.evil.com/shop/"},
		{"path prefix without boundary", oaAppID, "snsapi_base", "https://h5.example.com/shopping"},
		{"outside the path", oaAppID, "snsapi_base", "https://h5.example.com/admin"},
		{"dot dot", oaAppID, "snsapi_base", "https://h5.example.com/shop/../admin"},
		{"http instead of https", oaAppID, "snsapi_base", "http://h5.example.com/shop/"},
		{"credentials", oaAppID, "snsapi_base", "https://h5.example.com@evil.com/shop/"},
		{"scheme-relative", oaAppID, "snsapi_base", "//evil.com/shop/"},
		{"javascript", oaAppID, "snsapi_base", "javascript:alert(1)//h5.example.com/shop/"},
		{"backslash", oaAppID, "snsapi_base", "https://h5.example.com\\@evil.com/shop/"},
		{"fragment", oaAppID, "snsapi_base", "https://h5.example.com/shop/#ticket=x"},
		{"empty", oaAppID, "snsapi_base", ""},
		{"unknown appid", "wxnotours000000000", "snsapi_base", h5Prefix},
		{"odd appid", "wx'; drop", "snsapi_base", h5Prefix},
		{"bad scope", oaAppID, "snsapi_login", h5Prefix},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"appid": {tc.appid}, "scope": {tc.scope}, "return_to": {tc.returnTo}}
			r := e.Do(t, apptest.Request{Method: "GET", Path: "/api/auth/oa/authorize?" + q.Encode()})
			apptest.Expect(t, r, http.StatusBadRequest, "validation_failed")
			if r.Header.Get("Location") != "" || r.Header.Get("Set-Cookie") != "" {
				t.Fatalf("refused, yet Location %q Set-Cookie %q", r.Header.Get("Location"), r.Header.Get("Set-Cookie"))
			}
		})
	}
}

func TestOALogins(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, bk apptest.Backend) {
		e := startDoors(t, bk.URL(t), nil)

		// A silent login (snsapi_base): the openid only, a new user.
		g := oaLogin(t, e, "snsapi_base", wechatsim.OAuthPerson{OpenID: "oa-open-1", UnionID: "union-silent", Nickname: "ignored"})
		if !g.IsNewUser || g.User["nickname"] != "" || g.TokenType != "Bearer" || g.RefreshToken == "" {
			t.Fatalf("silent login: %+v", g)
		}
		me := e.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken})
		if me.Status != http.StatusOK {
			t.Fatalf("/api/me: %d", me.Status)
		}
		// The same person taps "log in" later (snsapi_userinfo): the same
		// user, whose empty profile fields WeChat's profile fills.
		g2 := oaLogin(t, e, "snsapi_userinfo", wechatsim.OAuthPerson{OpenID: "oa-open-1", UnionID: "union-silent",
			Nickname: "小明 🐼", HeadImgURL: "https://thirdwx.qlogo.cn/mmopen/abc/132", Sex: 1})
		if g2.IsNewUser || g2.UserID() != g.UserID() || g2.User["nickname"] != "小明 🐼" ||
			g2.User["avatar_url"] != "https://thirdwx.qlogo.cn/mmopen/abc/132" || g2.User["gender"] != float64(1) {
			t.Fatalf("userinfo login: %+v", g2.User)
		}
		// The session says which door it came through.
		r := e.Do(t, apptest.Request{Method: "GET", Path: "/api/me/sessions", Token: g2.AccessToken})
		var list struct {
			Sessions []struct {
				App string `json:"app"`
				Via string `json:"via"`
			} `json:"sessions"`
		}
		json.Unmarshal(r.Body, &list)
		if len(list.Sessions) != 2 || list.Sessions[0].Via != "oa" || list.Sessions[0].App != oaAppID {
			t.Fatalf("sessions: %s", r.Body)
		}
		ids, err := e.Server.DB.Read.Identity.Query().Where(identity.Appid(oaAppID)).All(context.Background())
		if err != nil || len(ids) != 1 || ids[0].Kind != "oa" || ids[0].SessionKey != nil && len(*ids[0].SessionKey) > 0 {
			t.Fatalf("identity: %+v %v", ids, err)
		}
	})
}

func TestOACallbackChecksStateFirst(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, bk apptest.Backend) {
		e := startDoors(t, bk.URL(t), nil)
		person := wechatsim.OAuthPerson{OpenID: "oa-victim"}
		start := func() (*browser, string) {
			b := newBrowser(t)
			e.WeChat.QueueAuthorize(wechatsim.AuthorizeAnswer{Person: person})
			return b, onServer(e, b.consent(b.authorize(e, "snsapi_base", h5Prefix)))
		}
		expect400 := func(b *browser, callback string) {
			t.Helper()
			if status, loc := b.get(callback); status != http.StatusBadRequest || loc != "" {
				t.Fatalf("callback: %d %q, want 400", status, loc)
			}
		}
		// No cookie: another browser (login CSRF) or a lost cookie.
		_, callback := start()
		expect400(newBrowser(t), callback)
		// A wrong cookie.
		impostor := newBrowser(t)
		impostor.cookies["miniauth_oa"] = "not-the-key"
		expect400(impostor, callback)
		// Another browser's key with this state.
		other, _ := start()
		expect400(other, callback)
		// No state, or an unknown one.
		b, cb := start()
		u, _ := url.Parse(cb)
		q := u.Query()
		q.Del("state")
		u.RawQuery = q.Encode()
		expect400(b, u.String())
		q.Set("state", "unknownstate0000000000000000000000")
		u.RawQuery = q.Encode()
		expect400(b, u.String())
		if n := e.WeChat.Calls(wechatsim.PathOAuthToken); n != 0 {
			t.Fatalf("%d codes exchanged for refused callbacks", n)
		}
		// The right browser goes through; its state is then used up: a
		// second callback with another code is refused.
		status, loc := b.get(cb)
		if status != http.StatusFound || fragment(t, loc, h5Prefix).Get("ticket") == "" {
			t.Fatalf("callback: %d %q", status, loc)
		}
		u, _ = url.Parse(cb)
		q = u.Query()
		q.Set("code", e.WeChat.NewOAuthCode(wechatsim.OAuthPerson{AppID: oaAppID, OpenID: "oa-attacker"}))
		u.RawQuery = q.Encode()
		expect400(b, u.String())
		if n := e.WeChat.Calls(wechatsim.PathOAuthToken); n != 1 {
			t.Fatalf("%d codes exchanged, want 1", n)
		}
	})
}

func TestOACallbackTwiceGivesTheFirstAnswer(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, bk apptest.Backend) {
		e := startDoors(t, bk.URL(t), nil)
		b := newBrowser(t)
		e.WeChat.QueueAuthorize(wechatsim.AuthorizeAnswer{Person: wechatsim.OAuthPerson{OpenID: "oa-twice"}})
		callback := onServer(e, b.consent(b.authorize(e, "snsapi_base", h5Prefix)))
		// WeChat calling the callback several times at once, and a refresh.
		const n = 10
		locs := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, locs[i] = b.get(callback)
			}()
		}
		wg.Wait()
		_, again := b.get(callback)
		for _, loc := range append(locs, again) {
			if loc != locs[0] || fragment(t, loc, h5Prefix).Get("ticket") == "" {
				t.Fatalf("answers differ or lack a ticket: %q vs %q", loc, locs[0])
			}
		}
		if c := e.WeChat.Calls(wechatsim.PathOAuthToken); c != 1 {
			t.Fatalf("code exchanged %d times", c)
		}
		redeem(t, e, fragment(t, locs[0], h5Prefix).Get("ticket"))
	})
}

func TestOASnapshotAndDeniedStoreNothing(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, bk apptest.Backend) {
		e := startDoors(t, bk.URL(t), nil)
		for _, tc := range []struct {
			answer wechatsim.AuthorizeAnswer
			want   string
		}{
			{wechatsim.AuthorizeAnswer{Person: wechatsim.OAuthPerson{OpenID: "virtual", UnionID: "u-virtual", Snapshot: true}}, "snapshot_user"},
			{wechatsim.AuthorizeAnswer{Deny: true}, "denied"},
		} {
			b := newBrowser(t)
			e.WeChat.QueueAuthorize(tc.answer)
			_, loc := b.get(onServer(e, b.consent(b.authorize(e, "snsapi_userinfo", h5Prefix+"p"))))
			if got := fragment(t, loc, h5Prefix+"p"); got.Get("error") != tc.want || got.Get("ticket") != "" {
				t.Fatalf("callback sent to %q, want #error=%s", loc, tc.want)
			}
		}
		ctx := context.Background()
		if n, _ := e.Server.DB.Read.User.Query().Count(ctx); n != 0 {
			t.Fatalf("%d users stored", n)
		}
		if n, _ := e.Server.DB.Read.Identity.Query().Count(ctx); n != 0 {
			t.Fatalf("%d identities stored", n)
		}
	})
}

func TestOATicketSingleUseAndShortLived(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, bk apptest.Backend) {
		clk := &clock.Shifted{}
		wx := apptest.NewWeChat(t)
		wx.AddApp(oaAppID, oaSecret)
		e := apptest.Start(t, apptest.Options{DatabaseURL: bk.URL(t), WeChat: wx, Clock: clk.Now, Env: map[string]string{
			"MINIAUTH_WECHAT_OA_APPS": oaAppID + ":" + oaSecret, "MINIAUTH_WECHAT_OPEN_BASE": wx.HTTP.URL,
			"MINIAUTH_PUBLIC_URL": publicURL, "MINIAUTH_OA_RETURN_URLS": h5Prefix,
		}})
		ticket := func(openid string) string {
			b := newBrowser(t)
			e.WeChat.QueueAuthorize(wechatsim.AuthorizeAnswer{Person: wechatsim.OAuthPerson{OpenID: openid}})
			_, loc := b.get(onServer(e, b.consent(b.authorize(e, "snsapi_base", h5Prefix))))
			return fragment(t, loc, h5Prefix).Get("ticket")
		}
		post := func(ticket any) *apptest.Response {
			return e.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/ticket", Body: map[string]any{"ticket": ticket}})
		}
		// Many pages redeeming one ticket at once: exactly one login.
		tk := ticket("oa-race")
		const n = 20
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() { defer wg.Done(); statuses[i] = post(tk).Status }()
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			if s == http.StatusOK {
				ok++
			} else if s != http.StatusUnauthorized {
				t.Fatalf("status %d", s)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d redemptions succeeded, want 1", ok, n)
		}
		apptest.Expect(t, post(tk), http.StatusUnauthorized, "invalid_code")
		// An unredeemed ticket dies after 60 s.
		late := ticket("oa-late")
		clk.Shift(61 * time.Second)
		apptest.Expect(t, post(late), http.StatusUnauthorized, "invalid_code")
		// Unknown, empty, wrong type.
		apptest.Expect(t, post("no-such-ticket"), http.StatusUnauthorized, "invalid_code")
		apptest.Expect(t, post(""), http.StatusBadRequest, "validation_failed")
		apptest.Expect(t, post(42), http.StatusBadRequest, "validation_failed")
		apptest.Expect(t, post(strings.Repeat("x", 5000)), http.StatusUnauthorized, "invalid_code")
		if n, _ := e.Server.DB.Read.Session.Query().Count(context.Background()); n != 1 {
			t.Fatalf("%d sessions, want 1", n)
		}
	})
}

func TestOAExpiredStateIsNotExchanged(t *testing.T) {
	clk := &clock.Shifted{}
	wx := apptest.NewWeChat(t)
	wx.AddApp(oaAppID, oaSecret)
	e := apptest.Start(t, apptest.Options{WeChat: wx, Clock: clk.Now, Env: map[string]string{
		"MINIAUTH_WECHAT_OA_APPS": oaAppID + ":" + oaSecret, "MINIAUTH_WECHAT_OPEN_BASE": wx.HTTP.URL,
		"MINIAUTH_PUBLIC_URL": publicURL, "MINIAUTH_OA_RETURN_URLS": h5Prefix,
	}})
	b := newBrowser(t)
	e.WeChat.QueueAuthorize(wechatsim.AuthorizeAnswer{Person: wechatsim.OAuthPerson{OpenID: "oa-slow"}})
	callback := onServer(e, b.consent(b.authorize(e, "snsapi_base", h5Prefix)))
	clk.Shift(11 * time.Minute)
	if _, loc := b.get(callback); fragment(t, loc, h5Prefix).Get("error") != "expired" {
		t.Fatalf("late callback sent to %q", loc)
	}
	if n := wx.Calls(wechatsim.PathOAuthToken); n != 0 {
		t.Fatalf("expired state: %d exchanges", n)
	}
}

func TestAppLogin(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, bk apptest.Backend) {
		e := startDoors(t, bk.URL(t), nil)
		r := mobileLogin(t, e, wechatsim.OAuthPerson{OpenID: "app-open-1", Nickname: "App 用户", HeadImgURL: "http://wx.qlogo.cn/x/0"})
		if r.Status != http.StatusOK {
			t.Fatalf("app login: %d %s", r.Status, r.Body)
		}
		m := r.JSON(t)
		u := m["user"].(map[string]any)
		// WeChat's http avatar is upgraded to https (its hosts serve both).
		if m["is_new_user"] != true || u["nickname"] != "App 用户" || u["avatar_url"] != "https://wx.qlogo.cn/x/0" {
			t.Fatalf("app login answer: %s", r.Body)
		}
		if strings.Contains(string(r.Body), "app-open-1") {
			t.Fatal("the openid leaked into the answer")
		}
		// A code works once, and only for its own app.
		code := e.WeChat.NewOAuthCode(wechatsim.OAuthPerson{AppID: mobileAppID, OpenID: "app-open-2"})
		post := func(body map[string]any) *apptest.Response {
			return e.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/app-login", Body: body})
		}
		if r := post(map[string]any{"code": code}); r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		apptest.Expect(t, post(map[string]any{"code": code}), http.StatusUnauthorized, "invalid_code")
		other := e.WeChat.NewOAuthCode(wechatsim.OAuthPerson{AppID: oaAppID, OpenID: "oa-x"})
		apptest.Expect(t, post(map[string]any{"code": other}), http.StatusUnauthorized, "invalid_code")
		// An appid that is not a mobile app is refused before WeChat is
		// called.
		calls := e.WeChat.Calls(wechatsim.PathOAuthToken)
		apptest.Expect(t, post(map[string]any{"code": "c", "appid": oaAppID}), http.StatusBadRequest, "validation_failed")
		apptest.Expect(t, post(map[string]any{"code": "c", "appid": apptest.AppID}), http.StatusBadRequest, "validation_failed")
		apptest.Expect(t, post(map[string]any{}), http.StatusBadRequest, "invalid_request")
		apptest.Expect(t, post(map[string]any{"code": "c", "secret": "x"}), http.StatusBadRequest, "invalid_request")
		if e.WeChat.Calls(wechatsim.PathOAuthToken) != calls {
			t.Fatal("WeChat called for a refused request")
		}
		// WeChat down.
		e.WeChat.Fail(wechatsim.PathOAuthToken, wechatsim.Failure{Status: 502, Body: "bad gateway"})
		apptest.Expect(t, post(map[string]any{"code": "any"}), http.StatusBadGateway, "wechat_unavailable")
	})
}

func TestAppLoginNeedsAppIDWithSeveralApps(t *testing.T) {
	wx := apptest.NewWeChat(t)
	wx.AddApp(mobileAppID, mobileKey)
	wx.AddApp(mobileApp2, mobileKey)
	e := apptest.Start(t, apptest.Options{WeChat: wx, Env: map[string]string{
		"MINIAUTH_WECHAT_MOBILE_APPS": mobileAppID + ":" + mobileKey + "," + mobileApp2 + ":" + mobileKey,
	}})
	code := wx.NewOAuthCode(wechatsim.OAuthPerson{AppID: mobileApp2, OpenID: "app2-open"})
	r := e.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/app-login", Body: map[string]any{"code": code}})
	apptest.Expect(t, r, http.StatusBadRequest, "validation_failed")
	r = e.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/app-login", Body: map[string]any{"code": code, "appid": mobileApp2}})
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
}

// TestOnePersonAcrossDoors: the same unionid through a mini program, an
// Official Account and a mobile app is one user; without it, separate
// users; a unionid another user already has is recorded, never merged.
func TestOnePersonAcrossDoors(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, bk apptest.Backend) {
		e := startDoors(t, bk.URL(t), nil)
		ctx := context.Background()
		mini := e.LoginWith(t, map[string]any{"code": e.WeChat.NewCode(wechatsim.Identity{OpenID: "mp-open", UnionID: "union-one"})})
		oa := oaLogin(t, e, "snsapi_userinfo", wechatsim.OAuthPerson{OpenID: "oa-open", UnionID: "union-one"})
		app := mobileLogin(t, e, wechatsim.OAuthPerson{OpenID: "app-open", UnionID: "union-one"})
		if oa.IsNewUser || oa.UserID() != mini.UserID() || app.Status != http.StatusOK ||
			app.JSON(t)["user"].(map[string]any)["id"] != float64(mini.UserID()) {
			t.Fatalf("not one user: mini %d, oa %d (new %v), app %s", mini.UserID(), oa.UserID(), oa.IsNewUser, app.Body)
		}
		kinds, _ := e.Server.DB.Read.Identity.Query().Where(identity.UserID(mini.UserID())).Select(identity.FieldKind).Strings(ctx)
		if strings.Join(sorted(kinds), ",") != "app,miniprogram,oa" {
			t.Fatalf("identities of the user: %v", kinds)
		}

		// Without a unionid (a silent login): a user of its own, which a
		// later unionid still links… unless another user has it.
		silent := oaLogin(t, e, "snsapi_base", wechatsim.OAuthPerson{OpenID: "oa-lonely", UnionID: "union-two"})
		if !silent.IsNewUser || silent.UserID() == mini.UserID() {
			t.Fatalf("silent login: %+v", silent)
		}
		later := oaLogin(t, e, "snsapi_userinfo", wechatsim.OAuthPerson{OpenID: "oa-lonely", UnionID: "union-two"})
		if later.UserID() != silent.UserID() {
			t.Fatal("the unionid moved the identity")
		}
		mp2 := e.LoginWith(t, map[string]any{"code": e.WeChat.NewCode(wechatsim.Identity{OpenID: "mp-two", UnionID: "union-two"})})
		if mp2.UserID() != silent.UserID() || mp2.IsNewUser {
			t.Fatalf("the mini program login of union-two made user %d, want %d", mp2.UserID(), silent.UserID())
		}
		// A conflict: an app identity first seen without a unionid, then
		// bringing union-one, which the first user has.
		first := mobileLogin(t, e, wechatsim.OAuthPerson{OpenID: "app-conflict", Scope: "snsapi_base"})
		firstID := first.JSON(t)["user"].(map[string]any)["id"]
		again := mobileLogin(t, e, wechatsim.OAuthPerson{OpenID: "app-conflict", UnionID: "union-one"})
		if again.Status != http.StatusOK || again.JSON(t)["user"].(map[string]any)["id"] != firstID {
			t.Fatalf("conflicting login: %d %s", again.Status, again.Body)
		}
		if n, _ := e.Server.DB.Read.IdentityConflict.Query().Where(identityconflict.Appid(mobileAppID)).Count(ctx); n != 1 {
			t.Fatalf("%d conflicts recorded, want 1", n)
		}
	})
}

// TestOAAcrossInstances: started on one instance, called back on another
// and redeemed on a third, as behind a load balancer.
func TestOAAcrossInstances(t *testing.T) {
	dbURL := apptest.FreshPostgres(t)
	secret := strings.Repeat("s", 48) // instances share the server secret
	a := startDoors(t, dbURL, map[string]string{"MINIAUTH_JWT_SECRET": secret})
	wx := a.WeChat
	env := map[string]string{
		"MINIAUTH_WECHAT_OA_APPS": oaAppID + ":" + oaSecret, "MINIAUTH_WECHAT_OPEN_BASE": wx.HTTP.URL,
		"MINIAUTH_PUBLIC_URL": publicURL, "MINIAUTH_OA_RETURN_URLS": h5Prefix, "MINIAUTH_JWT_SECRET": secret,
	}
	b := apptest.Start(t, apptest.Options{DatabaseURL: dbURL, WeChat: wx, Env: env})
	br := newBrowser(t)
	wx.QueueAuthorize(wechatsim.AuthorizeAnswer{Person: wechatsim.OAuthPerson{OpenID: "oa-cluster"}})
	callback := br.consent(br.authorize(a, "snsapi_base", h5Prefix))
	_, loc := br.get(onServer(b, callback))
	g := redeem(t, a, fragment(t, loc, h5Prefix).Get("ticket"))
	if !g.IsNewUser {
		t.Fatal("not a new user")
	}
	apptest.Expect(t, b.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/ticket",
		Body: map[string]any{"ticket": fragment(t, loc, h5Prefix).Get("ticket")}}), http.StatusUnauthorized, "invalid_code")
}

func TestMPVerifyFileServed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "MP_verify_AbC123.txt")
	os.WriteFile(path, []byte("AbC123"), 0o644)
	e := apptest.Start(t, apptest.Options{Env: map[string]string{"MINIAUTH_MP_VERIFY_FILE": path}})
	r := e.Do(t, apptest.Request{Method: "GET", Path: "/MP_verify_AbC123.txt"})
	if r.Status != http.StatusOK || string(r.Body) != "AbC123" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("%d %q %q", r.Status, r.Body, r.Header.Get("Content-Type"))
	}
	apptest.Expect(t, e.Do(t, apptest.Request{Method: "GET", Path: "/MP_verify_other.txt"}), http.StatusNotFound, "not_found")
}

// TestOASimulatedFlow: without credentials, the built-in simulator stands
// in for WeChat's authorize page, so a developer sees the whole flow.
func TestOASimulatedFlow(t *testing.T) {
	e := apptest.Start(t, apptest.Options{Env: map[string]string{"MINIAUTH_WECHAT_APPID": "", "MINIAUTH_WECHAT_SECRET": ""}})
	b := newBrowser(t)
	returnTo := e.URL + "/page"
	q := url.Values{"scope": {"snsapi_userinfo"}, "return_to": {returnTo}}
	hops := []string{e.URL + "/api/auth/oa/authorize?" + q.Encode()}
	for i := 0; i < 3; i++ {
		status, loc := b.get(hops[len(hops)-1])
		if status != http.StatusFound {
			t.Fatalf("hop %d %s: %d", i, hops[len(hops)-1], status)
		}
		hops = append(hops, loc)
	}
	ticket := fragment(t, hops[3], returnTo).Get("ticket")
	g := redeem(t, e, ticket)
	if g.User["nickname"] != "微信用户" {
		t.Fatalf("simulated person: %+v", g.User)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
