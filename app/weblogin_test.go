package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/apptest/poll"
	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/weblogin"
	"github.com/miniauth/miniauth/app/wechatsim"
)

// qrTicket is POST /api/auth/qr's answer.
type qrTicket struct {
	Ticket    string `json:"ticket"`
	PollToken string `json:"poll_token"`
	ExpiresIn int    `json:"expires_in"`
	ImageURL  string `json:"image_url"`
}

// qrPoll is a poll's answer.
type qrPoll struct {
	Status       string         `json:"status"`
	AccessToken  string         `json:"access_token"`
	RefreshToken string         `json:"refresh_token"`
	TokenType    string         `json:"token_type"`
	ExpiresIn    int            `json:"expires_in"`
	User         map[string]any `json:"user"`
}

// browserUA is the browser the tests sign in from.
const browserUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

func newQR(t *testing.T, env *apptest.Env) qrTicket {
	t.Helper()
	r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/qr", Body: map[string]any{}, Header: map[string]string{"User-Agent": browserUA}})
	if r.Status != http.StatusOK {
		t.Fatalf("new ticket: %d %s", r.Status, r.Body)
	}
	var q qrTicket
	if err := json.Unmarshal(r.Body, &q); err != nil {
		t.Fatal(err)
	}
	return q
}

// qrPath is a ticket's path: /api/auth/qr/{ticket}/{action}.
func qrPath(ticket, action string) string { return "/api/auth/qr/" + ticket + "/" + action }

// pollQR polls over plain HTTP (usable from any goroutine): the status
// code and the answer.
func pollQR(baseURL string, q qrTicket, wait int) (int, qrPoll, error) {
	body, _ := json.Marshal(map[string]any{"poll_token": q.PollToken, "wait": wait})
	req, _ := http.NewRequest("POST", baseURL+qrPath(q.Ticket, "poll"), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", browserUA)
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return 0, qrPoll{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var p qrPoll
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &p); err != nil {
			return resp.StatusCode, p, fmt.Errorf("%v: %s", err, raw)
		}
	}
	return resp.StatusCode, p, nil
}

// wantPoll polls at once and wants status.
func wantPoll(t *testing.T, env *apptest.Env, q qrTicket, status string) qrPoll {
	t.Helper()
	code, p, err := pollQR(env.URL, q, 0)
	if err != nil || code != http.StatusOK || p.Status != status {
		t.Fatalf("poll: %d %+v %v, want %q", code, p, err, status)
	}
	return p
}

