package importer_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/cli"
	"github.com/miniauth/miniauth/app/exporter"
	"github.com/miniauth/miniauth/app/importer/importtest"
	"github.com/miniauth/miniauth/app/wechatsim"
)

func TestMain(m *testing.M) {
	code := m.Run()
	apptest.RemoveBinary()
	os.Exit(code)
}

// deployment is one miniauth's configuration: a data dir and, on
// PostgreSQL, a fresh database; commands run in this process.
type deployment struct {
	dataDir, dbURL string
	vars           map[string]string
}

func newDeployment(t *testing.T, b apptest.Backend) *deployment {
	d := &deployment{dataDir: t.TempDir(), dbURL: b.URL(t)}
	d.vars = map[string]string{
		"MINIAUTH_DATA_DIR":      d.dataDir,
		"MINIAUTH_DATABASE_URL":  d.dbURL,
		"MINIAUTH_WECHAT_APPID":  apptest.AppID,
		"MINIAUTH_WECHAT_SECRET": apptest.Secret,
	}
	return d
}

// run runs a miniauth command and returns its exit code and outputs.
func (d *deployment) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Run(&cli.Env{Args: args, Getenv: func(k string) string { return d.vars[k] },
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
	return code, out.String(), errOut.String()
}

// mustRun runs a command that must succeed and returns its stdout.
func (d *deployment) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := d.run(t, args...)
	if code != 0 {
		t.Fatalf("miniauth %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// users is every user, as `miniauth export -` writes them.
func (d *deployment) users(t *testing.T) []exporter.User {
	t.Helper()
	out := d.mustRun(t, "export", "-")
	var users []exporter.User
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var u exporter.User
		if err := json.Unmarshal(sc.Bytes(), &u); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		users = append(users, u)
	}
	return users
}

// start runs the server on the deployment's database.
func (d *deployment) start(t *testing.T) *apptest.Env {
	return apptest.Start(t, apptest.Options{DataDir: d.dataDir, DatabaseURL: d.dbURL})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// writeFile writes an export made by gen into a temp file.
func writeFile(t *testing.T, name string, gen func(f *os.File) (*importtest.Export, error)) (string, *importtest.Export) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := gen(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, e
}

// reportLine is a line of --report.
type reportLine struct {
	Line     int    `json:"line"`
	SourceID string `json:"source_id"`
	Reason   string `json:"reason"`
	Skipped  bool   `json:"skipped"`
	// The last line's counts.
	Passwords int `json:"passwords"`
}

func readReport(t *testing.T, path string) []reportLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []reportLine
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r reportLine
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("report line %q: %v", l, err)
		}
		out = append(out, r)
	}
	return out
}

// checkReport compares the report with what the generator says of each
// entry: one skipped line per entry not imported, one line per note.
func checkReport(t *testing.T, report []reportLine, e *importtest.Export) {
	t.Helper()
	want := map[string]string{} // "line reason skipped" → source id
	for _, p := range e.People {
		if p.Fate != importtest.Imported {
			want[fmt.Sprintf("%d %s true", p.Line, p.Fate)] = p.SourceID
		}
		for _, n := range p.Notes {
			want[fmt.Sprintf("%d %s false", p.Line, n)] = p.SourceID
		}
	}
	last := report[len(report)-1]
	if last.Reason != "not_imported" || last.Passwords == 0 {
		t.Errorf("the report's last line is %+v, want the not_imported counts with passwords", last)
	}
	got := map[string]string{}
	for _, r := range report[:len(report)-1] {
		got[fmt.Sprintf("%d %s %v", r.Line, r.Reason, r.Skipped)] = r.SourceID
	}
	for k, id := range want {
		if gid, ok := got[k]; !ok {
			t.Errorf("report has no line %q", k)
		} else if id != "" && gid != id && !strings.Contains(k, "invalid_json") {
			t.Errorf("report line %q names source id %q, want %q", k, gid, id)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("report has an unexpected line %q", k)
		}
	}
}

