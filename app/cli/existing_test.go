package cli

import (
	"bytes"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
)

// runStdin is runEnv with stdin.
func runStdin(t *testing.T, vars map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(&Env{Args: args, Getenv: func(k string) string { return vars[k] }, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut})
	return code, out.String(), errOut.String()
}

// backendVars is the environment of a command against b: a data dir
// that does not exist yet and, on PostgreSQL, a fresh database reached
// through a URL with a password (which trust authentication ignores and
// no output may show). name is how commands must name the database.
func backendVars(t *testing.T, b apptest.Backend) (vars map[string]string, name, root string) {
	root = t.TempDir()
	data := filepath.Join(root, "data")
	vars = map[string]string{"MINIAUTH_DATA_DIR": data}
	name = filepath.Join(data, "miniauth.db")
	if dbURL := b.URL(t); dbURL != "" {
		u, err := url.Parse(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		user := ""
		if u.User != nil {
			user = u.User.Username()
		}
		u.User = url.UserPassword(user, "secretpw")
		vars["MINIAUTH_DATABASE_URL"] = u.String()
		u.User = nil
		if user != "" {
			u.User = url.User(user)
		}
		u.RawQuery = ""
		name = u.String()
	}
	return vars, name, root
}

// Only the server's first start and migrate create a database. Every
// other command pointed at a data dir (or PostgreSQL database) without
// one stops with one line naming it, and creates nothing: no data dir,
// no secret, no schema.
func TestCommandsDoNotCreateADatabase(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		vars, name, root := backendVars(t, b)
		says := []string{name, "MINIAUTH_DATA_DIR", "does not exist"}
		if b.Name == "postgres" {
			says = []string{name, "MINIAUTH_DATABASE_URL", "no miniauth schema"}
		}
		pw := "a long enough password\n"
		for _, c := range []struct {
			stdin string
			args  []string
		}{
			{"", []string{"admin", "list"}},
			{pw, []string{"admin", "create", "--username", "ops", "--password-stdin"}},
			{pw, []string{"admin", "passwd", "--username", "ops", "--password-stdin"}},
			{"", []string{"admin", "delete", "--username", "ops"}},
			{"", []string{"dev", "seed", "--users", "5"}},
			{"", []string{"backup", filepath.Join(root, "backup.db")}},
			{"", []string{"migrate", "--dry-run"}},
		} {
			code, out, errOut := runStdin(t, vars, c.stdin, c.args...)
			what := strings.Join(c.args, " ")
			switch {
			case b.Name == "postgres" && c.args[0] == "backup":
				oneLine(t, what, code, out, errOut, []string{"SQLite"}, "secretpw")
			case b.Name == "postgres" && c.args[0] == "migrate":
				// The database exists; a dry run shows the SQL that would
				// create the schema, and runs none of it.
				if code != 0 || !strings.Contains(out, "CREATE TABLE") || strings.Contains(errOut+out, "secretpw") {
					t.Errorf("%s: exit %d, stdout %.80q, stderr %q", what, code, out, errOut)
				}
			default:
				oneLine(t, what, code, out, errOut, says, "secretpw")
			}
		}
		if got := files(t, root); len(got) > 0 {
			t.Errorf("commands created %v", got)
		}
		if dbURL := vars["MINIAUTH_DATABASE_URL"]; dbURL != "" {
			if n := pgTables(t, dbURL); n != 0 {
				t.Errorf("commands created %d tables", n)
			}
		}
		// migrate may create it, and then the others work.
		if code, _, errOut := runStdin(t, vars, "", "migrate"); code != 0 {
			t.Fatalf("migrate: %d %q", code, errOut)
		}
		if code, _, errOut := runStdin(t, vars, pw, "admin", "create", "--username", "ops", "--password-stdin"); code != 0 {
			t.Fatalf("admin create after migrate: %d %q", code, errOut)
		}
	})
}

// Every command's first line names the database it acts on: the SQLite
// file's absolute path, or the PostgreSQL URL without its password. It
// goes to stderr, so that stdout stays what scripts read.
func TestEveryCommandNamesItsDatabaseFirst(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		vars, name, root := backendVars(t, b)
		first := "database: " + name + "\n"
		pw := "a long enough password\n"
		cases := []struct {
			stdin string
			args  []string
		}{
			{"", []string{"migrate"}},
			{"", []string{"migrate", "--dry-run"}},
			{pw, []string{"admin", "create", "--username", "ops", "--password-stdin"}},
			{"", []string{"admin", "list"}},
			{pw, []string{"admin", "passwd", "--username", "ops", "--password-stdin"}},
			{"", []string{"admin", "delete", "--username", "ops"}},
			{"", []string{"dev", "seed", "--users", "3"}},
		}
		if b.Name == "sqlite" {
			cases = append(cases, struct {
				stdin string
				args  []string
			}{"", []string{"backup", filepath.Join(root, "backup.db")}})
		}
		for _, c := range cases {
			code, out, errOut := runStdin(t, vars, c.stdin, c.args...)
			if code != 0 || !strings.HasPrefix(errOut, first) || strings.Contains(out, "database:") || strings.Contains(out+errOut, "secretpw") {
				t.Errorf("%v: exit %d, stdout %.200q, stderr %.200q; want stderr to start with %q", c.args, code, out, errOut, first)
			}
		}

		target := filepath.Join(root, "copy", "miniauth.db")
		from := name
		if u := vars["MINIAUTH_DATABASE_URL"]; u != "" {
			from = u
		}
		code, out, errOut := runStdin(t, vars, "", "copy", "--from", from, "--to", target)
		if want := "database: " + name + " → " + target + "\n"; code != 0 || !strings.HasPrefix(errOut, want) || strings.Contains(out+errOut, "secretpw") {
			t.Errorf("copy: exit %d, stderr %.200q; want it to start with %q", code, errOut, want)
		}

		// serve logs JSON; its first record names the database. (An
		// address it cannot listen on stops it after it opened it.)
		vars["MINIAUTH_ADDR"] = "256.0.0.1:-1"
		code, _, errOut = runStdin(t, vars, "", "serve")
		line, _, _ := strings.Cut(errOut, "\n")
		var rec struct{ Msg string }
		if err := json.Unmarshal([]byte(line), &rec); code != 1 || err != nil || rec.Msg != "database: "+name || strings.Contains(errOut, "secretpw") {
			t.Errorf("serve: exit %d, first line %q (%v); want a JSON record with msg %q", code, line, err, "database: "+name)
		}
	})
}