// scanImage fetches the ticket's code and reads the scene from it, as the
// phone's camera would.
func scanImage(t *testing.T, env *apptest.Env, q qrTicket) string {
	t.Helper()
	r := env.Do(t, apptest.Request{Method: "GET", Path: q.ImageURL})
	if r.Status != http.StatusOK {
		t.Fatalf("image: %d %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "image/png" {
		t.Errorf("image Content-Type %q, want image/png (from the bytes, whatever WeChat labelled them)", ct)
	}
	scene, ok := wechatsim.SceneOf(r.Body)
	if !ok {
		t.Fatalf("the image is not a code the simulated WeChat drew")
	}
	return scene
}

func mini(t *testing.T, env *apptest.Env, ticket, action, token string) *apptest.Response {
	t.Helper()
	return env.Do(t, apptest.Request{Method: "POST", Path: qrPath(ticket, action), Token: token})
}

// TestWebLoginEndToEnd: a browser signs in by scanning: a ticket, its code
// (drawn once), scan, confirm, and the first poll receives a session of
// the scanner, which is an ordinary session: listed, refreshed, ended.
func TestWebLoginEndToEnd(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		q := newQR(t, env)
		if len(q.Ticket) > 32 || strings.Trim(q.Ticket, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$&'()*+,/:;=?@-._~") != "" {
			t.Errorf("ticket %q is not a valid scene", q.Ticket)
		}
		if q.ImageURL != "/api/auth/qr/"+q.Ticket+"/image" || q.ExpiresIn != 120 || len(q.PollToken) < 40 {
			t.Errorf("ticket answer %+v", q)
		}
		if scene := scanImage(t, env, q); scene != q.Ticket {
			t.Fatalf("the code's scene is %q, want the ticket %q", scene, q.Ticket)
		}
		scanImage(t, env, q)
		codes := env.WeChat.QRCodes()
		if len(codes) != 1 || env.WeChat.Calls(wechatsim.PathUnlimitedQRCode) != 1 {
			t.Fatalf("WeChat drew %d codes in %d calls, want 1 for two image requests", len(codes), env.WeChat.Calls(wechatsim.PathUnlimitedQRCode))
		}
		if c := codes[0]; c.Page != "pages/index/index" || c.Env != "release" || !c.CheckPath || c.AppID != apptest.AppID {
			t.Errorf("code drawn for %+v", c)
		}
		wantPoll(t, env, q, weblogin.StatusPending)

		user := env.Login(t, "o_web_owner")
		// A long poll waiting before the scan hears of it.
		got := make(chan qrPoll, 1)
		go func() {
			_, p, _ := pollQR(env.URL, q, 25)
			got <- p
		}()
		waitForWaiters(t, env, 1)
		r := mini(t, env, q.Ticket, "scan", user.AccessToken)
		if r.Status != http.StatusOK {
			t.Fatalf("scan: %d %s", r.Status, r.Body)
		}
		scan := r.JSON(t)
		if scan["status"] != "scanned" || scan["ip"] != "127.0.0.1" || scan["device"] != "Chrome on Windows" || len(scan) != 3 {
			t.Errorf("scan answer %v", scan)
		}
		if p := <-got; p.Status != weblogin.StatusScanned || p.AccessToken != "" {
			t.Fatalf("the waiting poll answered %+v, want scanned", p)
		}
		// Scanning again (the page reloaded) is the same user's.
		if r := mini(t, env, q.Ticket, "scan", user.AccessToken); r.Status != http.StatusOK {
			t.Fatalf("second scan by the same user: %d %s", r.Status, r.Body)
		}
		wantPoll(t, env, q, weblogin.StatusScanned)

		go func() {
			_, p, _ := pollQR(env.URL, q, 25)
			got <- p
		}()
		waitForWaiters(t, env, 1)
		if r := mini(t, env, q.Ticket, "confirm", user.AccessToken); r.Status != http.StatusNoContent {
			t.Fatalf("confirm: %d %s", r.Status, r.Body)
		}
		p := <-got
		if p.Status != "confirmed" || p.AccessToken == "" || p.RefreshToken == "" || p.TokenType != "Bearer" || p.ExpiresIn != 7200 ||
			int(p.User["id"].(float64)) != user.UserID() {
			t.Fatalf("hand-over %+v", p)
		}

		// Handed over once: the ticket has ended for everyone.
		if code, _, _ := pollQR(env.URL, q, 0); code != http.StatusNotFound {
			t.Errorf("poll after the hand-over: %d, want 404", code)
		}
		for _, action := range []string{"scan", "confirm", "deny"} {
			apptest.Expect(t, mini(t, env, q.Ticket, action, user.AccessToken), http.StatusNotFound, "not_found")
		}
		apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: q.ImageURL}), http.StatusNotFound, "not_found")

		// An ordinary session of the user, from the web.
		me := env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: p.AccessToken})
		if me.Status != http.StatusOK || int(me.JSON(t)["id"].(float64)) != user.UserID() {
			t.Fatalf("/api/me with the web session: %d %s", me.Status, me.Body)
		}
		list := listSessions(t, env, user.AccessToken)
		var webID int
		for _, s := range list.Sessions {
			if s.App == "web" {
				webID = s.ID
				if s.Device != "Chrome on Windows" || s.IP != "127.0.0.1" || s.Current {
					t.Errorf("web session listed as %+v", s)
				}
			}
		}
		if len(list.Sessions) != 2 || webID == 0 {
			t.Fatalf("sessions %+v, want the mini program's and the web's", list.Sessions)
		}
		raw := env.Do(t, apptest.Request{Method: "GET", Path: "/api/me/sessions", Token: user.AccessToken})
		fragments(t, raw.Body, []string{`"app":"web","via":"web"`}, nil)
		verify := env.Do(t, apptest.Request{Method: "GET", Path: "/api/auth/verify", Token: p.AccessToken})
		if verify.Status != http.StatusOK || verify.Header.Get("X-Miniauth-Session-Id") != fmt.Sprint(webID) {
			t.Errorf("forward auth with the web session: %d %v", verify.Status, verify.Header)
		}
		// A web session has no mini program: it cannot bind a phone.
		apptest.Expect(t, env.Do(t, apptest.Request{Method: "POST", Path: "/api/me/phone", Token: p.AccessToken,
			Body: map[string]any{"code": env.WeChat.NewPhoneCode("13800000000", "86")}}), http.StatusBadRequest, "invalid_request")
		g := grantOf(t, refresh(t, env, p.RefreshToken))
		if g.UserID() != user.UserID() {
			t.Errorf("refresh of the web session: user %d", g.UserID())
		}
		// Ended from the phone like any other device.
		if r := env.Do(t, apptest.Request{Method: "DELETE", Path: fmt.Sprintf("/api/me/sessions/%d", webID), Token: user.AccessToken}); r.Status != http.StatusNoContent {
			t.Fatalf("end the web session: %d %s", r.Status, r.Body)
		}
		apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}), http.StatusUnauthorized, "unauthorized")
	})
}