// checkUsers compares the imported users with the generator's people.
func checkUsers(t *testing.T, users []exporter.User, e *importtest.Export) map[string]exporter.User {
	t.Helper()
	byOpenID := map[string]exporter.User{}
	for _, u := range users {
		if len(u.Identities) != 1 || u.Identities[0].AppID != apptest.AppID {
			t.Fatalf("user %d has identities %+v, want one of %s", u.ID, u.Identities, apptest.AppID)
		}
		byOpenID[u.Identities[0].OpenID] = u
	}
	imported := e.Imported()
	if len(users) != len(imported) {
		t.Fatalf("%d users, want %d", len(users), len(imported))
	}
	for _, p := range imported {
		u, ok := byOpenID[p.OpenID]
		if !ok {
			t.Errorf("line %d (%s): no user with openid %s", p.Line, p.SourceID, p.OpenID)
			continue
		}
		union := ""
		if u.UnionID != nil {
			union = *u.UnionID
		}
		if u.Nickname != p.Nickname || u.AvatarURL != p.AvatarURL || u.Gender != p.Gender || u.Phone != p.Phone ||
			union != p.UnionID || u.Disabled != p.Disabled || !u.CreatedAt.Equal(p.CreatedAt) {
			t.Errorf("line %d: user %+v (unionid %q)\nwant %+v", p.Line, u, union, p)
		}
		if p.Phone != "" && u.PhoneCountryCode != "86" {
			t.Errorf("line %d: phone country code %q, want 86", p.Line, u.PhoneCountryCode)
		}
	}
	return byOpenID
}

// checkLogins logs imported users in through the simulated WeChat: each
// lands on their user with their profile, a disabled one is refused, and
// a skipped one is a new user.
func checkLogins(t *testing.T, env *apptest.Env, byOpenID map[string]exporter.User, e *importtest.Export, skippedFate string) {
	t.Helper()
	var checkedPhone, checkedUnion, checkedDisabled, checkedSkipped bool
	for _, p := range e.People {
		switch {
		case p.Fate == importtest.Imported && p.Disabled && !checkedDisabled:
			checkedDisabled = true
			code := env.WeChat.NewCode(wechatsim.Identity{OpenID: p.OpenID})
			apptest.Expect(t, env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/login", Body: map[string]any{"code": code}}),
				http.StatusForbidden, "user_disabled")
		case p.Fate == importtest.Imported && !p.Disabled && ((p.Phone != "" && !checkedPhone) || (p.UnionID != "" && !checkedUnion)):
			checkedPhone = checkedPhone || p.Phone != ""
			checkedUnion = checkedUnion || p.UnionID != ""
			code := env.WeChat.NewCode(wechatsim.Identity{OpenID: p.OpenID, UnionID: p.UnionID})
			g := env.LoginWith(t, map[string]any{"code": code})
			u := byOpenID[p.OpenID]
			if g.IsNewUser || g.UserID() != u.ID {
				t.Errorf("line %d: login is_new_user=%v as user %d, want user %d", p.Line, g.IsNewUser, g.UserID(), u.ID)
			}
			me := env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}).JSON(t)
			if me["nickname"] != p.Nickname || me["avatar_url"] != p.AvatarURL || me["gender"] != float64(p.Gender) || me["phone"] != p.Phone {
				t.Errorf("line %d: /api/me %v, want nickname %q avatar %q gender %d phone %q", p.Line, me, p.Nickname, p.AvatarURL, p.Gender, p.Phone)
			}
		case p.Fate == skippedFate && p.OpenID != "" && !checkedSkipped:
			checkedSkipped = true
			g := env.Login(t, p.OpenID)
			if !g.IsNewUser {
				t.Errorf("line %d (%s): its login landed on user %d, want a new user", p.Line, p.Fate, g.UserID())
			}
		}
	}
	if !checkedPhone || !checkedUnion || !checkedDisabled || !checkedSkipped {
		t.Fatalf("the export lacks a kind of user: phone %v unionid %v disabled %v skipped %v", checkedPhone, checkedUnion, checkedDisabled, checkedSkipped)
	}
}

func TestImportLeanCloud(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		d := newDeployment(t, b)
		file, e := writeFile(t, "_User.0.jsonl", func(f *os.File) (*importtest.Export, error) { return importtest.LeanCloud(f, 200, true) })
		report := filepath.Join(t.TempDir(), "report.jsonl")
		out := d.mustRun(t, "import", "--from", "leancloud", file, "--disabled-field", importtest.DisabledField, "--report", report)
		if got := lastLine(out); got != e.Summary() {
			t.Fatalf("last line %q, want %q\n%s", got, e.Summary(), out)
		}
		checkReport(t, readReport(t, report), e)
		byOpenID := checkUsers(t, d.users(t), e)

		// Again: nothing new, nothing changed.
		out = d.mustRun(t, "import", "--from", "leancloud", file, "--disabled-field", importtest.DisabledField)
		want := fmt.Sprintf("imported 0, already present %d, skipped %d", e.Fates[importtest.Imported]+e.Fates[importtest.DuplicateOpenID],
			e.Skipped()-e.Fates[importtest.DuplicateOpenID])
		if got := lastLine(out); got != want {
			t.Errorf("second import: %q, want %q", got, want)
		}
		again := checkUsers(t, d.users(t), e)
		for k, u := range byOpenID {
			if a := again[k]; a.ID != u.ID || !a.UpdatedAt.Equal(u.UpdatedAt) {
				t.Errorf("the second import changed user %d: %+v → %+v", u.ID, u, a)
			}
		}

		env := d.start(t)
		// LeanCloud's skipped users with an openid: the line cut short.
		checkLogins(t, env, byOpenID, e, importtest.InvalidJSON)
	})
}

