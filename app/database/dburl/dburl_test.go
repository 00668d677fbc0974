package dburl_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/miniauth/miniauth/app/database/dburl"
)

func TestAcceptedForms(t *testing.T) {
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	cases := []struct {
		raw      string
		postgres bool
		path     string // SQLite file
		shown    string // String()
	}{
		{"postgres://u:secretpw@db.internal:5432/miniauth?sslmode=disable&password=other", true, "", "postgres://u@db.internal:5432/miniauth"},
		{"postgresql://db/miniauth", true, "", "postgres://db/miniauth"},
		{"postgres:///miniauth?host=/var/run/postgresql", true, "", "postgres:///miniauth (host /var/run/postgresql)"},
		{"sqlite:///var/lib/miniauth/miniauth.db", false, "/var/lib/miniauth/miniauth.db", "/var/lib/miniauth/miniauth.db"},
		{"sqlite3:///tmp/x.db?_foo=1", false, "/tmp/x.db", "/tmp/x.db"},
		{"sqlite://data/miniauth.db", false, "data/miniauth.db", abs("data/miniauth.db")},
		{"/var/lib/miniauth/miniauth.db", false, "/var/lib/miniauth/miniauth.db", "/var/lib/miniauth/miniauth.db"},
		{"data/miniauth.db", false, "data/miniauth.db", abs("data/miniauth.db")},
		{"./odd:name.db", false, "./odd:name.db", abs("./odd:name.db")},
	}
	for _, c := range cases {
		l, err := dburl.Parse(c.raw)
		if err != nil {
			t.Errorf("%s: %v", c.raw, err)
			continue
		}
		if l.Postgres != c.postgres || l.Path != c.path || l.String() != c.shown {
			t.Errorf("%s: got %+v shown as %q; want postgres=%v path %q shown %q", c.raw, l, l.String(), c.postgres, c.path, c.shown)
		}
		if strings.Contains(l.String(), "secretpw") || strings.Contains(l.String(), "other") {
			t.Errorf("%s: String() shows a password: %s", c.raw, l.String())
		}
	}
}

// Anything else is refused, with a message that never repeats the value
// (it may hold a password) and stays on one line.
func TestRefusedForms(t *testing.T) {
	for _, raw := range []string{
		"mysql://u:secretpw@h/db",
		"MYSQL://u:secretpw@h/db",
		"Postgres://u:secretpw@h/db",
		"postgres:u:secretpw@h/db",
		"postgres://u:secretpw@h:badport/db",
		"file:/var/lib/miniauth/secretpw.db",
		"redis://:secretpw@h",
		"sqlite://",
		"sqlite:/x/secretpw.db",
		"host=db user=u password=secretpw dbname=miniauth",
		"",
		"   ",
	} {
		l, err := dburl.Parse(raw)
		if err == nil {
			t.Errorf("%q accepted as %+v", raw, l)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "secretpw") || strings.Contains(msg, "\n") {
			t.Errorf("%q: message %q repeats the value or spans lines", raw, msg)
		}
	}
}
