package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/ent/phonefetch"
)

type offerJSON struct {
	Offer  bool   `json:"offer"`
	Reason string `json:"reason"`
}

// phoneOffer asks GET /api/me/phone/offer from ip (through the trusted
// proxy's X-Forwarded-For; "" is the loopback address).
func phoneOffer(t *testing.T, env *apptest.Env, token, ip string) offerJSON {
	t.Helper()
	status, body, err := askOffer(env, token, ip)
	if err != nil || status != http.StatusOK {
		t.Fatalf("offer: %d %s %v", status, body, err)
	}
	var o offerJSON
	if err := json.Unmarshal(body, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

// askOffer is a goroutine-safe offer request.
func askOffer(env *apptest.Env, token, ip string) (int, []byte, error) {
	h := map[string]string{}
	if ip != "" {
		h["X-Forwarded-For"] = ip
	}
	return call(env, "GET", "/api/me/phone/offer", token, nil, h)
}

func expectOffer(t *testing.T, got offerJSON, reason string) {
	t.Helper()
	if got.Reason != reason || got.Offer != (reason == "ok") {
		t.Fatalf("offer %+v, want reason %q", got, reason)
	}
}

// clearPhone erases a user's phone behind the API's back (as a revoked
// authorization would), so that the button may be offered again.
func clearPhone(t *testing.T, env *apptest.Env, userID int) {
	t.Helper()
	env.Server.DB.Write.User.UpdateOneID(userID).SetPhone("").ExecX(context.Background())
	env.Server.Sessions.Cache.ForgetUser(userID)
}

// noonZone is a MINIAUTH_TIMEZONE where it is now about noon, so that the
// minutes a test moves its clock on never cross midnight, where the
// day's counts start again. (Access tokens are checked against the real
// clock: a test logs its users in before it moves the clock.)
func noonZone() string {
	h := 12 - time.Now().UTC().Hour() // UTC+h is at noon
	if h >= 0 {
		return fmt.Sprintf("Etc/GMT-%d", h) // the Etc zones' signs are inverted
	}
	return fmt.Sprintf("Etc/GMT+%d", -h)
}

// TestPhoneOfferReasons walks every reason of GET /api/me/phone/offer on
// both databases, moving the clock instead of waiting.
func TestPhoneOfferReasons(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		clk := &clock.Shifted{}
		env := start(t, apptest.Options{DatabaseURL: b.URL(t), Clock: clk.Now, Env: map[string]string{
			"MINIAUTH_TIMEZONE":           noonZone(),
			"MINIAUTH_PHONE_USER_DAILY":   "2",
			"MINIAUTH_PHONE_IP_DAILY":     "3",
			"MINIAUTH_PHONE_DAILY_BUDGET": "4",
			"MINIAUTH_PHONE_COOLDOWN":     "1m",
			"MINIAUTH_RISK_MAX_RANK":      "2",
			"MINIAUTH_TRUSTED_PROXIES":    "127.0.0.1",
			"MINIAUTH_METRICS_ADDR":       "127.0.0.1:0",
		}})
		apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/me/phone/offer"}), http.StatusUnauthorized, "unauthorized")
		alice := env.Login(t, "o_offer_alice")
		bob := env.Login(t, "o_offer_bob")
		carol := env.Login(t, "o_offer_carol")
		dave := env.Login(t, "o_offer_dave")
		eve := env.Login(t, "o_offer_eve")
		expectOffer(t, phoneOffer(t, env, alice.AccessToken, ""), "ok")
		// Asking again keeps the one place.
		expectOffer(t, phoneOffer(t, env, alice.AccessToken, ""), "ok")
		if n := env.Server.DB.Read.PhoneFetch.Query().CountX(context.Background()); n != 1 {
			t.Fatalf("%d rows after two offers to one user, want 1", n)
		}
		expectUser(t, bindPhone(t, env, alice.AccessToken, env.WeChat.NewPhoneCodeFor("o_offer_alice", "13600000001", "86")))
		expectOffer(t, phoneOffer(t, env, alice.AccessToken, ""), "already_verified")

		clearPhone(t, env, alice.UserID())
		expectOffer(t, phoneOffer(t, env, alice.AccessToken, ""), "cooldown")
		clk.Shift(61 * time.Second)
		expectOffer(t, phoneOffer(t, env, alice.AccessToken, ""), "ok")
		expectUser(t, bindPhone(t, env, alice.AccessToken, env.WeChat.NewPhoneCodeFor("o_offer_alice", "13600000002", "86")))
		clearPhone(t, env, alice.UserID())
		clk.Shift(61 * time.Second)
		expectOffer(t, phoneOffer(t, env, alice.AccessToken, ""), "user_daily_cap") // 2 fetched today

		// 127.0.0.1 has 2 fetches; one more offer fills its 3.
		expectOffer(t, phoneOffer(t, env, bob.AccessToken, ""), "ok")
		expectOffer(t, phoneOffer(t, env, carol.AccessToken, ""), "ip_daily_cap")
		// From another address carol takes the budget's fourth place.
		expectOffer(t, phoneOffer(t, env, carol.AccessToken, "10.0.0.2"), "ok")
		expectOffer(t, phoneOffer(t, env, dave.AccessToken, "10.0.0.3"), "budget_exhausted")

		// Offers not taken expire and give their places back.
		clk.Shift(11 * time.Minute)
		expectOffer(t, phoneOffer(t, env, dave.AccessToken, "10.0.0.3"), "ok")

		// A user rated above the risk limit (signed up under a looser one).
		env.Server.DB.Write.User.UpdateOneID(eve.UserID()).SetRiskRank(3).ExecX(context.Background())
		expectOffer(t, phoneOffer(t, env, eve.AccessToken, "10.0.0.4"), "risk")

		// A new day: the caps start again.
		clk.Shift(24 * time.Hour)
		expectOffer(t, phoneOffer(t, env, alice.AccessToken, ""), "ok")

		text := scrape(t, env)
		for _, want := range []string{
			`miniauth_phone_numbers_fetched_total{appid="` + apptest.AppID + `"} 2`,
			`miniauth_phone_offers_total{reason="ok"} 7`,
			`miniauth_phone_offers_total{reason="cooldown"} 1`,
			`miniauth_phone_offers_total{reason="budget_exhausted"} 1`,
			`miniauth_phone_offers_total{reason="risk"} 1`,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}

// TestPhoneOfferFlood: a hundred users ask at once for the last places of
// a budget of 10: exactly 10 are offered. Then a hundred codes arrive at
// once: every one is redeemed and counted, and the budget stays spent.
func TestPhoneOfferFlood(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, map[string]string{"MINIAUTH_PHONE_DAILY_BUDGET": "10", "MINIAUTH_PHONE_IP_DAILY": "0"})
		const n = 100
		grants := make([]*apptest.Grant, n)
		for i := range grants {
			grants[i] = env.Login(t, fmt.Sprintf("o_flood_offer_%d", i))
		}
		offered := floodOffers(t, []*apptest.Env{env}, grants)
		if offered != 10 {
			t.Fatalf("%d of %d concurrent offers said ok, want exactly the budget of 10", offered, n)
		}

		codes := make([]string, n)
		for i := range codes {
			codes[i] = env.WeChat.NewPhoneCodeFor(fmt.Sprintf("o_flood_offer_%d", i), fmt.Sprintf("1350000%04d", i), "86")
		}
		var wg sync.WaitGroup
		results := make([]string, n)
		for i := range n {
			wg.Go(func() {
				status, body, err := call(env, "POST", "/api/me/phone", grants[i].AccessToken, map[string]any{"code": codes[i]}, nil)
				results[i] = fmt.Sprintf("%d %s %v", status, errorCodeOf(body), err)
			})
		}
		wg.Wait()
		for i, r := range results {
			if r != "200  <nil>" {
				t.Errorf("redeem %d: %s", i, r)
			}
		}
		ctx := context.Background()
		if got := env.Server.DB.Read.PhoneFetch.Query().Where(phonefetch.FetchedAtNotNil()).CountX(ctx); got != n {
			t.Errorf("%d fetches counted, want %d", got, n)
		}
		if got := env.Server.DB.Read.PhoneFetch.Query().CountX(ctx); got != n {
			t.Errorf("%d rows: the offers did not become their fetches", got)
		}
		day := env.Server.DB.Read.PhoneDay.Query().OnlyX(ctx)
		if day.Fetched != n {
			t.Errorf("today's count %d, want %d", day.Fetched, n)
		}
		late := env.Login(t, "o_flood_late")
		expectOffer(t, phoneOffer(t, env, late.AccessToken, ""), "budget_exhausted")
	})
}

