package importer_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/importer/importtest"
	"github.com/miniauth/miniauth/app/wechatsim"
)

// An import with --force while 100 users of the file log in at once:
// whoever comes first (the login or the import) creates the user, and
// nobody ends up with two accounts. On PostgreSQL a login can take an
// openid between the import's checks and its inserts: the batch is
// decided again.
func TestImportWhileUsersLogIn(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		d := newDeployment(t, b)
		d.mustRun(t, "migrate")
		file, e := writeFile(t, "_User.0.jsonl", func(f *os.File) (*importtest.Export, error) { return importtest.LeanCloud(f, 3000, true) })
		env := d.start(t)
		imported := e.Imported()

		var wg sync.WaitGroup
		errs := make(chan string, 100)
		for i := 0; i < 100; i++ {
			p := imported[len(imported)-1-i*7] // from the end: logins that beat the import to it
			wg.Add(1)
			go func() {
				defer wg.Done()
				code := env.WeChat.NewCode(wechatsim.Identity{OpenID: p.OpenID})
				r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/login", Body: map[string]any{"code": code}})
				if r.Status != http.StatusOK && !(p.Disabled && r.Status == http.StatusForbidden) {
					errs <- fmt.Sprintf("login of %s: %d %s", p.OpenID, r.Status, r.Body)
				}
			}()
		}
		code, out, errOut := d.run(t, "import", "--from", "leancloud", file, "--force", "--disabled-field", importtest.DisabledField)
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
		if code != 0 {
			t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
		}
		users := d.users(t)
		byOpenID := map[string]int{}
		for _, u := range users {
			for _, id := range u.Identities {
				byOpenID[id.OpenID]++
			}
		}
		for _, p := range imported {
			if byOpenID[p.OpenID] != 1 {
				t.Errorf("openid %s belongs to %d users, want 1", p.OpenID, byOpenID[p.OpenID])
			}
		}
		if len(users) != len(imported) {
			t.Errorf("%d users, want %d (one per openid of the file)", len(users), len(imported))
		}
		if !strings.HasPrefix(lastLine(out), "imported ") {
			t.Errorf("last line %q", lastLine(out))
		}
	})
}
