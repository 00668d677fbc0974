// Package cli is miniauth's command line: serve (the default), admin
// accounts, maintenance commands.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/miniauth/miniauth/app"
	"github.com/miniauth/miniauth/app/config"
	"github.com/miniauth/miniauth/app/database/dburl"
)

// Version, Commit and Date are set by the release build (scripts/release)
// with -ldflags "-X github.com/miniauth/miniauth/app/cli.Version=…" (and
// .Commit, .Date); a plain `go build` leaves them empty and says "dev".
var (
	Version = ""
	Commit  = ""
	Date    = ""
)

// Env is what a command runs with.
type Env struct {
	Args   []string
	Getenv func(string) string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Routes are the team's own API, which serve adds to miniauth's.
	Routes []app.Routes
}

// command is one subcommand.
type command struct {
	name string
	run  func(ctx context.Context, env *Env, args []string) error
}

var commands = []command{
	{"serve", serve},
	{"version", printVersion},
	{"migrate", migrateCmd},
	{"backup", backupCmd},
	{"copy", copyCmd},
	{"import", importCmd},
	{"export", exportCmd},
	{"admin", adminCmd},
	{"user", userCmd},
	{"keys", keysCmd},
	{"dev", devCmd},
}

// errUsage means the arguments were wrong; usage was already printed.
var errUsage = errors.New("usage")

// Run executes the command line and returns the exit status.
func Run(env *Env) int {
	args := env.Args
	name := "serve"
	if len(args) > 0 {
		name, args = args[0], args[1:]
	}
	if name == "-h" || name == "--help" || name == "help" {
		fmt.Fprint(env.Stdout, config.Usage())
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	for _, c := range commands {
		if c.name != name {
			continue
		}
		if err := c.run(ctx, env, args); err != nil {
			if !errors.Is(err, errUsage) {
				fmt.Fprintln(env.Stderr, "miniauth:", err)
			}
			return 1
		}
		return 0
	}
	fmt.Fprintf(env.Stderr, "miniauth: unknown command %q\n\n%s", name, config.Usage())
	return 2
}

func printVersion(_ context.Context, env *Env, _ []string) error {
	fmt.Fprintln(env.Stdout, versionLine())
	return nil
}

// versionLine is what `miniauth version` prints: the version, then the
// commit and build date when the build embedded them, e.g.
// "miniauth 1.2.0 (commit 0123456789ab, built 2026-12-03T08:00:00Z)" or
// "miniauth dev-0123456789ab".
func versionLine() string {
	line := "miniauth " + versionString()
	var about []string
	if Commit != "" {
		about = append(about, "commit "+Commit)
	}
	if Date != "" {
		about = append(about, "built "+Date)
	}
	if len(about) > 0 {
		line += " (" + strings.Join(about, ", ") + ")"
	}
	return line
}

func versionString() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}

// loadConfig reads the environment; its errors are one line naming the
// variable.
func loadConfig(env *Env) (*config.Config, error) {
	return config.Load(env.Getenv)
}

func serve(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "--help" {
			fmt.Fprint(env.Stdout, config.Usage())
			return nil
		}
		return fmt.Errorf("serve takes no arguments (configure it with MINIAUTH_* variables; see --help)")
	}
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	// A data dir that cannot be made stops start-up with its one line,
	// before any log line (app.New prepares it too; that is a no-op).
	if err := cfg.PrepareDataDir(); err != nil {
		return err
	}
	tuneGC(env)
	out := newLogWriter(env.Stderr)
	defer out.Close()
	log := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// The first line names the database, as every command's does: the
	// operator sees at once whether it is the one they meant.
	log.Info("database: " + dburl.Describe(app.DatabaseOptions(cfg).URL))
	// Listen first: while the database is opened and migrated (seconds
	// on a large one), the address answers 503 and /readyz says why,
	// instead of refusing connections.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("MINIAUTH_ADDR: %v", err)
	}
	log.Info("starting: answering 503 (GET /readyz: migrating) until the database is ready", "addr", ln.Addr().String())
	starting := app.ServeStartUp(cfg, log, ln)
	srv, err := app.New(ctx, cfg, log, env.Routes...)
	if err != nil {
		starting.Stop()
		return err
	}
	ln = starting.Handover()
	log.Info("miniauth listening", "addr", ln.Addr().String(), "version", versionString(),
		"env", cfg.Env, "database", srv.DB.Dialect, "data_dir", cfg.DataDir)
	return srv.Serve(ctx, ln)
}

// tuneGC bounds the Go heap at 80 MiB unless the operator chose
// (GOMEMLIMIT): one short-lived spike (an admin sign-in's 19 MiB argon2
// buffer) would otherwise set a heap goal that a CSV export fills with
// garbage; past the limit the collector works harder instead. GOGC stays
// at Go's 100: 200 saved little CPU in the bench and raised the server's
// peak RSS above 80 MiB (docs/benchmarks.md). (SQLite's page caches are C
// memory, outside the limit.)
func tuneGC(env *Env) {
	if env.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(80 << 20)
	}
}

// Main runs the command line of the process and exits. routes are the
// team's own API, served by `miniauth serve` next to miniauth's: main.go
// is where they are listed (see "Add your own API" in ARCHITECTURE.md).
func Main(routes ...app.Routes) {
	restrictUmask() // before anything, SQLite included, creates a file
	os.Exit(Run(&Env{Args: os.Args[1:], Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Routes: routes}))
}