// floodOffers fires one offer per grant at once, spread over the
// instances, and counts the offers.
func floodOffers(t *testing.T, envs []*apptest.Env, grants []*apptest.Grant) int {
	t.Helper()
	var wg sync.WaitGroup
	answers := make([]string, len(grants))
	start := make(chan struct{})
	for i, g := range grants {
		wg.Go(func() {
			<-start
			status, body, err := askOffer(envs[i%len(envs)], g.AccessToken, "")
			if err != nil || status != http.StatusOK {
				answers[i] = fmt.Sprintf("error %d %s %v", status, body, err)
				return
			}
			var o offerJSON
			json.Unmarshal(body, &o)
			answers[i] = o.Reason
		})
	}
	close(start)
	wg.Wait()
	offered := 0
	for i, a := range answers {
		switch a {
		case "ok":
			offered++
		case "budget_exhausted":
		default:
			t.Errorf("offer %d: %s", i, a)
		}
	}
	return offered
}

// TestClusterPhoneBudgetIsShared: two instances on one PostgreSQL share
// the day's budget: a flood spread over both is offered exactly the
// budget.
func TestClusterPhoneBudgetIsShared(t *testing.T) {
	c := startCluster(t, "MINIAUTH_PHONE_DAILY_BUDGET", "10", "MINIAUTH_PHONE_IP_DAILY", "0")
	const n = 60
	grants := make([]*apptest.Grant, n)
	for i := range grants {
		grants[i] = []*apptest.Env{c.a, c.b}[i%2].Login(t, fmt.Sprintf("o_cluster_offer_%d", i))
	}
	if offered := floodOffers(t, []*apptest.Env{c.a, c.b}, grants); offered != 10 {
		t.Fatalf("%d offers across two instances, want the shared budget of 10", offered)
	}
	// A redeem on B converts A's offer; the budget stays spent on both.
	for i := range 4 {
		env := []*apptest.Env{c.a, c.b}[i%2]
		r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/me/phone", Token: grants[i].AccessToken,
			Body: map[string]any{"code": c.wx.NewPhoneCode(fmt.Sprintf("1340000000%d", i), "86")}})
		if r.Status != http.StatusOK {
			t.Fatalf("redeem on instance %d: %d %s", i%2, r.Status, r.Body)
		}
	}
	late := c.b.Login(t, "o_cluster_late")
	expectOffer(t, phoneOffer(t, c.a, late.AccessToken, ""), "budget_exhausted")
}

