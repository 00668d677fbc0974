package admin_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
)

// TestDashboardShowsPhoneCost: today's fetched numbers, the budget and
// WeChat's remaining quota, in English and Chinese.
func TestDashboardShowsPhoneCost(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t), Env: map[string]string{"MINIAUTH_PHONE_DAILY_BUDGET": "300"}})
		cookie := p.signIn(t)
		expectHTML(t, p.get(t, "/admin/", cookie), http.StatusOK,
			`id="stat-phone-today">0<`, `id="stat-phone-budget">300<`, `id="stat-phone-quota">—<`, "not read from WeChat yet")

		g := p.loginUser(t, "o_dash_phone", "", "")
		for _, phone := range []string{"13800000001", "13800000002"} {
			r := p.Do(t, apptest.Request{Method: "POST", Path: "/api/me/phone", Token: g.AccessToken,
				Body: map[string]any{"code": p.WeChat.NewPhoneCodeFor("o_dash_phone", phone, "86")}})
			if r.Status != http.StatusOK {
				t.Fatalf("bind: %d %s", r.Status, r.Body)
			}
		}
		p.WeChat.NewPhoneCode("13800000003", "86") // billed, never redeemed
		p.Server.PollPhoneBilling(context.Background())
		expectHTML(t, p.get(t, "/admin/", cookie), http.StatusOK,
			`id="stat-phone-today">2<`, `id="stat-phone-quota">997<`, "read 20")
		zh := p.Do(t, apptest.Request{Method: "GET", Path: "/admin/", Header: map[string]string{"Cookie": "miniauth_admin=" + cookie + "; lang=zh-CN"}})
		expectHTML(t, zh, http.StatusOK, "今日获取手机号", "微信手机号剩余额度", "读取于", `id="stat-phone-quota">997<`)
	})
}

// TestDashboardWithoutBudget says there is none.
func TestDashboardWithoutBudget(t *testing.T) {
	t.Parallel()
	p := startPanel(t, apptest.Options{})
	expectHTML(t, p.get(t, "/admin/", p.signIn(t)), http.StatusOK, `id="stat-phone-budget">none<`)
}