func TestImportUniID(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		d := newDeployment(t, b)
		file, e := writeFile(t, "uni-id-users.json", func(f *os.File) (*importtest.Export, error) { return importtest.UniID(f, 200, true) })
		report := filepath.Join(t.TempDir(), "report.jsonl")
		args := []string{"import", "--from", "uni-id", file, "--app", importtest.DCloudApp + "=" + apptest.AppID, "--report", report}
		out := d.mustRun(t, args...)
		if got := lastLine(out); got != e.Summary() {
			t.Fatalf("last line %q, want %q\n%s", got, e.Summary(), out)
		}
		if e.Fates[importtest.AccountClosed] == 0 || e.Fates[importtest.UnmappedApp] == 0 {
			t.Fatalf("the export has no closed or unmapped users: %v", e.Fates)
		}
		checkReport(t, readReport(t, report), e)
		byOpenID := checkUsers(t, d.users(t), e)

		out = d.mustRun(t, args[:len(args)-2]...)
		if got := lastLine(out); !strings.HasPrefix(got, "imported 0, ") {
			t.Errorf("second import: %q, want nothing imported", got)
		}
		if n := len(d.users(t)); n != len(byOpenID) {
			t.Errorf("%d users after the second import, want %d", n, len(byOpenID))
		}

		env := d.start(t)
		// A closed account (status 4) is a new user at its next login.
		checkLogins(t, env, byOpenID, e, importtest.AccountClosed)
	})
}

// A dry run reports exactly what the import does, and writes nothing.
func TestImportDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		d := newDeployment(t, b)
		d.mustRun(t, "migrate")
		file, e := writeFile(t, "_User.0.jsonl", func(f *os.File) (*importtest.Export, error) { return importtest.LeanCloud(f, 120, true) })
		dryReport := filepath.Join(t.TempDir(), "dry.jsonl")
		out := d.mustRun(t, "import", "--from", "leancloud", file, "--dry-run", "--report", dryReport)
		if got := lastLine(out); got != e.Summary() || !strings.Contains(out, "dry run") {
			t.Fatalf("dry run said %q, want %q after a dry-run notice\n%s", got, e.Summary(), out)
		}
		if users := d.users(t); len(users) != 0 {
			t.Fatalf("the dry run wrote %d users", len(users))
		}
		realReport := filepath.Join(t.TempDir(), "real.jsonl")
		out = d.mustRun(t, "import", "--from", "leancloud", file, "--report", realReport)
		if got := lastLine(out); got != e.Summary() {
			t.Fatalf("import said %q, want %q", got, e.Summary())
		}
		dry, _ := os.ReadFile(dryReport)
		real, _ := os.ReadFile(realReport)
		if !bytes.Equal(dry, real) {
			t.Errorf("the dry run's report differs from the import's:\n%s\n---\n%s", dry, real)
		}
	})
}

