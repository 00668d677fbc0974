package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/avatars/avatartest"
	"github.com/miniauth/miniauth/app/wechatevents"
	"github.com/miniauth/miniauth/app/wechatpush"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/auditentry"
	"github.com/miniauth/miniauth/ent/pushevent"
	"github.com/miniauth/miniauth/ent/user"
)

// Message push settings of the tests.
const (
	pushToken  = "miniauthPushToken42"
	pushAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

// pushEnv is the settings of one mode: safe mode has an EncodingAESKey.
func pushEnv(safe bool) map[string]string {
	env := map[string]string{"MINIAUTH_WECHAT_PUSH_TOKEN": pushToken}
	if safe {
		env["MINIAUTH_WECHAT_PUSH_AES_KEY"] = pushAESKey
	}
	return env
}

// pusherFor is the simulated WeChat pushing to env's URL of apptest's app.
func pusherFor(t testing.TB, env *apptest.Env, safe, xml bool) *wechatsim.Pusher {
	p := &wechatsim.Pusher{URL: env.URL + "/api/wechat/push/" + apptest.AppID, AppID: apptest.AppID, Token: pushToken, XML: xml}
	if safe {
		key, err := wechatpush.ParseAESKey(pushAESKey)
		if err != nil {
			t.Fatal(err)
		}
		p.AESKey = key
	}
	return p
}

func pushOK(t testing.TB, p *wechatsim.Pusher, e wechatsim.PushEvent) {
	t.Helper()
	status, body, err := p.Push(context.Background(), e)
	if err != nil || status != http.StatusOK || body != "success" {
		t.Fatalf("push %s: %d %q %v", e.Event, status, body, err)
	}
}

func wechatAudit(t testing.TB, env *apptest.Env, action string, userID int) []*ent.AuditEntry {
	t.Helper()
	es, err := env.Server.DB.Read.AuditEntry.Query().Where(auditentry.Actor(wechatevents.Actor), auditentry.Action(action),
		auditentry.TargetUserID(userID)).All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func meJSON(t *testing.T, env *apptest.Env, token string) map[string]any {
	t.Helper()
	r := me(t, env, token)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /api/me: %d %s", r.Status, r.Body)
	}
	return r.JSON(t)
}

// The console's URL check, with the official test vector (WECHAT.md 5.1):
// the echo comes back as text/plain; anything else is 401 with no echo.
func TestPushURLVerification(t *testing.T) {
	t.Parallel()
	const appID = "wxba5fad812f8e6fb9"
	env := start(t, apptest.Options{Env: map[string]string{"MINIAUTH_WECHAT_APPID": appID,
		"MINIAUTH_WECHAT_PUSH_TOKEN": "AAAAA", "MINIAUTH_WECHAT_PUSH_AES_KEY": strings.Repeat("A", 43)}})
	path := "/api/wechat/push/" + appID
	q := "?signature=f464b24fc39322e44b38aa78f5edd27bd1441696&timestamp=1714036504&nonce=1514711492&echostr=4375120948345356249"
	r := env.Do(t, apptest.Request{Method: "GET", Path: path + q})
	if r.Status != http.StatusOK || string(r.Body) != "4375120948345356249" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("URL check: %d %q %s", r.Status, r.Body, r.Header.Get("Content-Type"))
	}
	for _, bad := range []string{
		strings.Replace(q, "f464b24f", "f464b24e", 1),                 // forged
		strings.Replace(q, "nonce=1514711492", "nonce=1514711493", 1), // another nonce
		strings.Replace(q, "&echostr=4375120948345356249", "", 1),     // nothing to echo
		"",
	} {
		r := env.Do(t, apptest.Request{Method: "GET", Path: path + bad})
		apptest.Expect(t, r, http.StatusUnauthorized, "invalid_signature")
		if strings.Contains(string(r.Body), "4375120948345356249") {
			t.Errorf("refusal echoes: %s", r.Body)
		}
	}
	apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/wechat/push/wxunknown000000000" + q}), http.StatusNotFound, "not_found")
}

