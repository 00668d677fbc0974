package cli

import (
	"context"
	"fmt"
	"github.com/miniauth/miniauth/app/sessions"
	"io"
	"log/slog"
	"slices"
	"time"

	"entgo.io/ent/dialect"

	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/app/sessioncache"
)

const userUsage = `Usage:
  miniauth user roles --id ID                     print the user's roles
  miniauth user roles --id ID --set a,b           replace them ("" removes every role)
  miniauth user roles --id ID --add a,b --remove c
Role names: 1 to 32 characters of a-z, 0-9, _ and -; at most 16 per user.
`

// userCmd manages users from the command line: their roles.
func userCmd(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] != "roles" {
		fmt.Fprint(env.Stderr, userUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return nil
		}
		return errUsage
	}
	fs := newFlags("user roles", env)
	id := fs.Int("id", 0, "the user's id")
	var set, add, remove optionalList
	fs.Var(&set, "set", "replace the roles: comma-separated names")
	fs.Var(&add, "add", "add roles: comma-separated names")
	fs.Var(&remove, "remove", "remove roles: comma-separated names")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *id <= 0 {
		return fmt.Errorf("user roles: --id is required (a user's id, as the admin panel shows it)")
	}
	var ch profiles.RoleChange
	var err error
	if set.given {
		ch.Replace = true
		if ch.Set, err = parseRoleFlag("--set", set.value); err != nil {
			return err
		}
	}
	if ch.Add, err = parseRoleFlag("--add", add.value); err != nil {
		return err
	}
	if ch.Remove, err = parseRoleFlag("--remove", remove.value); err != nil {
		return err
	}
	_, db, err := openFor(ctx, env, database.MustHaveSchema, true)
	if err != nil {
		return err
	}
	defer db.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	prof := &profiles.Service{DB: db, Log: quiet, Sessions: &sessions.Service{DB: db, Log: quiet}}
	if !set.given && !add.given && !remove.given {
		roles, err := prof.UserRoles(ctx, *id)
		if err != nil {
			return userProblem(err)
		}
		fmt.Fprintf(env.Stdout, "user %d roles: %s\n", *id, profiles.ShowRoles(roles))
		return nil
	}
	stop := listenForReceipts(ctx, prof)
	defer stop()
	before, after, err := prof.SetRoles(ctx, *id, ch)
	if err != nil {
		return userProblem(err)
	}
	fmt.Fprintf(env.Stdout, "user %d roles: %s\n", *id, profiles.ShowRoles(after))
	if slices.Equal(before, after) {
		return nil
	}
	return audit.New(db).Record(ctx, audit.Entry{Actor: audit.CLIActor, Action: audit.UserRolesChanged, TargetUserID: *id,
		Detail: profiles.RoleChangeDetail(before, after)})
}

func parseRoleFlag(name, value string) ([]string, error) {
	r, err := profiles.ParseRoles(value)
	if err != nil {
		return nil, fmt.Errorf("user roles: %s: %s", name, problemText(err))
	}
	return r, nil
}

// userProblem words a domain error for the terminal.
func userProblem(err error) error {
	return fmt.Errorf("user roles: %s", problemText(err))
}

func problemText(err error) string {
	if p, ok := problem.As(err); ok {
		for _, msg := range p.Fields {
			return msg
		}
		return p.Message
	}
	return err.Error()
}

// optionalList is a string flag that remembers whether it was given, so
// that --set "" (no roles) differs from no --set.
type optionalList struct {
	value string
	given bool
}

func (o *optionalList) String() string { return o.value }
func (o *optionalList) Set(v string) error {
	if o.given && o.value != "" && v != "" {
		v = o.value + "," + v // repeated: --add a --add b
	}
	o.value, o.given = v, true
	return nil
}

// listenForReceipts makes a command's user change take effect on running
// servers before it returns, as the panel's does: on PostgreSQL the
// change is announced to every server, and the command waits for their
// receipts, which come back on a listening connection of its own (the
// session cache it needs for that is a token one). On SQLite the servers
// notice other processes' writes themselves (app.Server.followOtherWriters).
func listenForReceipts(ctx context.Context, prof *profiles.Service) (stop func()) {
	if prof.DB.Dialect != dialect.Postgres {
		return func() {}
	}
	live := prof.Sessions
	live.Cache = sessioncache.New(1, nil)
	live.Cache.SetTrusted(false)
	lctx, cancel := context.WithCancel(ctx)
	go live.FollowChanges(lctx)
	// Up trusts the cache once LISTEN holds; without it in time the
	// change is still announced, only not waited for.
	deadline := time.Now().Add(5 * time.Second)
	for !live.Cache.Trusted() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	return cancel
}
