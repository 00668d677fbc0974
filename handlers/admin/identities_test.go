package admin_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/wechatsim"
)

const (
	shopApp      = apptest.AppID
	companionApp = "wxcompanion0000001"
)

// startTwoAppPanel runs the panel with two mini programs configured.
func startTwoAppPanel(t *testing.T, b apptest.Backend) *panel {
	t.Helper()
	wx := apptest.NewWeChat(t)
	wx.AddApp(companionApp, "companion-secret-0000000000000000")
	return startPanel(t, apptest.Options{DatabaseURL: b.URL(t), WeChat: wx, Env: map[string]string{
		"MINIAUTH_WECHAT_APPID": "", "MINIAUTH_WECHAT_SECRET": "",
		"MINIAUTH_WECHAT_APPS": shopApp + ":" + apptest.Secret + "," + companionApp + ":companion-secret-0000000000000000",
	}})
}

func (p *panel) appLogin(t *testing.T, app, openid, unionid string) *apptest.Grant {
	t.Helper()
	code := p.WeChat.NewCode(wechatsim.Identity{OpenID: openid, UnionID: unionid, AppID: app})
	return p.LoginWith(t, map[string]any{"code": code, "appid": app})
}

// TestUserIdentitiesInPanel: the user page lists every identity and any
// unionid conflict (on both users' pages); search finds a user by any
// openid or unionid; the CSV joins a user's identities in one row.
func TestUserIdentitiesInPanel(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startTwoAppPanel(t, b)
		cookie := p.signIn(t)
		alice := p.appLogin(t, shopApp, "o-shop-alice-000000000001", "u-alice-union-0000000001")
		p.appLogin(t, companionApp, "o-comp-alice-000000000001", "u-alice-union-0000000001")
		carol := p.appLogin(t, shopApp, "o-shop-carol-000000000003", "")
		// Carol's shop identity later brings Alice's unionid: a conflict.
		p.appLogin(t, shopApp, "o-shop-carol-000000000003", "u-alice-union-0000000001")

		page := p.get(t, fmt.Sprintf("/admin/users/%d", alice.UserID()), cookie)
		expectHTML(t, page, http.StatusOK, `id="identities-table"`, shopApp, companionApp,
			"o-shop-alice-000000000001", "o-comp-alice-000000000001", "u-alice-union-0000000001", `id="unionid-conflicts"`,
			fmt.Sprintf(`/admin/users/%d"`, carol.UserID()))
		expectHTML(t, p.get(t, fmt.Sprintf("/admin/users/%d", carol.UserID()), cookie), http.StatusOK,
			"o-shop-carol-000000000003", `id="unionid-conflicts"`, fmt.Sprintf(`/admin/users/%d"`, alice.UserID()))

		for _, q := range []string{"o-comp-alice-000000000001", "o-shop-alice-000000000001", "u-alice-union-0000000001"} {
			r := p.get(t, "/admin/users?q="+url.QueryEscape(q), cookie)
			expectHTML(t, r, http.StatusOK, fmt.Sprintf(`/admin/users/%d"`, alice.UserID()))
			if q != "u-alice-union-0000000001" && strings.Contains(string(r.Body), fmt.Sprintf(`/admin/users/%d"`, carol.UserID())) {
				t.Errorf("search %q found carol too", q)
			}
		}

		r := p.get(t, "/admin/users.csv", cookie)
		rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(r.Body, []byte("\ufeff")))).ReadAll()
		if err != nil || len(rows) != 3 {
			t.Fatalf("csv: %v %q", err, rows)
		}
		last := len(rows[0]) - 1
		if rows[0][last] != "identities" {
			t.Fatalf("header: %q", rows[0])
		}
		want := shopApp + ":o-shop-alice-000000000001:u-alice-union-0000000001; " + companionApp + ":o-comp-alice-000000000001:u-alice-union-0000000001"
		if rows[1][last] != want {
			t.Errorf("alice's identities cell %q, want %q", rows[1][last], want)
		}
		if rows[2][last] != shopApp+":o-shop-carol-000000000003:u-alice-union-0000000001" {
			t.Errorf("carol's identities cell %q", rows[2][last])
		}
	})
}