// waitForWaiters waits until n polls are waiting on env's server (a poll
// started in a goroutine has reached its wait).
func waitForWaiters(t *testing.T, env *apptest.Env, n int) {
	t.Helper()
	apptest.Eventually(t, 10*time.Second, fmt.Sprintf("%d polls waiting", n), func() (bool, string) {
		got := env.Server.WebLogin.Waiting()
		return got >= n, fmt.Sprintf("%d waiting", got)
	})
}

// TestWebLoginRefusals: bad input and every refusal, with the contract's
// error and nothing changed.
func TestWebLoginRefusals(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		alice := env.Login(t, "o_web_alice")
		bob := env.Login(t, "o_web_bob")
		q := newQR(t, env)
		poll := func(body any) *apptest.Response {
			return env.Do(t, apptest.Request{Method: "POST", Path: qrPath(q.Ticket, "poll"), Body: body})
		}

		// The browser's side.
		apptest.Expect(t, poll(map[string]any{"poll_token": "wrong" + q.PollToken}), http.StatusNotFound, "not_found")
		apptest.Expect(t, poll(map[string]any{"poll_token": newQR(t, env).PollToken}), http.StatusNotFound, "not_found")
		apptest.Expect(t, poll(map[string]any{}), http.StatusBadRequest, "invalid_request")
		apptest.Expect(t, poll(map[string]any{"poll_token": q.PollToken, "wait": 26}), http.StatusBadRequest, "validation_failed")
		apptest.Expect(t, poll(map[string]any{"poll_token": q.PollToken, "wait": -1}), http.StatusBadRequest, "validation_failed")
		apptest.Expect(t, poll(map[string]any{"poll_token": q.PollToken, "wait": "5"}), http.StatusBadRequest, "validation_failed")
		apptest.Expect(t, poll(map[string]any{"poll_token": q.PollToken, "extra": 1}), http.StatusBadRequest, "invalid_request")
		apptest.Expect(t, poll("not json"), http.StatusBadRequest, "invalid_request")
		for _, ticket := range []string{"AAAAAAAAAAAAAAAAAAAAAA", "short", strings.Repeat("A", 33), "AAAAAAAAAAAAAAAAAAAA%21"} {
			apptest.Expect(t, env.Do(t, apptest.Request{Method: "POST", Path: qrPath(ticket, "poll"), Body: map[string]any{"poll_token": q.PollToken}}), http.StatusNotFound, "not_found")
			apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: qrPath(ticket, "image")}), http.StatusNotFound, "not_found")
			apptest.Expect(t, mini(t, env, ticket, "scan", alice.AccessToken), http.StatusNotFound, "not_found")
		}
		apptest.Expect(t, env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/qr", Body: map[string]any{"appid": "wxnotconfigured000"}}), http.StatusBadRequest, "validation_failed")
		apptest.Expect(t, env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/qr", Body: map[string]any{"nope": 1}}), http.StatusBadRequest, "invalid_request")
		if r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/qr"}); r.Status != http.StatusOK {
			t.Errorf("a ticket without a body: %d %s", r.Status, r.Body)
		}
		// None of it touched the ticket.
		wantPoll(t, env, q, weblogin.StatusPending)

		// The mini program's side needs a live token.
		for _, action := range []string{"scan", "confirm", "deny"} {
			apptest.Expect(t, mini(t, env, q.Ticket, action, ""), http.StatusUnauthorized, "unauthorized")
			apptest.Expect(t, mini(t, env, q.Ticket, action, "not-a-token"), http.StatusUnauthorized, "unauthorized")
		}
		// Confirming needs a scan first.
		apptest.Expect(t, mini(t, env, q.Ticket, "confirm", alice.AccessToken), http.StatusNotFound, "not_found")
		wantPoll(t, env, q, weblogin.StatusPending)

		// A second scanner is refused, and cannot confirm or deny.
		if r := mini(t, env, q.Ticket, "scan", alice.AccessToken); r.Status != http.StatusOK {
			t.Fatalf("scan: %d %s", r.Status, r.Body)
		}
		for _, action := range []string{"scan", "confirm", "deny"} {
			apptest.Expect(t, mini(t, env, q.Ticket, action, bob.AccessToken), http.StatusNotFound, "not_found")
		}
		wantPoll(t, env, q, weblogin.StatusScanned)

		// Deny ends it: told to the browser, nothing more can happen.
		if r := mini(t, env, q.Ticket, "deny", alice.AccessToken); r.Status != http.StatusNoContent {
			t.Fatalf("deny: %d %s", r.Status, r.Body)
		}
		wantPoll(t, env, q, weblogin.StatusDenied)
		for _, action := range []string{"scan", "confirm", "deny"} {
			apptest.Expect(t, mini(t, env, q.Ticket, action, alice.AccessToken), http.StatusNotFound, "not_found")
		}
		apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: q.ImageURL}), http.StatusNotFound, "not_found")
		wantPoll(t, env, q, weblogin.StatusDenied)

		// The page may deny without scanning.
		q2 := newQR(t, env)
		if r := mini(t, env, q2.Ticket, "deny", bob.AccessToken); r.Status != http.StatusNoContent {
			t.Fatalf("deny without scan: %d %s", r.Status, r.Body)
		}
		wantPoll(t, env, q2, weblogin.StatusDenied)
		if n := len(listSessions(t, env, alice.AccessToken).Sessions); n != 1 {
			t.Errorf("alice has %d sessions, want 1", n)
		}
	})
}

