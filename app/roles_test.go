package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/ent/auditentry"
)

// userRolesCLI runs `miniauth user roles …` (the binary, another process,
// as an operator would on the server) on env's database and returns its
// exit status and output.
func userRolesCLI(t *testing.T, env *apptest.Env, dbURL string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(apptest.Binary(t), append([]string{"user", "roles"}, args...)...)
	cmd.Env = apptest.Environ(map[string]string{"MINIAUTH_DATA_DIR": env.DataDir, "MINIAUTH_DATABASE_URL": dbURL})
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run miniauth user roles: %v", err)
	}
	// On SQLite the server learns of another process's write by looking
	// (every 250 ms); look now instead of waiting.
	if err := env.Server.NoticeOtherWriters(context.Background()); err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

// tokenRoles is the roles claim of an access token, read without
// verifying (the server verified it when it was issued).
func tokenRoles(t *testing.T, token string) []string {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Roles *[]string `json:"roles"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Roles == nil {
		t.Fatalf("the token has no roles claim: %s", payload)
	}
	return *claims.Roles
}

func meRoles(t *testing.T, env *apptest.Env, token string) []string {
	t.Helper()
	r := env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: token})
	if r.Status != http.StatusOK {
		t.Fatalf("GET /api/me: %d %s", r.Status, r.Body)
	}
	var me struct {
		Roles *[]string `json:"roles"`
	}
	json.Unmarshal(r.Body, &me)
	if me.Roles == nil {
		t.Fatalf("no roles in the user object: %s", r.Body)
	}
	return *me.Roles
}

func verifyRoles(t *testing.T, env *apptest.Env, token string) string {
	t.Helper()
	r := env.Do(t, apptest.Request{Method: "GET", Path: "/api/auth/verify", Token: token})
	if r.Status != http.StatusOK {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	if _, ok := r.Header["X-Miniauth-Roles"]; !ok {
		t.Fatalf("verify answers no X-Miniauth-Roles: %v", r.Header)
	}
	return r.Header.Get("X-Miniauth-Roles")
}

func refreshGrant(t *testing.T, env *apptest.Env, g *apptest.Grant) *apptest.Grant {
	t.Helper()
	r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": g.RefreshToken}})
	if r.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.Status, r.Body)
	}
	var next apptest.Grant
	json.Unmarshal(r.Body, &next)
	return &next
}

// Roles set with the CLI: /api/auth/verify answers them at once (the
// session was cached before the change), /api/me too; the access token
// issued before keeps its roles, the next refresh carries the new ones.
func TestUserRolesThroughTheCLI(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		dbURL := b.URL(t)
		env := apptest.Start(t, apptest.Options{DatabaseURL: dbURL})
		g := env.Login(t, "o_roles")
		other := env.Login(t, "o_bystander")
		id := g.UserID()
		if got := tokenRoles(t, g.AccessToken); len(got) != 0 {
			t.Fatalf("new user's token roles %v", got)
		}
		if got := meRoles(t, env, g.AccessToken); len(got) != 0 {
			t.Fatalf("new user's roles %v", got)
		}
		if got := verifyRoles(t, env, g.AccessToken); got != "" {
			t.Fatalf("verify roles %q before any", got)
		}

		code, out := userRolesCLI(t, env, dbURL, "--id", fmt.Sprint(id), "--set", "vip, editor")
		if code != 0 || !strings.Contains(out, "editor,vip") {
			t.Fatalf("set: exit %d %q", code, out)
		}
		if got := verifyRoles(t, env, g.AccessToken); got != "editor,vip" {
			t.Fatalf("verify after set: %q", got)
		}
		if got := meRoles(t, env, g.AccessToken); !slices.Equal(got, []string{"editor", "vip"}) {
			t.Fatalf("/api/me after set: %v", got)
		}
		if got := tokenRoles(t, g.AccessToken); len(got) != 0 {
			t.Fatalf("the old token changed? %v", got)
		}
		g = refreshGrant(t, env, g)
		if got := tokenRoles(t, g.AccessToken); !slices.Equal(got, []string{"editor", "vip"}) {
			t.Fatalf("refreshed token roles %v", got)
		}
		if got := verifyRoles(t, env, other.AccessToken); got != "" {
			t.Fatalf("another user got roles %q", got)
		}
		// A new login of the same person carries them too.
		if again := env.Login(t, "o_roles"); !slices.Equal(tokenRoles(t, again.AccessToken), []string{"editor", "vip"}) ||
			fmt.Sprint(again.User["roles"]) != "[editor vip]" {
			t.Fatalf("a returning login's token roles %v, user %v", tokenRoles(t, again.AccessToken), again.User["roles"])
		}

		code, out = userRolesCLI(t, env, dbURL, "--id", fmt.Sprint(id), "--add", "admin", "--remove", "vip")
		if code != 0 || !strings.Contains(out, "admin,editor") {
			t.Fatalf("add/remove: exit %d %q", code, out)
		}
		if got := verifyRoles(t, env, g.AccessToken); got != "admin,editor" {
			t.Fatalf("verify after add/remove: %q", got)
		}
		code, out = userRolesCLI(t, env, dbURL, "--id", fmt.Sprint(id))
		if code != 0 || !strings.Contains(out, "admin,editor") {
			t.Fatalf("print: exit %d %q", code, out)
		}

		// Refusals: exit 1, nothing changed.
		tooMany := make([]string, profiles.MaxRoles+1)
		for i := range tooMany {
			tooMany[i] = fmt.Sprintf("r%d", i)
		}
		for _, args := range [][]string{
			{"--set", "Admin"}, {"--set", "a b"}, {"--add", "ok,"}, {"--remove", "bad!"}, {"--add", strings.Repeat("x", 33)},
			{"--set", "a,ü"}, {"--set", strings.Join(tooMany, ",")},
		} {
			code, out := userRolesCLI(t, env, dbURL, append([]string{"--id", fmt.Sprint(id)}, args...)...)
			if code != 1 {
				t.Errorf("%v: exit %d %q, want 1", args, code, out)
			}
		}
		if code, out := userRolesCLI(t, env, dbURL, "--id", "999999", "--set", "a"); code != 1 || !strings.Contains(out, "no such user") {
			t.Errorf("unknown user: exit %d %q", code, out)
		}
		if code, _ := userRolesCLI(t, env, dbURL, "--set", "a"); code != 1 {
			t.Errorf("no --id: exit %d", code)
		}
		if got := verifyRoles(t, env, g.AccessToken); got != "admin,editor" {
			t.Fatalf("a refused change changed the roles: %q", got)
		}

		// Removing every role: --set "".
		if code, out := userRolesCLI(t, env, dbURL, "--id", fmt.Sprint(id), "--set", ""); code != 0 || !strings.Contains(out, "(none)") {
			t.Fatalf("clear: exit %d %q", code, out)
		}
		if got := verifyRoles(t, env, g.AccessToken); got != "" {
			t.Fatalf("verify after clearing: %q", got)
		}

		// Each change is audited, with the roles before and after.
		entries, err := env.Server.DB.Read.AuditEntry.Query().Where(auditentry.Action(audit.UserRolesChanged)).
			Order(auditentry.ByID()).All(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var details []string
		for _, e := range entries {
			if e.Actor != audit.CLIActor || e.TargetUserID == nil || *e.TargetUserID != id {
				t.Errorf("entry %+v", e)
			}
			details = append(details, e.Detail)
		}
		want := []string{"(none) → editor,vip", "editor,vip → admin,editor", "admin,editor → (none)"}
		if !slices.Equal(details, want) {
			t.Fatalf("audit details %q, want %q", details, want)
		}
	})
}

// A hundred concurrent additions of distinct roles to one user: the limit
// holds (exactly MaxRoles succeed, the rest are refused), nothing is lost.
func TestUserRolesLimitUnderConcurrency(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := apptest.Start(t, apptest.Options{DatabaseURL: b.URL(t)})
		g := env.Login(t, "o_many_roles")
		prof := env.Server.Profiles
		var wg sync.WaitGroup
		var mu sync.Mutex
		var ok, refused int
		for i := range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := prof.SetRoles(context.Background(), g.UserID(), profiles.RoleChange{Add: []string{fmt.Sprintf("role-%02d", i)}})
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					ok++
				} else if problem.CodeOf(err) == problem.ValidationFailed {
					refused++
				} else {
					t.Errorf("add: %v", err)
				}
			}()
		}
		wg.Wait()
		if ok != profiles.MaxRoles || refused != 100-profiles.MaxRoles {
			t.Fatalf("%d added, %d refused; want %d and %d", ok, refused, profiles.MaxRoles, 100-profiles.MaxRoles)
		}
		if got := strings.Split(verifyRoles(t, env, g.AccessToken), ","); len(got) != profiles.MaxRoles {
			t.Fatalf("verify answers %d roles: %v", len(got), got)
		}
	})
}
