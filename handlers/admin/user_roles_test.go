package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/ent/admin"
)

// An operator sets a user's roles on the user page: /api/auth/verify
// answers them at once, the page and the audit log show them, the user
// list filters by them; a malformed list is refused with the page and
// its message, nothing changed; a viewer sees the roles but cannot set
// them.
func TestOperatorSetsUserRoles(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t)})
		cookie := p.signIn(t)
		g := p.loginUser(t, "o-roles-openid-00000000001", "", "Roled")
		other := p.loginUser(t, "o-roles-openid-00000000002", "", "Plain")
		path := fmt.Sprintf("/admin/users/%d", g.UserID())
		page := p.get(t, path, cookie)
		expectHTML(t, page, http.StatusOK, `id="user-roles"`, `action="`+path+`/roles"`, "Save roles")
		token := csrf(t, page)
		verify := func(token string) string {
			r := p.Do(t, apptest.Request{Method: "GET", Path: "/api/auth/verify", Token: token})
			if r.Status != http.StatusOK {
				t.Fatalf("verify: %d", r.Status)
			}
			return r.Header.Get("X-Miniauth-Roles")
		}
		verify(g.AccessToken) // cached before the change

		r := p.form(t, path+"/roles", cookie, url.Values{"csrf": {token}, "roles": {" vip , editor,vip"}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != path {
			t.Fatalf("save roles: %d %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
		}
		if got := verify(g.AccessToken); got != "editor,vip" {
			t.Fatalf("verify after the panel's change: %q", got)
		}
		if got := verify(other.AccessToken); got != "" {
			t.Fatalf("another user's roles: %q", got)
		}
		expectHTML(t, p.get(t, path, cookie), http.StatusOK, `<span class="badge badge-role">editor</span>`, `value="editor, vip"`)

		// Refused: the page again, with the message and what was typed.
		for _, bad := range []string{"Editor", "a,,b", "ok, no way", strings.Repeat("x", 33), "r1,r2,r3,r4,r5,r6,r7,r8,r9,r10,r11,r12,r13,r14,r15,r16,r17"} {
			r := p.form(t, path+"/roles", cookie, url.Values{"csrf": {token}, "roles": {bad}})
			expectHTML(t, r, http.StatusBadRequest, `id="roles-error"`, "at most 16 roles")
			if !strings.Contains(string(r.Body), `value="`+bad) {
				t.Errorf("%q: the typed text is not kept", bad)
			}
		}
		if got := verify(g.AccessToken); got != "editor,vip" {
			t.Fatalf("a refused change changed the roles: %q", got)
		}
		expectHTML(t, p.form(t, path+"/roles", cookie, url.Values{"roles": {"x"}}), http.StatusForbidden)
		expectHTML(t, p.form(t, "/admin/users/999999/roles", cookie, url.Values{"csrf": {token}, "roles": {"x"}}), http.StatusNotFound)

		// The list filters by role; the search box still applies.
		list := string(p.get(t, "/admin/users?role=vip", cookie).Body)
		if !strings.Contains(list, "Roled") || strings.Contains(list, "Plain") {
			t.Errorf("role filter vip:\n%s", list)
		}
		for _, role := range []string{"vi", "ip", "edit", "v_p"} {
			if body := string(p.get(t, "/admin/users?role="+role, cookie).Body); strings.Contains(body, "Roled") {
				t.Errorf("role filter %q matches a user with roles editor,vip", role)
			}
		}
		if body := string(p.get(t, "/admin/users?role=editor&q=Pla", cookie).Body); strings.Contains(body, "Roled") || strings.Contains(body, "Plain") {
			t.Errorf("role and search together:\n%s", body)
		}

		// Fifty saves at once from two lists: one of them wins whole.
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				roles := "a,b"
				if i%2 == 1 {
					roles = "c"
				}
				if r := p.form(t, path+"/roles", cookie, url.Values{"csrf": {token}, "roles": {roles}}); r.Status != http.StatusSeeOther {
					t.Errorf("concurrent save: %d", r.Status)
				}
			}()
		}
		wg.Wait()
		if got := verify(g.AccessToken); got != "a,b" && got != "c" {
			t.Fatalf("after concurrent saves: %q", got)
		}

		// Audited with before and after; in words in both languages.
		entries := p.auditEntries(t, audit.UserRolesChanged)
		if len(entries) < 2 || entries[0].Actor != adminName || *entries[0].TargetUserID != g.UserID() || entries[0].Detail != "(none) → editor,vip" {
			t.Fatalf("audit entries: %+v", entries)
		}
		expectHTML(t, p.get(t, "/admin/audit", cookie), http.StatusOK, "changed a user&#39;s roles")
		expectHTML(t, p.getLang(t, path, cookie, "zh-CN", ""), http.StatusOK, "角色", "修改用户角色")

		// A viewer sees the roles, not the form, and may not post it.
		if _, err := admins.New(p.Server.DB, p.Server.Keys).CreateWithRole(context.Background(), viewerName, viewerPassword, admin.RoleViewer); err != nil {
			t.Fatal(err)
		}
		vc := p.signInAs(t, viewerName, viewerPassword)
		vpage := p.get(t, path, vc)
		expectHTML(t, vpage, http.StatusOK, `id="user-roles"`, `badge-role`)
		if strings.Contains(string(vpage.Body), `id="roles-input"`) {
			t.Error("a viewer sees the roles form")
		}
		expectHTML(t, p.form(t, path+"/roles", vc, url.Values{"csrf": {csrf(t, vpage)}, "roles": {"x"}}), http.StatusForbidden)
		if got := verify(g.AccessToken); got == "x" {
			t.Fatal("a viewer changed the roles")
		}
	})
}