// TestWebLoginWebSessionCannotConfirm: a session from the web cannot
// scan or confirm another browser's sign-in: a stolen browser session
// must not breed more.
func TestWebLoginWebSessionCannotConfirm(t *testing.T) {
	t.Parallel()
	env := start(t, apptest.Options{})
	web := signInOnWeb(t, env, env.Login(t, "o_web_chain"))
	q := newQR(t, env)
	for _, action := range []string{"scan", "confirm", "deny"} {
		apptest.Expect(t, mini(t, env, q.Ticket, action, web.AccessToken), http.StatusNotFound, "not_found")
	}
	wantPoll(t, env, q, weblogin.StatusPending)
}

// signInOnWeb runs a whole web sign-in for the mini program user g and
// returns the browser's grant.
func signInOnWeb(t *testing.T, env *apptest.Env, g *apptest.Grant) qrPoll {
	t.Helper()
	q := newQR(t, env)
	for _, action := range []string{"scan", "confirm"} {
		if r := mini(t, env, q.Ticket, action, g.AccessToken); r.Status/100 != 2 {
			t.Fatalf("%s: %d %s", action, r.Status, r.Body)
		}
	}
	return wantPoll(t, env, q, weblogin.StatusConfirmed)
}

// TestWebLoginExpiry: tickets expire by the server's clock (moved, not
// waited for): unconfirmed, confirmed but not handed over; and are purged.
func TestWebLoginExpiry(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		clk := &clock.Shifted{}
		env := start(t, apptest.Options{DatabaseURL: b.URL(t), Clock: clk.Now})
		user := env.Login(t, "o_web_expiry")
		pending, scanned, confirmed, fresh := newQR(t, env), newQR(t, env), newQR(t, env), qrTicket{}
		for _, action := range []string{"scan", "confirm"} {
			mini(t, env, confirmed.Ticket, action, user.AccessToken)
		}
		mini(t, env, scanned.Ticket, "scan", user.AccessToken)

		clk.Shift(119 * time.Second)
		wantPoll(t, env, pending, weblogin.StatusPending)
		clk.Shift(2 * time.Second)
		fresh = newQR(t, env)
		for _, q := range []qrTicket{pending, scanned, confirmed} {
			p := wantPoll(t, env, q, weblogin.StatusExpired)
			if p.AccessToken != "" {
				t.Errorf("an expired ticket handed over tokens")
			}
			for _, action := range []string{"scan", "confirm", "deny"} {
				apptest.Expect(t, mini(t, env, q.Ticket, action, user.AccessToken), http.StatusNotFound, "not_found")
			}
			apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: q.ImageURL}), http.StatusNotFound, "not_found")
		}
		if n := len(listSessions(t, env, user.AccessToken).Sessions); n != 1 {
			t.Errorf("%d sessions after expiry, want only the mini program's", n)
		}

		// Purged once kept long enough; a fresh one stays.
		n, err := env.Server.WebLogin.Purge(context.Background(), clk.Now().Add(-time.Second))
		if err != nil || n != 3 {
			t.Fatalf("purge: %d %v, want the 3 expired tickets", n, err)
		}
		if code, _, _ := pollQR(env.URL, pending, 0); code != http.StatusNotFound {
			t.Errorf("poll of a purged ticket: %d, want 404", code)
		}
		wantPoll(t, env, fresh, weblogin.StatusPending)
	})
}

