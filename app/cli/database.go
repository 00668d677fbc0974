package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miniauth/miniauth/app"
	"github.com/miniauth/miniauth/app/config"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/database/dburl"
	"github.com/miniauth/miniauth/app/keys"
)

// openFor opens the configured database for a command and names it, on
// stderr so that stdout stays for what scripts read, as the command's
// first line. need says whether a missing database may be created: only
// migrate (and the server's first start) may, so that a mistyped data dir
// stops a command instead of starting an empty world; then nothing is
// created, not even the data dir. upgrade brings an existing schema up to
// date, as the server would.
func openFor(ctx context.Context, env *Env, need database.Need, upgrade bool) (*config.Config, *database.DB, error) {
	cfg, err := loadConfig(env)
	if err != nil {
		return nil, nil, err
	}
	opts := app.DatabaseOptions(cfg)
	opts.Need = need
	if need == database.MayCreate && cfg.DatabaseURL == "" {
		if err := cfg.PrepareDataDir(); err != nil {
			return nil, nil, err
		}
	}
	open := database.OpenNoMigrate
	if upgrade {
		open = func(o database.Options) (*database.DB, error) { return database.Open(ctx, o) }
	}
	db, err := open(opts)
	if err != nil {
		return nil, nil, explainMissing(err)
	}
	fmt.Fprintln(env.Stderr, "database:", db.Name)
	return cfg, db, nil
}

// explainMissing adds what to check to the error of a missing database.
func explainMissing(err error) error {
	if !errors.Is(err, database.ErrNoDatabase) {
		return err
	}
	return fmt.Errorf("%w; check MINIAUTH_DATA_DIR and MINIAUTH_DATABASE_URL (every command uses the server's); "+
		"only the server's first start or `miniauth migrate` creates a database", err)
}

func newFlags(name string, env *Env) *flag.FlagSet {
	fs := flag.NewFlagSet("miniauth "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// parseFlags parses args; usage errors were already printed by fs.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	return nil
}

// migrateCmd is `miniauth migrate [--dry-run]`: bring the schema up to
// date without starting the server, or print the SQL it would run.
func migrateCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("migrate", env)
	dryRun := fs.Bool("dry-run", false, "print the SQL that would run, change nothing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	need := database.MayCreate
	if *dryRun {
		need = database.MustExist // a dry run creates nothing
	}
	_, db, err := openFor(ctx, env, need, false)
	if err != nil {
		return err
	}
	defer db.Close()
	if *dryRun {
		return db.Write.Schema.WriteTo(ctx, env.Stdout)
	}
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "schema of the %s database is up to date\n", db.Dialect)
	return nil
}

// backupCmd is `miniauth backup [--with-secret] FILE|DIR`: a consistent
// online copy of the SQLite database, safe while the server runs, checked
// before it is kept. A directory gets a new dated file inside it.
func backupCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("backup", env)
	withSecret := fs.Bool("with-secret", false, "also copy the server secret next to the backup (FILE.jwt_secret, mode 0600)")
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: miniauth backup [--with-secret] FILE|DIR   (FILE must not exist yet; DIR gets miniauth-<UTC time>.db)")
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 1 || fs.Arg(0) == "" {
		fs.Usage()
		return errUsage
	}
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	if loc, _ := dburl.Parse(app.DatabaseOptions(cfg).URL); loc.Postgres {
		return errors.New("backup is for SQLite; back PostgreSQL up with pg_dump or your provider's snapshots")
	}
	target, err := backupTarget(fs.Arg(0), time.Now())
	if err != nil {
		return err
	}
	var secret []byte
	if *withSecret {
		if secret, err = serverSecret(cfg); err != nil {
			return err
		}
	}
	_, db, err := openFor(ctx, env, database.MustHaveSchema, false)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	fmt.Fprintf(env.Stderr, "backing up to %s…\n", target)
	res, err := db.Backup(ctx, target)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "backup written to %s: %s, %d users, integrity_check: %s (%s)\n",
		res.Path, humanBytes(res.Bytes), res.Users, res.Integrity, time.Since(start).Round(time.Millisecond))
	if secret != nil {
		path := res.Path + ".jwt_secret"
		if err := writePrivate(path, secret); err != nil {
			return fmt.Errorf("backup written, but not the secret: %w", err)
		}
		fmt.Fprintf(env.Stdout, "server secret written to %s (mode 0600): restore it as %s in the data dir\n",
			path, keys.SecretFile)
	}
	return nil
}