// The official safe-mode delivery is accepted at its own time and
// refused (401) five minutes and a second later; its plaintext twin is
// refused by an app in safe mode.
func TestPushOfficialDeliveryAndItsAge(t *testing.T) {
	t.Parallel()
	const appID = "wxba5fad812f8e6fb9"
	now := time.Unix(1714112445, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	env := start(t, apptest.Options{Clock: clock, Env: map[string]string{"MINIAUTH_WECHAT_APPID": appID,
		"MINIAUTH_WECHAT_PUSH_TOKEN": "AAAAA", "MINIAUTH_WECHAT_PUSH_AES_KEY": strings.Repeat("A", 43)}})
	const encrypt = "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04="
	path := "/api/wechat/push/" + appID + "?signature=6c5c811b55cc85e0e1b54100749188c20beb3f5d&timestamp=1714112445&nonce=415670741" +
		"&openid=o9AgO5Kd5ggOC-bXrbNODIiE3bGY&encrypt_type=aes&msg_signature=046e02f8204d34f8ba5fa3b1db94908f3df2e9b3"
	body := `{"ToUserName":"gh_97417a04a28d","Encrypt":"` + encrypt + `"}`
	r := env.Do(t, apptest.Request{Method: "POST", Path: path, Body: body})
	if r.Status != http.StatusOK || string(r.Body) != "success" {
		t.Fatalf("official delivery: %d %s", r.Status, r.Body)
	}
	mu.Lock()
	now = now.Add(wechatpush.MaxSkew + time.Second)
	mu.Unlock()
	apptest.Expect(t, env.Do(t, apptest.Request{Method: "POST", Path: path, Body: body}), http.StatusUnauthorized, "invalid_signature")
	mu.Lock()
	now = time.Unix(1714037059, 0)
	mu.Unlock()
	plain := "/api/wechat/push/" + appID + "?signature=899cf89e464efb63f54ddac96b0a0a235f53aa78&timestamp=1714037059&nonce=486452656"
	apptest.Expect(t, env.Do(t, apptest.Request{Method: "POST", Path: plain, Body: `{"MsgType":"event","Event":"debug_demo"}`}),
		http.StatusUnauthorized, "invalid_signature")
}

// Deliveries that do not check out are 401 and change nothing: forged
// signatures, a wrong AES key, truncated or tampered ciphertext, stale
// timestamps, the wrong mode; an oversized body is 413; a hundred forged
// deliveries at once are all refused.
func TestPushRefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, pushEnv(true))
		g := env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_refusals"}), "nickname": "Keeps"})
		p := pusherFor(t, env, true, false)
		ev := wechatsim.Cancellation("o_refusals")
		q, body, err := p.Delivery(ev)
		if err != nil {
			t.Fatal(err)
		}
		post := func(q url.Values, body []byte) (int, string) {
			status, answer, err := p.Post(context.Background(), q, body)
			if err != nil {
				t.Fatal(err)
			}
			return status, answer
		}
		set := func(k, v string) url.Values {
			c := url.Values{}
			for key, vs := range q {
				c[key] = append([]string(nil), vs...)
			}
			c.Set(k, v)
			return c
		}
		wrongKey := *p
		wrongKey.AESKey, _ = wechatpush.ParseAESKey(strings.Repeat("B", 43))
		wq, wbody, _ := wrongKey.Delivery(ev)
		plain := *p
		plain.AESKey = nil
		pq, pbody, _ := plain.Delivery(ev)
		stale := *p
		stale.Now = func() time.Time { return time.Now().Add(-6 * time.Minute) }
		sq, sbody, _ := stale.Delivery(ev)
		future := *p
		future.Now = func() time.Time { return time.Now().Add(6 * time.Minute) }
		fq, fbody, _ := future.Delivery(ev)
		otherApp := *p
		otherApp.AppID = "wxsomeoneelse00000"
		oq, obody, _ := otherApp.Delivery(ev)
		cases := map[string]struct {
			q    url.Values
			body []byte
		}{
			"forged msg_signature":   {set("msg_signature", wechatpush.Sign("guess", q.Get("timestamp"), q.Get("nonce"))), body},
			"msg_signature missing":  {set("msg_signature", ""), body},
			"signature only":         {set("encrypt_type", ""), body},
			"wrong AES key":          {wq, wbody},
			"truncated body":         {q, body[:len(body)/2]},
			"tampered ciphertext":    {q, tamper(body)},
			"plaintext mode":         {pq, pbody},
			"stale timestamp":        {sq, sbody},
			"future timestamp":       {fq, fbody},
			"timestamp not a number": {set("timestamp", "soon"), body},
			"sealed for another app": {oq, obody},
			"empty body":             {q, nil},
		}
		for name, c := range cases {
			if status, answer := post(c.q, c.body); status != http.StatusUnauthorized || !strings.Contains(answer, "invalid_signature") {
				t.Errorf("%s: %d %s", name, status, answer)
			}
		}
		big := append([]byte(`{"Encrypt":"`), append([]byte(strings.Repeat("A", 70<<10)), '"', '}')...)
		if status, answer := post(q, big); status != http.StatusRequestEntityTooLarge {
			t.Errorf("oversized: %d %s", status, answer)
		}
		forged := set("msg_signature", strings.Repeat("0", 40))
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				if status, _, err := p.Post(context.Background(), forged, body); err != nil || status != http.StatusUnauthorized {
					t.Errorf("forged, at once: %d %v", status, err)
				}
			})
		}
		wg.Wait()
		apptest.Expect(t, env.Do(t, apptest.Request{Method: "POST", Path: "/api/wechat/push/wxunknown000000000?" + q.Encode(), Body: body}),
			http.StatusNotFound, "not_found")

		if got := meJSON(t, env, g.AccessToken)["nickname"]; got != "Keeps" {
			t.Errorf("after refusals nickname = %v", got)
		}
		if n, _ := env.Server.DB.Read.PushEvent.Query().Count(context.Background()); n != 0 {
			t.Errorf("%d events stored from refused deliveries", n)
		}
		// The genuine delivery still works afterwards.
		if status, answer := post(q, body); status != http.StatusOK || answer != "success" {
			t.Fatalf("genuine: %d %s", status, answer)
		}
		expectUnauthorized(t, me(t, env, g.AccessToken))
	})
}

