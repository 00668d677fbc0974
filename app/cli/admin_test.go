package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
)

// runCLI runs a command line against a data dir (and database URL, ""
// for SQLite in the data dir) and returns the exit status and what it
// printed.
func runCLI(t *testing.T, dataDir, dbURL, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	vars := map[string]string{"MINIAUTH_DATA_DIR": dataDir, "MINIAUTH_DATABASE_URL": dbURL}
	code := Run(&Env{Args: args, Getenv: func(k string) string { return vars[k] }, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut})
	return code, out.String(), errOut.String()
}

// migrate creates the database, as only migrate and the server may.
func migrate(t *testing.T, dataDir, dbURL string) {
	t.Helper()
	if code, out, errOut := runCLI(t, dataDir, dbURL, "", "migrate"); code != 0 {
		t.Fatalf("migrate: exit %d %q %q", code, out, errOut)
	}
}

func TestAdminCommands(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) { testAdminCommands(t, b.URL(t)) })
}

func testAdminCommands(t *testing.T, dbURL string) {
	dir := t.TempDir()
	migrate(t, dir, dbURL)
	cases := []struct {
		stdin   string
		args    []string
		code    int
		out     string // in stdout (or stderr when code != 0)
		notHave string
	}{
		{"long enough password\n", []string{"admin", "create", "--username", "Alice", "--password-stdin"}, 0, `admin "alice" created`, ""},
		{"another password!\n", []string{"admin", "create", "--username", "alice", "--password-stdin"}, 1, "already exists", ""},
		{"short\n", []string{"admin", "create", "--username", "bob", "--password-stdin"}, 1, "at least 10 characters", ""},
		{"\n", []string{"admin", "create", "--username", "bob", "--password-stdin"}, 1, "must not be empty", ""},
		{"", []string{"admin", "create", "--username", "bob"}, 1, "--password-stdin is required", ""},
		{"", []string{"admin", "create", "--password-stdin"}, 1, "--username is required", ""},
		{"windows password\r\n", []string{"admin", "create", "--username", "bob", "--password-stdin"}, 0, "created", ""},
		{"", []string{"admin", "list"}, 0, "alice", "password"},
		{"a new long password\n", []string{"admin", "passwd", "--username", "bob", "--password-stdin"}, 0, "password of \"bob\" changed", ""},
		{"a new long password\n", []string{"admin", "passwd", "--username", "carol", "--password-stdin"}, 1, "no admin with that username", ""},
		{"", []string{"admin", "delete", "--username", "bob"}, 0, `admin "bob" deleted`, ""},
		{"", []string{"admin", "delete", "--username", "bob"}, 1, "no admin with that username", ""},
		{"", []string{"admin", "frobnicate"}, 1, "unknown subcommand", ""},
		{"", []string{"admin"}, 1, "Usage", ""},
	}
	for _, c := range cases {
		code, out, errOut := runCLI(t, dir, dbURL, c.stdin, c.args...)
		text := out
		if code != 0 {
			text = errOut
		}
		if code != c.code || !strings.Contains(text, c.out) || (c.notHave != "" && strings.Contains(out+errOut, c.notHave)) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d with %q", c.args, code, out, errOut, c.code, c.out)
		}
	}
	_, out, _ := runCLI(t, dir, dbURL, "", "admin", "list")
	if !strings.Contains(out, "alice") || strings.Contains(out, "bob") {
		t.Errorf("list after delete: %s", out)
	}
}

func TestDevSeed(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) { testDevSeed(t, b.URL(t)) })
}

func testDevSeed(t *testing.T, dbURL string) {
	dir := t.TempDir()
	migrate(t, dir, dbURL)
	code, out, errOut := runCLI(t, dir, dbURL, "", "dev", "seed", "--users", "1500")
	if code != 0 || !strings.Contains(out, "inserted 1500 fake users") {
		t.Fatalf("seed: %d %q %q", code, out, errOut)
	}
	// Its progress, into a pipe (a log), is whole lines, the last one done.
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if strings.Contains(errOut, "\r") || len(lines) > 11 || lines[len(lines)-1] != "seeded 1500/1500 users" {
		t.Fatalf("seed progress in a log: %q", errOut)
	}
	if code, _, errOut := runCLI(t, dir, dbURL, "", "dev", "seed", "--users", "0"); code == 0 || !strings.Contains(errOut, "between 1 and") {
		t.Fatalf("seed 0: %d %q", code, errOut)
	}
	if code, _, _ := runCLI(t, dir, dbURL, "", "dev"); code == 0 {
		t.Fatal("dev without a subcommand succeeded")
	}
}