// backupTarget is the file a backup goes to: arg itself, or a dated file
// inside arg when it is a directory (or ends in a slash). A directory
// that does not exist is an error, not a file named like it.
func backupTarget(arg string, now time.Time) (string, error) {
	dir := strings.HasSuffix(arg, "/") || strings.HasSuffix(arg, string(filepath.Separator))
	if st, err := os.Stat(arg); err == nil && st.IsDir() {
		dir = true
	} else if dir {
		return "", fmt.Errorf("%s: no such directory (create it first: mkdir -p %s, owned by the user miniauth runs as)", arg, arg)
	}
	if !dir {
		return arg, nil
	}
	return filepath.Join(arg, "miniauth-"+now.UTC().Format("20060102T150405Z")+".db"), nil
}

// serverSecret is the generated server secret in the data dir, for
// --with-secret. A secret set by MINIAUTH_JWT_SECRET is the operator's to
// keep: it is not written anywhere.
func serverSecret(cfg *config.Config) ([]byte, error) {
	if cfg.JWTSecret != "" {
		return nil, errors.New("--with-secret: the secret comes from MINIAUTH_JWT_SECRET; keep that value with your backups yourself")
	}
	b, err := os.ReadFile(filepath.Join(cfg.DataDir, keys.SecretFile))
	if err != nil {
		return nil, fmt.Errorf("--with-secret: %w", err)
	}
	return b, nil
}

// writePrivate creates path (which must not exist) readable by its owner
// only.
func writePrivate(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// copyCmd is `miniauth copy --from URL --to URL`: move every user,
// session and admin to another database (typically SQLite → PostgreSQL).
func copyCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("copy", env)
	from := fs.String("from", "", "source database URL (sqlite:///path/miniauth.db or a file path)")
	to := fs.String("to", "", "target database URL (postgres://…); migrated, and must be empty")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		fmt.Fprintln(env.Stderr, "usage: miniauth copy --from URL --to URL")
		return errUsage
	}
	// Both are checked before either is opened, so that a typo in --to
	// does not leave a half-done copy behind.
	for _, f := range []struct{ flag, url string }{{"--from", *from}, {"--to", *to}} {
		if _, err := dburl.Parse(f.url); err != nil {
			return fmt.Errorf("%s: %w", f.flag, err)
		}
	}
	// The source must exist and hold miniauth's schema: a typo in --from
	// used to create an empty source and report a successful copy. It is
	// migrated (as serve would) so that old files copy. Only then is the
	// target opened, which may be created. A single-app release's users
	// get their identities on the way, in the app the configuration names
	// (else at the target's first start).
	legacyApp := ""
	if cfg, err := loadConfig(env); err == nil {
		legacyApp = app.DatabaseOptions(cfg).LegacyAppID
	}
	src, err := database.Open(ctx, database.Options{URL: *from, MaxOpenConns: 4, MaxIdleConns: 2, Need: database.MustHaveSchema, LegacyAppID: legacyApp})
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	defer src.Close()
	dst, err := database.Open(ctx, database.Options{URL: *to, MaxOpenConns: 4, MaxIdleConns: 2, Need: database.MayCreate})
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	defer dst.Close()
	fmt.Fprintf(env.Stderr, "database: %s → %s\n", src.Name, dst.Name)
	counts, err := database.Copy(ctx, src, dst, progressPrinter(env.Stderr, isTerminal(env.Stderr)))
	if err != nil {
		return err
	}
	ok := true
	fmt.Fprintln(env.Stdout, "verification (rows in source → target):")
	for _, c := range counts {
		mark := "ok"
		if c.Source != c.Target {
			mark, ok = "MISMATCH", false
		}
		fmt.Fprintf(env.Stdout, "  %-16s %9d → %-9d %s\n", c.Table, c.Source, c.Target, mark)
	}
	if !ok {
		return errors.New("row counts differ: the copy is incomplete")
	}
	fmt.Fprintln(env.Stdout, "copy complete: point MINIAUTH_DATABASE_URL at the target and restart")
	return nil
}

// progressPrinter prints one line per table. On a terminal it rewrites
// the line as rows go; in a log (a pipe or a file) it writes only the
// finished line, so progress does not pile up into one line of \r.
func progressPrinter(w io.Writer, terminal bool) database.CopyProgress {
	return func(table string, done, total int) {
		if !terminal && done < total {
			return
		}
		pct := 100.0
		if total > 0 {
			pct = 100 * float64(done) / float64(total)
		}
		end := "\r"
		if done >= total {
			end = "\n"
		}
		fmt.Fprintf(w, "  %-16s %9d / %-9d %5.1f%%%s", table, done, total, pct, end)
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// isTerminal reports whether w is a terminal (a character device), where
// progress may rewrite its line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