// Each privacy event, in each mode and format, on both databases.
func TestPushPrivacyEvents(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		for _, mode := range []struct {
			name      string
			safe, xml bool
		}{{"plaintext-json", false, false}, {"plaintext-xml", false, true}, {"safe-json", true, false}, {"safe-xml", true, true}} {
			t.Run(mode.name, func(t *testing.T) {
				env := startOn(t, b, pushEnv(mode.safe))
				p := pusherFor(t, env, mode.safe, mode.xml)
				login := func(openid string) *apptest.Grant {
					g := env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(wechatsim.Identity{OpenID: openid}), "nickname": "Nick " + openid})
					uploadAvatar(t, env, g.AccessToken, avatartest.PNG(t, len(openid)))
					r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/me/phone", Token: g.AccessToken,
						Body: map[string]any{"code": env.WeChat.NewPhoneCode("138"+fmt.Sprintf("%08d", len(openid)), "86")}})
					if r.Status != http.StatusOK {
						t.Fatalf("phone: %d %s", r.Status, r.Body)
					}
					return g
				}

				// Revoke 6 (nickname and avatar): both erased, the file too;
				// the phone stays.
				alice := login("o_alice_" + mode.name)
				avatar := meJSON(t, env, alice.AccessToken)["avatar_url"].(string)
				pushOK(t, p, wechatsim.Revoke("o_alice_"+mode.name, "6"))
				u := meJSON(t, env, alice.AccessToken)
				if u["nickname"] != "" || u["avatar_url"] != "" || u["phone"] == "" {
					t.Errorf("after revoke 6: %v", u)
				}
				if _, err := os.Stat(filepath.Join(avatarDirOf(env), filepath.Base(avatar))); !os.IsNotExist(err) {
					t.Errorf("revoked avatar file still there: %v", err)
				}
				if len(wechatAudit(t, env, "wechat_data_revoked", alice.UserID())) != 1 {
					t.Error("no audit entry for revoke 6")
				}
				// Revoke 8 (phone): the phone goes.
				pushOK(t, p, wechatsim.Revoke("o_alice_"+mode.name, "8"))
				if u := meJSON(t, env, alice.AccessToken); u["phone"] != "" {
					t.Errorf("after revoke 8: %v", u)
				}
				// 19 and 20 one at a time; 5 (microphone) is nothing we keep.
				bob := login("o_bob_" + mode.name)
				pushOK(t, p, wechatsim.Revoke("o_bob_"+mode.name, "5"))
				if u := meJSON(t, env, bob.AccessToken); u["nickname"] == "" || u["avatar_url"] == "" || u["phone"] == "" {
					t.Errorf("revoke 5 erased something: %v", u)
				}
				pushOK(t, p, wechatsim.Revoke("o_bob_"+mode.name, "19"))
				if u := meJSON(t, env, bob.AccessToken); u["nickname"] != "" || u["avatar_url"] == "" {
					t.Errorf("after revoke 19: %v", u)
				}
				pushOK(t, p, wechatsim.Revoke("o_bob_"+mode.name, "20"))
				if u := meJSON(t, env, bob.AccessToken); u["avatar_url"] != "" || u["phone"] == "" {
					t.Errorf("after revoke 20: %v", u)
				}

				// user_info_modified clears nickname and avatar.
				carol := login("o_carol_" + mode.name)
				pushOK(t, p, wechatsim.InfoModified("o_carol_"+mode.name))
				if u := meJSON(t, env, carol.AccessToken); u["nickname"] != "" || u["avatar_url"] != "" || u["phone"] == "" {
					t.Errorf("after user_info_modified: %v", u)
				}
				if len(wechatAudit(t, env, "wechat_profile_cleaned", carol.UserID())) != 1 {
					t.Error("no audit entry for user_info_modified")
				}

				// Cancellation: the user had one identity and is erased
				// entirely; both tokens die at once; a later login is new.
				dave := login("o_dave_" + mode.name)
				files := len(avatartest.Files(t, avatarDirOf(env)))
				pushOK(t, p, wechatsim.Cancellation("o_dave_"+mode.name))
				expectUnauthorized(t, me(t, env, dave.AccessToken))
				apptest.Expect(t, refresh(t, env, dave.RefreshToken), http.StatusUnauthorized, "unauthorized")
				if n, _ := env.Server.DB.Read.User.Query().Where(user.ID(dave.UserID())).Count(context.Background()); n != 0 {
					t.Error("cancelled user still stored")
				}
				if got := len(avatartest.Files(t, avatarDirOf(env))); got != files-1 {
					t.Errorf("avatar files %d → %d after cancellation", files, got)
				}
				if len(wechatAudit(t, env, "wechat_account_closed", dave.UserID())) != 1 {
					t.Error("no audit entry for cancellation")
				}
				again := env.Login(t, "o_dave_"+mode.name)
				if !again.IsNewUser || again.UserID() == dave.UserID() {
					t.Errorf("login after cancellation: new %v, id %d", again.IsNewUser, again.UserID())
				}

				// Unknown openids and unknown events: success, nothing done.
				pushOK(t, p, wechatsim.Cancellation("o_nobody"))
				pushOK(t, p, wechatsim.PushEvent{Event: "some_future_event", OpenID: "o_alice_" + mode.name})
				if r := me(t, env, alice.AccessToken); r.Status != http.StatusOK {
					t.Errorf("unknown event touched alice: %d", r.Status)
				}
			})
		}
	})
}

