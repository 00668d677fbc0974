package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/miniauth/miniauth/app/cli/fakeusers"
	"github.com/miniauth/miniauth/app/database"
)

const devUsage = `Usage:
  miniauth dev seed --users N   insert N fake users (to try the admin panel at scale)
  miniauth dev push EVENT …     deliver a WeChat message push event to a running server (dev push --help)
`

// devCmd is tooling for development: never needed in production.
func devCmd(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 && args[0] == "push" {
		return devPush(ctx, env, args[1:])
	}
	if len(args) == 0 || args[0] != "seed" {
		fmt.Fprint(env.Stderr, devUsage)
		return errUsage
	}
	fs := flag.NewFlagSet("dev seed", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	n := fs.Int("users", 1000, "how many fake users to insert")
	force := fs.Bool("force", false, "seed even when MINIAUTH_ENV=production")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	if *n <= 0 || *n > 100_000_000 {
		return fmt.Errorf("dev seed: --users must be between 1 and 100000000")
	}
	// Seeding needs a database made by the server or migrate: like every
	// command but those, it does not create one.
	cfg, db, err := openFor(ctx, env, database.MustHaveSchema, true)
	if err != nil {
		return err
	}
	defer db.Close()
	if cfg.Production() && !*force {
		return fmt.Errorf("dev seed: refusing to add fake users to a production database (MINIAUTH_ENV=production); pass --force if you mean it")
	}
	start := time.Now()
	// On a terminal the line is rewritten as users go in; in a log (a
	// pipe or a file) one line per tenth, so progress does not pile up
	// into one line of \r.
	terminal, tenths := isTerminal(env.Stderr), 0
	err = fakeusers.Insert(ctx, db, *n, fakeusers.Options{Progress: func(done int) {
		if terminal {
			fmt.Fprintf(env.Stderr, "\rseeded %d/%d users", done, *n)
		} else if t := done * 10 / *n; t > tenths {
			tenths = t
			fmt.Fprintf(env.Stderr, "seeded %d/%d users\n", done, *n)
		}
	}})
	if terminal {
		fmt.Fprintln(env.Stderr)
	}
	if err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Fprintf(env.Stdout, "inserted %d fake users in %s (%.0f users/s)\n", *n, took.Round(time.Millisecond), float64(*n)/took.Seconds())
	return nil
}