// export → import into an empty database → export gives the same users:
// identities, profile, phone, status, times and login counts.
func TestExportImportRoundTrip(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		src := newDeployment(t, b)
		file, _ := writeFile(t, "_User.0.jsonl", func(f *os.File) (*importtest.Export, error) { return importtest.LeanCloud(f, 60, false) })
		src.mustRun(t, "import", "--from", "leancloud", file, "--disabled-field", importtest.DisabledField)
		env := src.start(t)
		// Logins give login counts, last-login times and new users.
		first := src.users(t)[0]
		env.Login(t, first.Identities[0].OpenID)
		env.Login(t, first.Identities[0].OpenID)
		code := env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_new_user", UnionID: "u_new_user"})
		env.LoginWith(t, map[string]any{"code": code, "nickname": "新用户 🎉", "gender": 2})
		env.Stop()

		exported := filepath.Join(t.TempDir(), "users.jsonl")
		if out := src.mustRun(t, "export", exported); !strings.Contains(out, "exported 60") && !strings.Contains(out, "exported ") {
			t.Errorf("export said %q", out)
		}
		before := src.users(t)

		dst := newDeployment(t, b)
		out := dst.mustRun(t, "import", "--from", "miniauth", exported)
		if got, want := lastLine(out), fmt.Sprintf("imported %d, already present 0, skipped 0", len(before)); got != want {
			t.Fatalf("import said %q, want %q", got, want)
		}
		after := dst.users(t)
		if len(after) != len(before) {
			t.Fatalf("%d users after the round trip, want %d", len(after), len(before))
		}
		for i := range before {
			a, b := before[i], after[i]
			a.ID, b.ID = 0, 0
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			if !bytes.Equal(ja, jb) {
				t.Errorf("user %d changed in the round trip:\n%s\n%s", before[i].ID, ja, jb)
			}
		}
		if before[0].LoginCount != 2 || before[0].LastLoginAt == nil {
			t.Errorf("the logins were not counted: %+v", before[0])
		}
		// Into the same database again: everyone is present.
		out = dst.mustRun(t, "import", "--from", "miniauth", exported)
		if got, want := lastLine(out), fmt.Sprintf("imported 0, already present %d, skipped 0", len(before)); got != want {
			t.Errorf("second import said %q, want %q", got, want)
		}
	})
}

// A file that is not the format named fails at once with one line,
// before any database is opened or created.
func TestImportWrongFormat(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, apptest.Backends()[0])
	uni, _ := writeFile(t, "uni.json", func(f *os.File) (*importtest.Export, error) { return importtest.UniID(f, 5, false) })
	lc, _ := writeFile(t, "lc.jsonl", func(f *os.File) (*importtest.Export, error) { return importtest.LeanCloud(f, 5, false) })
	csvFile := filepath.Join(t.TempDir(), "users.csv")
	os.WriteFile(csvFile, []byte("id,name\n1,x\n"), 0o600)
	noOpenID := filepath.Join(t.TempDir(), "nicknames.csv")
	os.WriteFile(noOpenID, []byte("nickname,gender\nx,1\n"), 0o600)
	binary := filepath.Join(t.TempDir(), "photo.png")
	os.WriteFile(binary, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), 0o600)
	for _, c := range []struct {
		from, file, says string
	}{
		{"leancloud", uni, "--from uni-id"},
		{"uni-id", lc, "--from leancloud"},
		{"miniauth", lc, "--from leancloud"},
		{"csv", csvFile, `unknown column "id"`},
		{"csv", noOpenID, "no openid column"},
		{"csv", lc, "not a CSV"},
		{"leancloud", binary, "not a LeanCloud"},
		{"uni-id", binary, "not a uni-id"},
	} {
		code, out, errOut := d.run(t, "import", "--from", c.from, c.file)
		if code != 1 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, c.says) {
			t.Errorf("--from %s %s: exit %d, stdout %q, stderr %q; want exit 1 and one line saying %q",
				c.from, filepath.Base(c.file), code, out, errOut, c.says)
		}
	}
	if entries, _ := os.ReadDir(d.dataDir); len(entries) != 0 {
		t.Errorf("a refused import left %d files in the data dir", len(entries))
	}
	// Options are checked before the file is read.
	for _, args := range [][]string{
		{"import", "--from", "leancloud", lc, "--appid", "wx_not_served"},
		{"import", "--from", "uni-id", uni, "--app", "__UNI__A1B2C3D=wx_not_served"},
		{"import", "--from", "uni-id", uni, "--app", "nonsense"},
		{"import", "--from", "uni-id", uni, "--default-app", "__UNI__NOTMAPPED"},
		{"import", "--from", "parse", lc},
	} {
		code, out, errOut := d.run(t, args...)
		if code != 1 || out != "" || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 and one line", args[2:], code, out, errOut)
		}
	}
	if code, _, errOut := d.run(t, "import", "--from", "leancloud"); code == 0 || !strings.Contains(errOut, "usage") {
		t.Errorf("import without FILE: exit %d, %q", code, errOut)
	}
}