// WeChat re-sends a message it heard no answer to, with a new signature,
// nonce and (safe mode) random prefix: fifty deliveries of one message at
// once act once.
func TestPushDuplicatesActOnce(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, pushEnv(true))
		g := env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_dup"}), "nickname": "Dup"})
		p := pusherFor(t, env, true, false)
		ev := wechatsim.Revoke("o_dup", "6")
		ev.CreateTime = time.Now().Unix()
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if status, body, err := p.Push(context.Background(), ev); err != nil || status != http.StatusOK || body != "success" {
					t.Errorf("delivery: %d %q %v", status, body, err)
				}
			})
		}
		wg.Wait()
		// Replayed as captured, too.
		q, body, _ := p.Delivery(ev)
		for range 3 {
			if status, _, _ := p.Post(context.Background(), q, body); status != http.StatusOK {
				t.Errorf("replay: %d", status)
			}
		}
		if n := len(wechatAudit(t, env, "wechat_data_revoked", g.UserID())); n != 1 {
			t.Errorf("%d audit entries for one message", n)
		}
		if n, _ := env.Server.DB.Read.PushEvent.Query().Count(context.Background()); n != 1 {
			t.Errorf("%d stored events for one message", n)
		}
		// The same event later (a new CreateTime) is a new message.
		ev.CreateTime++
		pushOK(t, p, ev)
		if n := len(wechatAudit(t, env, "wechat_data_revoked", g.UserID())); n != 2 {
			t.Errorf("%d audit entries for two messages", n)
		}
	})
}