// TestPhoneBillingReadings: WeChat's billing, read from the simulator
// (which bills each tap, as WeChat does), gives the remaining quota, the
// recent daily average and the taps paid for that never reached us.
func TestPhoneBillingReadings(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		clk := &clock.Shifted{}
		env := start(t, apptest.Options{DatabaseURL: b.URL(t), Clock: clk.Now, Env: map[string]string{
			"MINIAUTH_TIMEZONE": noonZone(), "MINIAUTH_METRICS_ADDR": "127.0.0.1:0", "MINIAUTH_PHONE_USER_DAILY": "0", "MINIAUTH_PHONE_COOLDOWN": "0",
		}})
		sim := env.WeChat
		ctx := context.Background()
		redeem := func(g *apptest.Grant, code string) {
			t.Helper()
			expectUser(t, bindPhone(t, env, g.AccessToken, code))
		}
		g := env.Login(t, "o_billing")
		taps := func(k int) []string {
			var out []string
			for i := range k {
				out = append(out, sim.NewPhoneCodeFor("o_billing", fmt.Sprintf("1330000%04d", i), "86"))
			}
			return out
		}
		first := taps(5)
		for _, c := range first[:3] {
			redeem(g, c)
		}
		env.Server.PollPhoneBilling(ctx)
		bill, err := env.Server.Profiles.PhoneBillingOf(ctx, apptest.AppID)
		if err != nil || bill == nil {
			t.Fatalf("billing: %+v %v", bill, err)
		}
		if bill.All != 1000 || bill.Used != 5 || bill.Remaining != 995 || bill.Unredeemed != 0 || bill.DailyAverage >= 0 {
			t.Fatalf("first reading %+v: want 995 left, the baseline of the gap, no average yet", bill)
		}

		// Four more taps, two of which reach us.
		clk.Shift(time.Minute)
		second := taps(4)
		redeem(g, second[0])
		redeem(g, second[1])
		env.Server.PollPhoneBilling(ctx)
		bill, _ = env.Server.Profiles.PhoneBillingOf(ctx, apptest.AppID)
		if bill.Used != 9 || bill.Remaining != 991 || bill.Unredeemed != 2 {
			t.Fatalf("second reading %+v: want 9 billed, 2 never redeemed", bill)
		}

		// Two days later, ten more taps, all redeemed.
		clk.Shift(48 * time.Hour)
		for _, c := range taps(10) {
			redeem(g, c)
		}
		env.Server.PollPhoneBilling(ctx)
		bill, _ = env.Server.Profiles.PhoneBillingOf(ctx, apptest.AppID)
		if bill.Used != 19 || bill.Remaining != 981 || bill.Unredeemed != 2 {
			t.Fatalf("third reading %+v", bill)
		}
		// The day's last reading (9 billed) to 19, two days later.
		if want := 5.0; math.Abs(bill.DailyAverage-want) > 0.01 {
			t.Errorf("daily average %.3f, want %.3f", bill.DailyAverage, want)
		}
		text := scrape(t, env)
		for _, want := range []string{
			`miniauth_phone_quota_remaining{appid="` + apptest.AppID + `"} 981`,
			`miniauth_phone_billed_calls{appid="` + apptest.AppID + `"} 19`,
			`miniauth_phone_unredeemed_calls{appid="` + apptest.AppID + `"} 2`,
			`miniauth_phone_numbers_fetched_total{appid="` + apptest.AppID + `"} 15`,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("metrics lack %s\n", want)
			}
		}

		if v := metricValue(t, text, `miniauth_phone_billed_daily_average{appid="`+apptest.AppID+`"}`); math.Abs(v-5) > 0.01 {
			t.Errorf("daily average metric %v, want 5", v)
		}

		// WeChat refusing the reading changes nothing.
		sim.Fail(wechatsim.PathChargeUsage, wechatsim.Failure{ErrCode: 48001})
		env.Server.PollPhoneBilling(ctx)
		if again, _ := env.Server.Profiles.PhoneBillingOf(ctx, apptest.AppID); again.Used != 19 {
			t.Errorf("a refused reading changed the billing: %+v", again)
		}
		if !strings.Contains(env.Logs.String(), "read WeChat's phone billing") {
			t.Error("a refused reading was not logged")
		}
	})
}

// metricValue is the value of one series in a metrics text.
func metricValue(t *testing.T, text, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("metrics lack %s", series)
	return 0
}
