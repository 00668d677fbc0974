package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
)

// runEnv runs a command line with exactly the given variables.
func runEnv(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(&Env{Args: args, Getenv: func(k string) string { return vars[k] }, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
	return code, out.String(), errOut.String()
}

// files lists every path under dir (relative), to show what a command
// created.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if path != dir {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// oneLine checks a failure: exit 1 and one line on stderr that names
// every one of names and repeats none of hidden.
func oneLine(t *testing.T, what string, code int, stdout, stderr string, names []string, hidden ...string) {
	t.Helper()
	if code != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 {
		t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and one line on stderr", what, code, stdout, stderr)
	}
	for _, n := range names {
		if !strings.Contains(stderr, n) {
			t.Errorf("%s: %q does not name %s", what, stderr, n)
		}
	}
	for _, h := range hidden {
		if strings.Contains(stderr+stdout, h) {
			t.Errorf("%s: output repeats %q: %q", what, h, stderr)
		}
	}
}

// An unknown scheme in MINIAUTH_DATABASE_URL stops every command with one
// line naming the variable, never the password, and creates nothing (it
// used to become a SQLite file named ./mysql:/u:secretpw@h/db).
func TestUnknownDatabaseSchemeIsRefused(t *testing.T) {
	cwd := t.TempDir()
	t.Chdir(cwd)
	dataDir := filepath.Join(t.TempDir(), "data")
	vars := map[string]string{
		"MINIAUTH_DATA_DIR":     dataDir,
		"MINIAUTH_DATABASE_URL": "mysql://u:secretpw@h/db",
		// Should serve get past the database, it stops here instead of
		// serving for ever.
		"MINIAUTH_ADDR": "256.0.0.1:-1",
	}
	for _, args := range [][]string{
		{"serve"}, {"admin", "list"}, {"migrate"}, {"migrate", "--dry-run"}, {"backup", "b.db"}, {"dev", "seed", "--users", "1"},
	} {
		code, out, errOut := runEnv(t, vars, args...)
		oneLine(t, strings.Join(args, " "), code, out, errOut, []string{"MINIAUTH_DATABASE_URL", "mysql"}, "secretpw")
	}
	if got := append(files(t, cwd), files(t, filepath.Dir(dataDir))...); len(got) > 0 {
		t.Errorf("refused commands created %v", got)
	}
}

// copy checks --from and --to the same way, before opening either.
func TestCopyRefusesUnknownSchemes(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		cwd := t.TempDir()
		t.Chdir(cwd)
		src := b.URL(t)
		if src == "" {
			src = filepath.Join(t.TempDir(), "source.db")
		}
		apptest.OpenDB(t, src) // a real miniauth database
		for _, c := range []struct {
			flag     string
			from, to string
		}{
			{"--to", src, "mysql://u:secretpw@h/db"},
			{"--to", src, "file:target-secretpw.db"},
			{"--from", "mysql://u:secretpw@h/db", filepath.Join(cwd, "target.db")},
		} {
			code, out, errOut := runEnv(t, nil, "copy", "--from", c.from, "--to", c.to)
			oneLine(t, "copy "+c.flag, code, out, errOut, []string{c.flag}, "secretpw")
		}
		if got := files(t, cwd); len(got) > 0 {
			t.Errorf("refused copies created %v", got)
		}
	})
}
