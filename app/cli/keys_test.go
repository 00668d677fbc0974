package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/app/keys"
	"github.com/miniauth/miniauth/ent/auditentry"
)

func runWith(t *testing.T, vars map[string]string, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := Run(&Env{Args: args, Getenv: func(k string) string { return vars[k] }, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out})
	return code, out.String()
}

func TestKeysListAndRotate(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		dir, url := t.TempDir(), b.URL(t)
		migrate(t, dir, url)
		vars := map[string]string{"MINIAUTH_DATA_DIR": dir, "MINIAUTH_DATABASE_URL": url, "MINIAUTH_JWT_SECRET": strings.Repeat("s", 40)}
		if code, out := runWith(t, vars, "keys", "list"); code != 0 || !strings.Contains(out, "no signing keys") || !strings.Contains(out, "MINIAUTH_JWT_ALG is HS256") {
			t.Fatalf("list, none: %d %q", code, out)
		}
		if code, out := runWith(t, vars, "keys", "rotate"); code != 1 || !strings.Contains(out, "only ES256 and EdDSA") {
			t.Fatalf("rotate with HS256: %d %q", code, out)
		}
		vars["MINIAUTH_JWT_ALG"] = "ES256"
		code, out := runWith(t, vars, "keys", "rotate")
		if code != 0 || !strings.Contains(out, "signs from now on") || strings.Contains(out, "stays published") {
			t.Fatalf("first rotate: %d %q", code, out)
		}
		code, out = runWith(t, vars, "keys", "rotate")
		if code != 0 || !strings.Contains(out, "stays published until") {
			t.Fatalf("second rotate: %d %q", code, out)
		}
		code, out = runWith(t, vars, "keys", "list")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[1], "KID") || !strings.Contains(lines[2], "(signing)") ||
			!strings.Contains(lines[2], "ES256") || strings.Contains(lines[3], "(signing)") {
			t.Fatalf("list: %d\n%s", code, out)
		}
		// Another secret cannot rotate: its key would open for no server.
		other := map[string]string{}
		for k, v := range vars {
			other[k] = v
		}
		other["MINIAUTH_JWT_SECRET"] = strings.Repeat("x", 40)
		if code, out := runWith(t, other, "keys", "rotate"); code != 1 || !strings.Contains(out, "does not open") {
			t.Fatalf("rotate with another secret: %d %q", code, out)
		}
		if code, out := runWith(t, vars, "keys"); code != 1 || !strings.Contains(out, "Usage") {
			t.Fatalf("keys alone: %d %q", code, out)
		}
		dbURL := url
		if dbURL == "" {
			dbURL = filepath.Join(dir, "miniauth.db")
		}
		db := apptest.OpenDB(t, dbURL)
		list, err := keys.List(context.Background(), db)
		if err != nil || len(list) != 2 || !list[0].Signing || list[1].RetiresAt == nil {
			t.Fatalf("stored keys %+v %v", list, err)
		}
		n, err := db.Read.AuditEntry.Query().Where(auditentry.Action(audit.SigningKeyRotated), auditentry.Actor(audit.CLIActor)).Count(context.Background())
		if err != nil || n != 2 {
			t.Fatalf("%d rotation audit entries, want 2 (%v)", n, err)
		}
	})
}
