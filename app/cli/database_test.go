package cli

import (
	"bytes"
	"database/sql"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"sort"
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

// pgTables counts the tables in a PostgreSQL database's schema.
func pgTables(t *testing.T, dbURL string) int {
	t.Helper()
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// untouched fails if the target database was created or given a schema.
func untouched(t *testing.T, what, target string) {
	t.Helper()
	if strings.HasPrefix(target, "postgres") {
		if n := pgTables(t, target); n != 0 {
			t.Errorf("%s: the PostgreSQL target got %d tables", what, n)
		}
	} else if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Errorf("%s: the target %s was created (%v)", what, target, err)
	}
}

// copy fails with one line, creating nothing, when --from names a file
// that does not exist (a typo used to create an empty source and report
// a complete copy), a file that is no database, or a database without
// miniauth's schema, on either backend, to either backend.
func TestCopyNeedsAMiniauthSource(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		work := t.TempDir()
		target := b.URL(t)
		if target == "" {
			target = filepath.Join(t.TempDir(), "target", "miniauth.db")
		}

		foreign := filepath.Join(work, "other-app.db")
		raw, err := sql.Open("sqlite3", foreign)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep')"); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		text := filepath.Join(work, "notes.txt")
		empty := filepath.Join(work, "empty.db")
		for path, content := range map[string]string{text: "not a database\n", empty: ""} {
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		snapshot := func() map[string]string {
			m := map[string]string{}
			for _, f := range files(t, work) {
				content, _ := os.ReadFile(filepath.Join(work, f))
				m[f] = string(content)
			}
			return m
		}
		before := snapshot()

		cases := []struct {
			from string
			says string
		}{
			{filepath.Join(work, "typo.db"), "does not exist"},
			{filepath.Join(work, "no-such-dir", "miniauth.db"), "does not exist"},
			{"sqlite://" + filepath.Join(work, "typo.db"), "does not exist"},
			{foreign, "no miniauth schema"},
			{empty, "no miniauth schema"},
			{text, "not a SQLite database"},
			{work, "not a file"},
		}
		if pg := os.Getenv(apptest.PostgresEnv); pg != "" {
			missing, _ := url.Parse(pg)
			missing.Path = "/miniauth_no_such_database"
			cases = append(cases,
				struct{ from, says string }{apptest.FreshPostgres(t), "no miniauth schema"},
				struct{ from, says string }{missing.String(), "does not exist"})
		}
		for _, c := range cases {
			code, out, errOut := runEnv(t, nil, "copy", "--from", c.from, "--to", target)
			oneLine(t, "copy --from "+c.from, code, out, errOut, []string{"--from", c.says})
			untouched(t, "copy --from "+c.from, target)
			if strings.HasPrefix(c.from, "postgres") && !strings.Contains(c.from, "no_such") {
				if n := pgTables(t, c.from); n != 0 {
					t.Errorf("copy --from %s: the source got %d tables", c.from, n)
				}
			}
		}
		if after := snapshot(); !maps.Equal(before, after) {
			t.Errorf("failed copies changed the source dir:\nbefore %q\n after %q", sortedNames(before), sortedNames(after))
		}
	})
}

func sortedNames(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// A PostgreSQL URL that parses but cannot be used fails with one line
// that shows neither the password in the URL nor one in its query.
func TestDatabaseErrorsNeverShowThePassword(t *testing.T) {
	for _, dbURL := range []string{
		"postgres://u:secretpw@127.0.0.1:1/db?sslmode=disable",
		"postgres://u:secretpw@127.0.0.1:1/db?sslmode=bogus",
		"postgres://u@127.0.0.1:1/db?password=secretpw&sslmode=bogus",
		"postgresql://u:secretpw@127.0.0.1:1/db?connect_timeout=abc",
		"postgres://u:secretpw@127.0.0.1:badport/db",
	} {
		for _, args := range [][]string{{"admin", "list"}, {"migrate"}, {"copy", "--from", dbURL, "--to", filepath.Join(t.TempDir(), "x.db")}} {
			code, out, errOut := runEnv(t, map[string]string{"MINIAUTH_DATABASE_URL": dbURL, "MINIAUTH_DATA_DIR": t.TempDir()}, args...)
			oneLine(t, strings.Join(args[:1], " ")+" "+dbURL, code, out, errOut, nil, "secretpw")
		}
	}
}