// TestWebLoginConcurrentPollers: many polls of one confirmed ticket at
// once (some waiting since before the confirmation): the session is
// handed over exactly once.
func TestWebLoginConcurrentPollers(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		user := env.Login(t, "o_web_race")
		q := newQR(t, env)
		mini(t, env, q.Ticket, "scan", user.AccessToken)
		const pollers = 40
		type answer struct {
			code int
			p    qrPoll
			err  error
		}
		answers := make(chan answer, pollers)
		var wg sync.WaitGroup
		start := func() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, p, err := pollQR(env.URL, q, 25)
				answers <- answer{code, p, err}
			}()
		}
		for i := 0; i < 4; i++ { // the most that wait on one ticket
			start()
		}
		waitForWaiters(t, env, 4)
		if r := mini(t, env, q.Ticket, "confirm", user.AccessToken); r.Status != http.StatusNoContent {
			t.Fatalf("confirm: %d %s", r.Status, r.Body)
		}
		for i := 4; i < pollers; i++ {
			start()
		}
		wg.Wait()
		close(answers)
		handed := 0
		for a := range answers {
			switch {
			case a.err != nil:
				t.Errorf("poll: %v", a.err)
			case a.code == http.StatusOK && a.p.AccessToken != "":
				handed++
			case a.code == http.StatusNotFound:
			default:
				t.Errorf("poll answered %d %+v", a.code, a.p)
			}
		}
		if handed != 1 {
			t.Fatalf("the session was handed over %d times, want once", handed)
		}
		web := 0
		for _, s := range listSessions(t, env, user.AccessToken).Sessions {
			if s.App == "web" {
				web++
			}
		}
		if web != 1 {
			t.Errorf("%d web sessions, want 1", web)
		}
	})
}

// TestWebLoginDisabledUser: a disabled user cannot confirm (their tokens
// died with the disabling), and a user disabled between confirming and
// the hand-over gets no session.
func TestWebLoginDisabledUser(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		ctx := context.Background()
		user := env.Login(t, "o_web_disabled")
		q := newQR(t, env)
		mini(t, env, q.Ticket, "scan", user.AccessToken)
		if err := env.Server.Profiles.SetDisabled(ctx, user.UserID(), true); err != nil {
			t.Fatal(err)
		}
		apptest.Expect(t, mini(t, env, q.Ticket, "confirm", user.AccessToken), http.StatusUnauthorized, "unauthorized")
		wantPoll(t, env, q, weblogin.StatusScanned)

		if err := env.Server.Profiles.SetDisabled(ctx, user.UserID(), false); err != nil {
			t.Fatal(err)
		}
		user = env.Login(t, "o_web_disabled")
		q = newQR(t, env)
		for _, action := range []string{"scan", "confirm"} {
			if r := mini(t, env, q.Ticket, action, user.AccessToken); r.Status/100 != 2 {
				t.Fatalf("%s: %d %s", action, r.Status, r.Body)
			}
		}
		if err := env.Server.Profiles.SetDisabled(ctx, user.UserID(), true); err != nil {
			t.Fatal(err)
		}
		apptest.Expect(t, env.Do(t, apptest.Request{Method: "POST", Path: qrPath(q.Ticket, "poll"), Body: map[string]any{"poll_token": q.PollToken}}),
			http.StatusForbidden, "user_disabled")
		// And the ticket has ended.
		if code, _, _ := pollQR(env.URL, q, 0); code != http.StatusNotFound {
			t.Errorf("poll after a refused hand-over: %d, want 404", code)
		}
		if err := env.Server.Profiles.SetDisabled(ctx, user.UserID(), false); err != nil {
			t.Fatal(err)
		}
		user = env.Login(t, "o_web_disabled")
		if n := len(listSessions(t, env, user.AccessToken).Sessions); n != 1 {
			t.Errorf("%d sessions, want only the new login's", n)
		}
	})
}

