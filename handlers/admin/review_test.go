package admin_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/avatars/avatartest"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/admin"
	"github.com/miniauth/miniauth/ent/auditentry"
	"github.com/miniauth/miniauth/ent/reviewitem"
)

func uploadPNG(t testing.TB, p *panel, token string, seed int) string {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	w, _ := mw.CreateFormFile("file", "avatar")
	w.Write(avatartest.PNG(t, seed))
	mw.Close()
	r := p.Do(t, apptest.Request{Method: "POST", Path: "/api/me/avatar", Token: token, Body: b.Bytes(),
		Header: map[string]string{"Content-Type": mw.FormDataContentType()}})
	if r.Status != http.StatusOK {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	return r.JSON(t)["avatar_url"].(string)
}

var reviewIDs = regexp.MustCompile(`id="review-(\d+)"`)

func reviewAudit(t testing.TB, p *panel, action string, userID int) int {
	t.Helper()
	n, err := p.Server.DB.Read.AuditEntry.Query().Where(auditentry.Action(action), auditentry.TargetUserID(userID), auditentry.Actor(adminName)).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The review queue lists flagged nicknames and avatars newest first with
// the reason and the user; approve keeps the content, clear erases it;
// both need an operator and the CSRF token and are audited; the dashboard
// counts what waits.
func TestReviewQueue(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t), Env: map[string]string{"MINIAUTH_CONTENT_CHECK": "on"}})
		ann := p.loginUser(t, "o_review_ann", "", "Ann please review")
		ben := p.loginUser(t, "o_review_ben", "", "Ben review me")
		cat := p.loginUser(t, "o_review_cat", "", "Cat")
		avatar := uploadPNG(t, p, cat.AccessToken, 7)

		cookie := p.signIn(t)
		page := p.get(t, "/admin/review", cookie)
		expectHTML(t, page, http.StatusOK, "Ann please review", "Ben review me", avatar, "not checked: no public URL", "WeChat: review",
			fmt.Sprintf(`href="/admin/users/%d"`, ann.UserID()))
		ids := reviewIDs.FindAllSubmatch(page.Body, -1)
		if len(ids) != 3 {
			t.Fatalf("%d items listed", len(ids))
		}
		items, _ := p.Server.DB.Read.ReviewItem.Query().Order(ent.Desc(reviewitem.FieldCreatedAt), ent.Desc(reviewitem.FieldID)).All(context.Background())
		for i, it := range items {
			if string(ids[i][1]) != fmt.Sprint(it.ID) {
				t.Errorf("item %d listed as %s, want newest first (%d)", i, ids[i][1], it.ID)
			}
		}
		expectHTML(t, p.get(t, "/admin/", cookie), http.StatusOK, `id="stat-review">3<`)
		token := csrf(t, page)
		idOf := func(userID int) int {
			for _, it := range items {
				if it.UserID == userID {
					return it.ID
				}
			}
			t.Fatalf("no item of user %d", userID)
			return 0
		}
		action := func(id int, what string) string { return fmt.Sprintf("/admin/review/%d/%s", id, what) }

		// Without the CSRF token: refused, nothing changes.
		if r := p.form(t, action(idOf(ann.UserID()), "clear"), cookie, url.Values{}); r.Status != http.StatusForbidden {
			t.Errorf("no CSRF: %d", r.Status)
		}
		// A viewer may look, not act.
		if _, err := admins.New(p.Server.DB, p.Server.Keys).CreateWithRole(context.Background(), viewerName, viewerPassword, admin.RoleViewer); err != nil {
			t.Fatal(err)
		}
		vc := p.signInAs(t, viewerName, viewerPassword)
		vpage := p.get(t, "/admin/review", vc)
		expectHTML(t, vpage, http.StatusOK, "Ann please review")
		if strings.Contains(string(vpage.Body), "/approve") {
			t.Error("a viewer is offered the actions")
		}
		if r := p.form(t, action(idOf(ann.UserID()), "clear"), vc, url.Values{"csrf": {csrf(t, vpage)}}); r.Status != http.StatusForbidden {
			t.Errorf("viewer clear: %d", r.Status)
		}

		// Approve: the nickname stays, the item goes.
		r := p.form(t, action(idOf(ann.UserID()), "approve"), cookie, url.Values{"csrf": {token}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/admin/review" {
			t.Fatalf("approve: %d %s", r.Status, r.Header.Get("Location"))
		}
		if u := p.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: ann.AccessToken}).JSON(t); u["nickname"] != "Ann please review" {
			t.Errorf("approved nickname: %v", u)
		}
		if reviewAudit(t, p, "review_approved", ann.UserID()) != 1 {
			t.Error("no audit entry for approve")
		}

		// Clear, a hundred times at once: one succeeds, the rest find
		// nothing; the nickname is erased at once.
		benItem := idOf(ben.UserID())
		var ok, gone atomic.Int32
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				switch r := p.form(t, action(benItem, "clear"), cookie, url.Values{"csrf": {token}}); r.Status {
				case http.StatusSeeOther:
					ok.Add(1)
				case http.StatusNotFound:
					gone.Add(1)
				default:
					t.Errorf("clear at once: %d", r.Status)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 || gone.Load() != 99 {
			t.Errorf("clears: %d ok, %d not found", ok.Load(), gone.Load())
		}
		if u := p.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: ben.AccessToken}).JSON(t); u["nickname"] != "" {
			t.Errorf("cleared nickname: %v", u)
		}
		if reviewAudit(t, p, "review_cleared", ben.UserID()) != 1 {
			t.Error("want one audit entry for clear")
		}

		// Clear the avatar: avatar_url "" and the file gone.
		p.form(t, action(idOf(cat.UserID()), "clear"), cookie, url.Values{"csrf": {token}})
		if u := p.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: cat.AccessToken}).JSON(t); u["avatar_url"] != "" {
			t.Errorf("cleared avatar: %v", u)
		}
		if r := p.Do(t, apptest.Request{Method: "GET", Path: avatar}); r.Status != http.StatusNotFound {
			t.Errorf("cleared avatar file still served: %d", r.Status)
		}
		expectHTML(t, p.get(t, "/admin/review", cookie), http.StatusOK, `id="no-review"`)
		expectHTML(t, p.get(t, "/admin/", cookie), http.StatusOK, `id="stat-review">0<`)
		if r := p.form(t, "/admin/review/999999/approve", cookie, url.Values{"csrf": {token}}); r.Status != http.StatusNotFound {
			t.Errorf("unknown item: %d", r.Status)
		}
		if r := p.form(t, "/admin/review/x/approve", cookie, url.Values{"csrf": {token}}); r.Status != http.StatusNotFound {
			t.Errorf("bad id: %d", r.Status)
		}
	})
}