// A stored event left undone (the process died after answering) is
// acted on by the retry, once.
func TestPushUndoneEventIsRetried(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, pushEnv(false))
		g := env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_crash"}), "nickname": "Crash"})
		m := wechatpush.Message{MsgType: "event", Event: wechatpush.EventInfoModified, OpenID: "o_crash", CreateTime: 1}
		ctx := context.Background()
		err := env.Server.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
			return tx.PushEvent.Create().SetAppid(apptest.AppID).SetDedupKey(m.Key(apptest.AppID)).SetEvent(m.Event).
				SetOpenid(m.OpenID).SetPayload(`{"msg_type":"event","event":"user_info_modified","openid":"o_crash","create_time":1}`).
				SetReceivedAt(time.Now().UTC().Add(-time.Minute)).Exec(ctx)
		})
		if err != nil {
			t.Fatal(err)
		}
		env.Server.Events.RetryPending(ctx)
		env.Server.Events.RetryPending(ctx)
		if u := meJSON(t, env, g.AccessToken); u["nickname"] != "" {
			t.Errorf("undone event not acted on: %v", u)
		}
		if n := len(wechatAudit(t, env, "wechat_profile_cleaned", g.UserID())); n != 1 {
			t.Errorf("%d audit entries", n)
		}
		if n, _ := env.Server.DB.Read.PushEvent.Query().Where(pushevent.DoneAtIsNil()).Count(ctx); n != 0 {
			t.Errorf("%d events still undone", n)
		}
	})
}

// A person with identities in two mini programs closes the WeChat account
// of one: that identity and its sessions go, the user and the other app's
// session stay, and users.openid no longer holds the closed openid.
func TestPushCancellationOfOneOfTwoIdentities(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		wx := apptest.NewWeChat(t)
		wx.AddApp(appB, secretB)
		env := start(t, apptest.Options{DatabaseURL: b.URL(t), WeChat: wx, Env: map[string]string{
			"MINIAUTH_WECHAT_APPID": "", "MINIAUTH_WECHAT_SECRET": "",
			"MINIAUTH_WECHAT_APPS": apptest.AppID + ":" + apptest.Secret + "," + appB + ":" + secretB,
			"MINIAUTH_WECHAT_PUSH": apptest.AppID + ":" + pushToken + ":" + pushAESKey + "," + appB + ":" + pushToken,
		}})
		a := appLogin(t, env, apptest.AppID, "o_two_a", "u_two")
		bb := appLogin(t, env, appB, "o_two_b", "u_two")
		if a.UserID() != bb.UserID() {
			t.Fatal("not one user")
		}
		pushOK(t, pusherFor(t, env, true, true), wechatsim.Cancellation("o_two_a"))
		expectUnauthorized(t, me(t, env, a.AccessToken))
		if r := me(t, env, bb.AccessToken); r.Status != http.StatusOK {
			t.Fatalf("the other app's session: %d %s", r.Status, r.Body)
		}
		ids := identitiesOf(t, env, a.UserID())
		if len(ids) != 1 || ids[0].Appid != appB {
			t.Fatalf("identities left: %v", ids)
		}
		u, err := env.Server.DB.Read.User.Get(context.Background(), a.UserID())
		if err != nil || strings.Contains(u.Openid, "o_two_a") {
			t.Errorf("users.openid = %q, %v", u.Openid, err)
		}
		// App B's push is plaintext; its own cancellation erases the user.
		pb := &wechatsim.Pusher{URL: env.URL + "/api/wechat/push/" + appB, AppID: appB, Token: pushToken}
		pushOK(t, pb, wechatsim.Cancellation("o_two_b"))
		expectUnauthorized(t, me(t, env, bb.AccessToken))
		if n, _ := env.Server.DB.Read.User.Query().Count(context.Background()); n != 0 {
			t.Errorf("%d users left", n)
		}
	})
}

