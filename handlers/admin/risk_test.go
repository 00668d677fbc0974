package admin_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/wechatsim"
)

// TestUserRiskRankShownAndFiltered: the sign-up risk rank is on the
// user's page (or "unknown" for a user WeChat could not rate, or "not
// checked"), and the users table keeps one rank's users, in both
// languages, on both databases.
func TestUserRiskRankShownAndFiltered(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t), Env: map[string]string{"MINIAUTH_RISK_MAX_RANK": "3"}})
		p.WeChat.SetRiskRank("o_rank1_a", 1)
		p.WeChat.SetRiskRank("o_rank1_b", 1)
		p.WeChat.SetRiskRank("o_rank3", 3)
		a := p.loginUser(t, "o_rank1_a", "", "rank-one-a")
		p.loginUser(t, "o_rank1_b", "", "rank-one-b")
		r3 := p.loginUser(t, "o_rank3", "", "rank-three")
		p.WeChat.Fail(wechatsim.PathRiskRank, wechatsim.Failure{ErrCode: -1})
		unk := p.loginUser(t, "o_unrated", "", "unrated-one")
		cookie := p.signIn(t)

		expectHTML(t, p.get(t, fmt.Sprintf("/admin/users/%d", a.UserID()), cookie), http.StatusOK,
			`id="user-risk"><a href="/admin/users?risk=1">1</a>`, "getUserRiskRank")
		expectHTML(t, p.get(t, fmt.Sprintf("/admin/users/%d", r3.UserID()), cookie), http.StatusOK,
			`<a href="/admin/users?risk=3">3</a>`)
		expectHTML(t, p.get(t, fmt.Sprintf("/admin/users/%d", unk.UserID()), cookie), http.StatusOK,
			`<a href="/admin/users?risk=unknown">unknown`)
		zh := p.Do(t, apptest.Request{Method: "GET", Path: fmt.Sprintf("/admin/users/%d", unk.UserID()),
			Header: map[string]string{"Cookie": "miniauth_admin=" + cookie + "; lang=zh-CN"}})
		expectHTML(t, zh, http.StatusOK, "注册风险", "未知")

		list := func(query string) string {
			r := p.get(t, "/admin/users"+query, cookie)
			expectHTML(t, r, http.StatusOK)
			return string(r.Body)
		}
		body := list("?risk=1")
		if !strings.Contains(body, "rank-one-a") || !strings.Contains(body, "rank-one-b") ||
			strings.Contains(body, "rank-three") || strings.Contains(body, "unrated-one") {
			t.Errorf("risk=1 lists the wrong users:\n%s", body)
		}
		if !strings.Contains(body, `<option value="1" selected>`) {
			t.Error("the risk filter does not show its value")
		}
		body = list("?risk=unknown")
		if !strings.Contains(body, "unrated-one") || strings.Contains(body, "rank-one-a") {
			t.Errorf("risk=unknown lists the wrong users:\n%s", body)
		}
		// With a search: both apply.
		body = list("?risk=1&q=rank-one-b")
		if !strings.Contains(body, "rank-one-b") || strings.Contains(body, ">rank-one-a<") {
			t.Errorf("risk=1 and a search:\n%s", body)
		}
		// A page link keeps the filter.
		if !strings.Contains(list("?risk=3&per_page=20"), "risk=3") {
			t.Error("links drop the risk filter")
		}
		// Nonsense is no filter.
		body = list("?risk=9")
		if !strings.Contains(body, "rank-one-a") || !strings.Contains(body, "unrated-one") {
			t.Error("an unknown risk value filtered the list")
		}
		// The CSV export takes the filter along.
		r := p.get(t, "/admin/users.csv?risk=3", cookie)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "o_rank3") || strings.Contains(string(r.Body), "o_rank1_a") {
			t.Errorf("export with risk=3: %d\n%s", r.Status, r.Body)
		}
	})
}