// The import refuses a database a running server is writing to, unless
// --force: on SQLite a server in another process, on PostgreSQL any
// server.
func TestImportRefusesALiveServer(t *testing.T) {
	t.Parallel()
	lc, e := writeFile(t, "lc.jsonl", func(f *os.File) (*importtest.Export, error) { return importtest.LeanCloud(f, 20, false) })
	t.Run("sqlite", func(t *testing.T) {
		wx := apptest.NewWeChat(t)
		p := apptest.StartProcess(t, wx, nil)
		d := &deployment{dataDir: p.DataDir, vars: map[string]string{"MINIAUTH_DATA_DIR": p.DataDir,
			"MINIAUTH_WECHAT_APPID": apptest.AppID, "MINIAUTH_WECHAT_SECRET": apptest.Secret}}
		code, out, errOut := d.run(t, "import", "--from", "leancloud", lc)
		if code != 1 || out != "" || !strings.Contains(errOut, fmt.Sprintf("process %d", p.PID())) || !strings.Contains(errOut, "--force") {
			t.Fatalf("import under a live server: exit %d, stdout %q, stderr %q; want a refusal naming pid %d and --force", code, out, errOut, p.PID())
		}
		// copy shares the rule.
		code, _, errOut = d.run(t, "copy", "--from", filepath.Join(p.DataDir, "miniauth.db"), "--to", filepath.Join(t.TempDir(), "copy.db"))
		if code != 1 || !strings.Contains(errOut, "--force") {
			t.Errorf("copy from a live server: exit %d, %q; want a refusal", code, errOut)
		}
		// A dry run writes nothing and may run.
		d.mustRun(t, "import", "--from", "leancloud", lc, "--dry-run")
		out = d.mustRun(t, "import", "--from", "leancloud", lc, "--force")
		if got := lastLine(out); got != e.Summary() {
			t.Errorf("--force: %q, want %q", got, e.Summary())
		}
		// The server sees the imported users at once.
		env := p.Env(wx)
		if g := env.Login(t, "oLcW000000000000000000000000"); g.IsNewUser {
			t.Errorf("an imported user logged in as a new user")
		}
		p.Stop()
		out = d.mustRun(t, "import", "--from", "leancloud", lc)
		if got := lastLine(out); !strings.HasPrefix(got, "imported 0,") {
			t.Errorf("after the server stopped: %q", got)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		d := newDeployment(t, apptest.Backends()[1])
		env := d.start(t)
		code, out, errOut := d.run(t, "import", "--from", "leancloud", lc)
		if code != 1 || out != "" || !strings.Contains(errOut, "miniauth server") || !strings.Contains(errOut, "--force") {
			t.Fatalf("import under a live server: exit %d, stdout %q, stderr %q; want a refusal", code, out, errOut)
		}
		if strings.Contains(errOut, "secretpw") {
			t.Errorf("the refusal shows the password: %q", errOut)
		}
		env.Stop()
		out = d.mustRun(t, "import", "--from", "leancloud", lc)
		if got := lastLine(out); got != e.Summary() {
			t.Errorf("after the server stopped: %q, want %q", got, e.Summary())
		}
	})
}

// A CSV file names its columns in a header row; rows that are broken are
// reported and the rest imported.
func TestImportCSV(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		d := newDeployment(t, b)
		file := filepath.Join(t.TempDir(), "users.csv")
		os.WriteFile(file, []byte("openid,unionid,nickname,avatar_url,gender,phone,created_at,disabled\n"+
			"o_csv_1,u_csv_1,王芳🌸,https://example.com/a.png,2,+86 139 0000 0001,2020-05-01T08:00:00Z,false\n"+
			"o_csv_2,,\"Smith, Jo\",http://example.com/b.png,1,,2021-01-02 03:04:05,true\n"+
			"o_csv_3,too,many,columns,0,,,,,\n"+
			",,no openid,,0,,,false\n"+
			"o_csv_1,,again,,0,,,false\n"), 0o600)
		out := d.mustRun(t, "import", "--from", "csv", file)
		if got := lastLine(out); got != "imported 2, already present 0, skipped 3" {
			t.Fatalf("last line %q\n%s", got, out)
		}
		users := d.users(t)
		want := []struct {
			nick, avatar, phone string
			gender              int
			disabled            bool
			created             time.Time
		}{
			{"王芳🌸", "https://example.com/a.png", "13900000001", 2, false, time.Date(2020, 5, 1, 8, 0, 0, 0, time.UTC)},
			{"Smith, Jo", "", "", 1, true, time.Date(2021, 1, 2, 3, 4, 5, 0, time.UTC)},
		}
		for i, w := range want {
			u := users[i]
			if u.Nickname != w.nick || u.AvatarURL != w.avatar || u.Phone != w.phone || u.Gender != w.gender ||
				u.Disabled != w.disabled || !u.CreatedAt.Equal(w.created) {
				t.Errorf("user %d: %+v, want %+v", i, u, w)
			}
		}
		if users[0].UnionID == nil || *users[0].UnionID != "u_csv_1" {
			t.Errorf("user 0's unionid: %v", users[0].UnionID)
		}
	})
}