// Two instances with warm session caches: a cancellation pushed to one
// kills the token on the other at once, and a revoke's erasure is what
// the other answers at once.
func TestClusterPushEventsReachEveryInstance(t *testing.T) {
	c := startCluster(t, "MINIAUTH_WECHAT_PUSH_TOKEN", pushToken, "MINIAUTH_WECHAT_PUSH_AES_KEY", pushAESKey)
	login := func(openid string) *apptest.Grant {
		g := c.a.LoginWith(t, map[string]any{"code": c.wx.NewCode(wechatsim.Identity{OpenID: openid}), "nickname": "Warm"})
		for _, e := range []*apptest.Env{c.a, c.b, c.a, c.b} {
			if r := e.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}); r.Status != http.StatusOK {
				t.Fatalf("warm: %d %s", r.Status, r.Body)
			}
		}
		return g
	}
	g1, g2 := login("o_cluster_cancel"), login("o_cluster_revoke")
	p := pusherFor(t, c.a, true, false)
	pushOK(t, p, wechatsim.Cancellation("o_cluster_cancel"))
	pushOK(t, p, wechatsim.Revoke("o_cluster_revoke", "6"))
	for _, e := range []*apptest.Env{c.b, c.a} {
		apptest.Expect(t, e.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g1.AccessToken}), 401, "unauthorized")
		r := e.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g2.AccessToken})
		if r.Status != http.StatusOK || r.JSON(t)["nickname"] != "" {
			t.Errorf("revoked nickname still answered: %d %s", r.Status, r.Body)
		}
	}
}

// tamper changes one character of a safe-mode envelope's ciphertext.
func tamper(body []byte) []byte {
	out := []byte(string(body))
	i := strings.Index(string(out), `"Encrypt":"`) + len(`"Encrypt":"`) + 5
	if out[i] == 'A' {
		out[i] = 'B'
	} else {
		out[i] = 'A'
	}
	return out
}

// A developer without WeChat: the server runs its simulator, and
// `miniauth dev push` delivers events to it, signed and encrypted with
// the simulator's development settings.
func TestDevPushReachesTheSimulatedServer(t *testing.T) {
	t.Parallel()
	p := apptest.StartProcess(t, nil, nil)
	env := p.Env(nil)
	r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/login", Body: map[string]any{"code": "dev-code-1", "nickname": "Dev"}})
	g := grantOf(t, r)
	openid := wechatsim.DevOpenID("dev-code-1")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(apptest.Binary(t), append([]string{"dev", "push", "--url", p.URL}, args...)...)
		cmd.Env = apptest.Environ(map[string]string{"MINIAUTH_DATA_DIR": p.DataDir})
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("dev push %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run("check-url"); !strings.Contains(out, "URL check passed") {
		t.Errorf("check-url: %s", out)
	}
	run("--xml", "revoke", openid, "19")
	if u := meJSON(t, env, g.AccessToken); u["nickname"] != "" {
		t.Errorf("after dev push revoke: %v", u)
	}
	if out := run("cancel", openid); !strings.Contains(out, "200 success") {
		t.Errorf("cancel: %s", out)
	}
	expectUnauthorized(t, me(t, env, g.AccessToken))
}