// TestWebLoginRateLimit: a flood of ticket requests from one address gets
// exactly the limit through, the rest 429 with Retry-After.
func TestWebLoginRateLimit(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, map[string]string{"MINIAUTH_QR_RATE_LIMIT": "5"})
		const n = 100
		codes := make(chan int, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.Post(env.URL+"/api/auth/qr", "application/json", strings.NewReader("{}"))
				if err != nil {
					codes <- 0
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
					codes <- -1
					return
				}
				codes <- resp.StatusCode
			}()
		}
		wg.Wait()
		close(codes)
		count := map[int]int{}
		for c := range codes {
			count[c]++
		}
		if count[http.StatusOK] != 5 || count[http.StatusTooManyRequests] != n-5 {
			t.Fatalf("answers %v, want 5 × 200 and %d × 429 with Retry-After", count, n-5)
		}
	})
}

// TestWebLoginImage: the code is drawn by WeChat at most once per ticket
// however many ask at once; WeChat's refusals become the contract's
// errors, a stale access token is replaced.
func TestWebLoginImage(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, map[string]string{"MINIAUTH_QR_ENV": "trial", "MINIAUTH_QR_PAGE": "pages/weblogin/weblogin"})
		q := newQR(t, env)
		var wg sync.WaitGroup
		failed := make(chan string, 100)
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.Get(env.URL + q.ImageURL)
				if err != nil {
					failed <- err.Error()
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if scene, _ := wechatsim.SceneOf(body); resp.StatusCode != http.StatusOK || scene != q.Ticket {
					failed <- fmt.Sprintf("%d %q", resp.StatusCode, scene)
				}
			}()
		}
		wg.Wait()
		close(failed)
		for f := range failed {
			t.Error("image:", f)
		}
		if n := env.WeChat.Calls(wechatsim.PathUnlimitedQRCode); n != 1 {
			t.Errorf("100 image requests made %d WeChat calls, want 1", n)
		}
		// A trial version may open a page the released one lacks.
		if c := env.WeChat.QRCodes()[0]; c.Page != "pages/weblogin/weblogin" || c.Env != "trial" || c.CheckPath {
			t.Errorf("code drawn for %+v", c)
		}

		for _, f := range []struct {
			errcode int
			status  int
			code    string
		}{{45009, 429, "rate_limited"}, {-1, 502, "wechat_unavailable"}, {40169, 502, "wechat_unavailable"}} {
			env.WeChat.Fail(wechatsim.PathUnlimitedQRCode, wechatsim.Failure{ErrCode: f.errcode})
			q := newQR(t, env)
			apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: q.ImageURL}), f.status, f.code)
			// Not kept: the next request draws it.
			if scene := scanImage(t, env, q); scene != q.Ticket {
				t.Errorf("scene %q", scene)
			}
		}
		// A refused access token is fetched again, once.
		env.WeChat.InvalidateToken()
		if scene := scanImage(t, env, newQR(t, env)); scene == "" {
			t.Error("no code after the token was invalidated")
		}
	})
}

// TestWebLoginUnreleasedPage: a page the released version lacks is
// WeChat's 41030: the browser gets wechat_unavailable, the operator a log
// line naming the setting.
func TestWebLoginUnreleasedPage(t *testing.T) {
	t.Parallel()
	env := start(t, apptest.Options{Env: map[string]string{"MINIAUTH_QR_PAGE": "pages/not/released"}})
	q := newQR(t, env)
	apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: q.ImageURL}), http.StatusBadGateway, "wechat_unavailable")
	if !strings.Contains(env.Logs.String(), "MINIAUTH_QR_PAGE") {
		t.Errorf("the log does not name MINIAUTH_QR_PAGE:\n%s", env.Logs.String())
	}
}

