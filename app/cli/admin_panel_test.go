package cli

import (
	"bytes"
	"context"
	"encoding/base32"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/app/keys"
	"github.com/miniauth/miniauth/ent/auditentry"
)

// authenticator plays the operator with a phone: it reads the secret
// from what `admin totp` prints, and types a wrong code, then the right one.
type authenticator struct {
	mu    sync.Mutex
	out   bytes.Buffer
	stdin *io.PipeWriter
	sent  bool
}

var secretParam = regexp.MustCompile(`secret=([A-Z2-7]+)`)

func (a *authenticator) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.out.Write(p)
	if m := secretParam.FindSubmatch(a.out.Bytes()); m != nil && !a.sent {
		a.sent = true
		secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(string(m[1]))
		if err != nil {
			return 0, err
		}
		code := admins.TOTPCodeAt(secret, time.Now())
		go func() {
			io.WriteString(a.stdin, "000000\n"+code+"\n")
			a.stdin.Close()
		}()
	}
	return len(p), nil
}

func (a *authenticator) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.out.String()
}

func TestAdminRoleAndTOTPCommands(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		dir, dbURL := t.TempDir(), b.URL(t)
		migrate(t, dir, dbURL)
		expect := func(stdin string, wantCode int, want string, args ...string) string {
			t.Helper()
			code, out, errOut := runCLI(t, dir, dbURL, stdin, args...)
			if code != wantCode || !strings.Contains(out+errOut, want) {
				t.Errorf("%v: exit %d\nstdout %s\nstderr %s\nwant exit %d with %q", args, code, out, errOut, wantCode, want)
			}
			return out
		}
		expect("a long enough password\n", 0, "role operator", "admin", "create", "--username", "olga", "--password-stdin")
		expect("a long enough password\n", 0, "role viewer", "admin", "create", "--username", "victor", "--role", "viewer", "--password-stdin")
		expect("a long enough password\n", 1, "role must be operator or viewer", "admin", "create", "--username", "root", "--role", "root", "--password-stdin")
		expect("", 1, "--role is only for create", "admin", "list", "--role", "viewer")
		expect("", 1, "--role operator|viewer is required", "admin", "role", "--username", "olga")
		expect("", 1, "no admin with that username", "admin", "role", "--username", "nobody", "--role", "viewer")
		expect("", 0, `"olga" is now viewer`, "admin", "role", "--username", "olga", "--role", "viewer")
		list := expect("", 0, "ROLE", "admin", "list")
		if !regexp.MustCompile(`olga\s+viewer\s+off`).MatchString(list) {
			t.Errorf("list:\n%s", list)
		}

		// Enrollment: QR and URI shown, a wrong code refused, the right one
		// accepted, ten recovery codes printed.
		stdinR, stdinW := io.Pipe()
		phone := &authenticator{stdin: stdinW}
		var errOut bytes.Buffer
		vars := map[string]string{"MINIAUTH_DATA_DIR": dir, "MINIAUTH_DATABASE_URL": dbURL}
		code := Run(&Env{Args: []string{"admin", "totp", "--username", "victor"}, Getenv: func(k string) string { return vars[k] },
			Stdin: stdinR, Stdout: phone, Stderr: &errOut})
		out := phone.String()
		if code != 0 {
			t.Fatalf("totp: exit %d\n%s\n%s", code, out, errOut.String())
		}
		recovery := regexp.MustCompile(`(?m)^  [a-z2-9]{5}-[a-z2-9]{5}$`).FindAllString(out, -1)
		if !strings.Contains(out, "otpauth://totp/miniauth:victor?") || !strings.Contains(out, "▀") ||
			!strings.Contains(out, "That code is wrong") || len(recovery) != 10 {
			t.Errorf("enrollment printed (%d recovery codes):\n%s", len(recovery), out)
		}
		list = expect("", 0, "ROLE", "admin", "list")
		if !regexp.MustCompile(`victor\s+viewer\s+on`).MatchString(list) {
			t.Errorf("list after enrollment:\n%s", list)
		}
		expect("", 1, "already enrolled", "admin", "totp", "--username", "victor")
		expect("111111\n222222\n333333\n", 1, "not confirmed", "admin", "totp", "--username", "olga")
		expect("", 0, "removed", "admin", "totp", "--username", "victor", "--disable")
		expect("", 1, "no second factor", "admin", "totp", "--username", "victor", "--disable")
		expect("", 0, "deleted", "admin", "delete", "--username", "olga")

		// Every change is in the audit log with actor cli.
		db := apptest.OpenDB(t, dbPath(dir, dbURL))
		entries := db.Read.AuditEntry.Query().Where(auditentry.Actor(audit.CLIActor)).Order(auditentry.ByID()).AllX(context.Background())
		var got []string
		for _, e := range entries {
			got = append(got, e.Action+" "+e.TargetAdmin)
		}
		want := []string{"admin_created olga", "admin_created victor", "role_changed olga", "totp_enrolled victor", "totp_removed victor", "admin_deleted olga"}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("audit entries:\n got %v\nwant %v", got, want)
		}
	})
}

func dbPath(dir, dbURL string) string {
	if dbURL != "" {
		return dbURL
	}
	return dir + "/miniauth.db"
}

// `admin totp` seals the secret with the server's key. After `migrate`
// (which makes that key, as the server's first start would) it works and
// the server accepts its codes; on a database whose server key is not
// here, it refuses in one line instead of sealing with a throwaway key.
func TestAdminTOTPBeforeFirstStart(t *testing.T) {
	dir := t.TempDir()
	migrate(t, dir, "")
	if _, err := os.Stat(filepath.Join(dir, keys.SecretFile)); err != nil {
		t.Fatalf("migrate made no server key: %v", err)
	}
	// A data dir whose key went missing (kept elsewhere by the server).
	if err := os.Remove(filepath.Join(dir, keys.SecretFile)); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runCLI(t, dir, "", "a long enough password\n", "admin", "create", "--username", "kim", "--password-stdin"); code != 0 {
		t.Fatalf("admin create: exit %d", code)
	}
	code, out, errOut := runCLI(t, dir, "", "", "admin", "totp", "--username", "kim")
	if code != 1 || !strings.Contains(errOut, "server's key does not exist yet") || strings.Count(errOut, "admin totp") != 1 ||
		strings.Contains(out, "otpauth://") {
		t.Fatalf("admin totp without the server key: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
}