// TestWebLoginWaitHoldsNoConnection: polls waiting for a change hold no
// database connection, so a small pool serves everyone else meanwhile.
func TestWebLoginWaitHoldsNoConnection(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, map[string]string{"MINIAUTH_DB_MAX_OPEN_CONNS": "2", "MINIAUTH_QR_RATE_LIMIT": "0"})
		user := env.Login(t, "o_web_pool")
		const n = 30
		tickets := make([]qrTicket, n)
		got := make(chan string, n)
		for i := range tickets {
			tickets[i] = newQR(t, env)
			go func(q qrTicket) {
				_, p, err := pollQR(env.URL, q, 25)
				if err != nil {
					got <- err.Error()
					return
				}
				got <- p.Status
			}(tickets[i])
		}
		waitForWaiters(t, env, n)
		// A poll that has just started waiting may still be finishing its
		// first read, and background work may borrow a connection for a
		// moment; a poll that held its connection through the wait would
		// keep the pool of two in use for good.
		poll.Until(t, 5*time.Second, fmt.Sprintf("no database connection in use while %d polls wait", n), func() (bool, string) {
			inUse := env.Server.DB.SQL.Stats().InUse
			return inUse == 0, fmt.Sprintf("%d in use", inUse)
		})
		if r := env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: user.AccessToken}); r.Status != http.StatusOK {
			t.Errorf("/api/me while polls wait: %d", r.Status)
		}
		for _, q := range tickets {
			if r := mini(t, env, q.Ticket, "scan", user.AccessToken); r.Status != http.StatusOK {
				t.Fatalf("scan: %d %s", r.Status, r.Body)
			}
		}
		for range tickets {
			if s := <-got; s != weblogin.StatusScanned {
				t.Errorf("a waiting poll answered %q, want scanned", s)
			}
		}
	})
}

// TestWebLoginAcrossInstances: two instances on one PostgreSQL: the code
// is scanned and confirmed through one while the browser waits on the
// other, which hears of each step (LISTEN/NOTIFY) and hands the session
// over. (In one process, so that the test sees the poll waiting; without
// the session cache, which tells instances apart by process.)
func TestWebLoginAcrossInstances(t *testing.T) {
	t.Parallel()
	url := apptest.FreshPostgres(t)
	wx := apptest.NewWeChat(t)
	shared := map[string]string{"MINIAUTH_JWT_SECRET": strings.Repeat("s", 48), "MINIAUTH_SESSION_CACHE": "0"}
	a := start(t, apptest.Options{DatabaseURL: url, WeChat: wx, Env: shared})
	b := start(t, apptest.Options{DatabaseURL: url, WeChat: wx, Env: shared})
	user := a.Login(t, "o_web_cluster")
	q := newQR(t, b)
	if scene := scanImage(t, a, q); scene != q.Ticket {
		t.Fatalf("scene %q", scene)
	}
	got := make(chan qrPoll, 1)
	waitOnB := func() {
		go func() {
			_, p, _ := pollQR(b.URL, q, 25)
			got <- p
		}()
		// B has read the ticket and waits: the change must come by NOTIFY.
		waitForWaiters(t, b, 1)
	}
	waitOnB()
	if r := mini(t, a, q.Ticket, "scan", user.AccessToken); r.Status != http.StatusOK {
		t.Fatalf("scan on A: %d %s", r.Status, r.Body)
	}
	if p := <-got; p.Status != weblogin.StatusScanned {
		t.Fatalf("B's waiting poll answered %+v, want scanned", p)
	}
	waitOnB()
	if r := mini(t, a, q.Ticket, "confirm", user.AccessToken); r.Status != http.StatusNoContent {
		t.Fatalf("confirm on A: %d %s", r.Status, r.Body)
	}
	p := <-got
	if p.Status != weblogin.StatusConfirmed || p.AccessToken == "" || int(p.User["id"].(float64)) != user.UserID() {
		t.Fatalf("B's hand-over %+v", p)
	}
	// The web session opened on B works on A and ends there for B too.
	if r := a.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: p.AccessToken}); r.Status != http.StatusOK {
		t.Fatalf("web session on A: %d", r.Status)
	}
	if code, _, _ := pollQR(a.URL, q, 0); code != http.StatusNotFound {
		t.Errorf("poll on A after B's hand-over: %d, want 404", code)
	}
	if r := a.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/logout", Token: p.AccessToken}); r.Status != http.StatusNoContent {
		t.Fatalf("logout: %d", r.Status)
	}
	apptest.Expect(t, b.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: p.AccessToken}), http.StatusUnauthorized, "unauthorized")
}
