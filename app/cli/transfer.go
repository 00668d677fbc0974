package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/miniauth/miniauth/app"
	"github.com/miniauth/miniauth/app/config"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/exporter"
	"github.com/miniauth/miniauth/app/importer"
	"github.com/miniauth/miniauth/app/wechatsim"
)

// refuseLive stops a command that rewrites a database wholesale (copy,
// import) while a running server uses it: the server's writes would race
// the command's, and a copy would miss them. --force overrides it.
func refuseLive(ctx context.Context, what, url string, force bool) error {
	if force {
		return nil
	}
	// A database that cannot be reached is left to the open that
	// follows, whose message says what is wrong with it.
	who, err := database.InUse(ctx, url)
	if err == nil && who != "" {
		return fmt.Errorf("%s: %s; stop the server first, or pass --force to run while it writes", what, who)
	}
	return nil
}

// multiFlag is a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// parseInterspersed parses flags before and after positional arguments
// (`import --from leancloud FILE --dry-run`), returning the positionals.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, flag.ErrHelp
			}
			return nil, errUsage
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

const importUsage = "usage: miniauth import --from leancloud|uni-id|csv|miniauth FILE [--appid APPID] [--app DCLOUD_APPID=APPID …] " +
	"[--default-app DCLOUD_APPID] [--disabled-field NAME] [--provider NAME] [--dry-run] [--report FILE] [--force]   (FILE - reads stdin)"

// importCmd is `miniauth import`: users from LeanCloud, uni-id, a CSV
// file or a miniauth export (importer, IMPORT.md).
func importCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("import", env)
	from := fs.String("from", "", "the export's format: leancloud, uni-id, csv or miniauth")
	appID := fs.String("appid", "", "the mini program the openids belong to (LeanCloud, CSV; default: the primary app)")
	var apps multiFlag
	fs.Var(&apps, "app", "uni-id: DCLOUD_APPID=APPID, the mini program of a uni-app project (repeatable)")
	defaultApp := fs.String("default-app", "", "uni-id: the DCloud appid whose mini program gets a version-less wx_openid.mp")
	disabledField := fs.String("disabled-field", "", "LeanCloud: the boolean column that marks disabled users")
	provider := fs.String("provider", "", "LeanCloud: an authData platform of your own naming that holds mini program openids too")
	dryRun := fs.Bool("dry-run", false, "read and report everything, write nothing")
	reportPath := fs.String("report", "", "write one JSON line per skipped or questionable entry to this file")
	force := fs.Bool("force", false, "import even while a server is using the database")
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(env.Stderr, importUsage)
		return nil
	}
	if err != nil {
		return err
	}
	if len(pos) != 1 || *from == "" {
		fmt.Fprintln(env.Stderr, importUsage)
		return errUsage
	}
	mapping := map[string]string{}
	for _, a := range apps {
		d, w, ok := strings.Cut(a, "=")
		if !ok || d == "" || w == "" {
			return fmt.Errorf("--app %q: want DCLOUD_APPID=APPID (e.g. __UNI__A1B2C3D=wx0123456789abcdef)", a)
		}
		mapping[d] = w
	}
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	opts := importer.Options{From: *from, Apps: servedApps(cfg), AppID: *appID, DCloudApps: mapping,
		DefaultDCloudApp: *defaultApp, DisabledField: *disabledField, Provider: *provider, DryRun: *dryRun}
	// The options are checked before anything is opened: a typo in
	// --appid must not leave a created database behind.
	if err := importer.CheckOptions(opts); err != nil {
		return err
	}
	in, size, err := openInput(env, pos[0])
	if err != nil {
		return err
	}
	defer in.Close()
	counted := &countingReader{r: in}
	opts.Progress = importProgress(env.Stderr, counted, size)
	// The file's format is checked at its first entry before the
	// database is opened: the wrong file fails at once, touching nothing.
	src, err := importer.Open(counted, opts)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if *reportPath != "" {
		// Reports name openids and source ids: the owner's eyes only.
		rf, err := os.OpenFile(*reportPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("--report: %w", err)
		}
		defer rf.Close()
		src.SetReport(rf)
	}
	if !*dryRun {
		if err := refuseLive(ctx, "import", app.DatabaseOptions(cfg).URL, *force); err != nil {
			return err
		}
	}
	need := database.MayCreate // a team moving in imports before the first start
	if *dryRun {
		need = database.MustHaveSchema
	}
	_, db, err := openFor(ctx, env, need, !*dryRun)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	counts, err := src.Import(ctx, db)
	if isTerminal(env.Stderr) && counts.Read > 0 {
		fmt.Fprintln(env.Stderr)
	}
	if err != nil {
		if counts.Imported > 0 && !*dryRun {
			return fmt.Errorf("%w (%s before it stopped; running the same import again goes on from there)", err, counts.Summary())
		}
		return err
	}
	printImportSummary(env.Stdout, counts, *dryRun, time.Since(start))
	return nil
}

// servedApps are the mini programs the configuration serves, the primary
// first; without credentials (development), the built-in simulator's.
func servedApps(cfg *config.Config) []string {
	var apps []string
	for _, a := range cfg.WeChatApps {
		apps = append(apps, a.AppID)
	}
	if len(apps) == 0 && !cfg.Production() {
		apps = []string{wechatsim.DevelopmentAppID}
	}
	return apps
}

// openInput opens FILE, or stdin for "-"; size is -1 when unknown.
func openInput(env *Env, path string) (io.ReadCloser, int64, error) {
	if path == "-" {
		return io.NopCloser(env.Stdin), -1, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot read %s: %w", path, errors.Unwrap(err))
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s is not a file", path)
	}
	return f, st.Size(), nil
}

// countingReader counts the bytes read, for progress.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// importProgress rewrites one line on a terminal; in a log (not a
// terminal) it writes a plain line every 100,000 entries.
func importProgress(w io.Writer, in *countingReader, size int64) func(importer.Counts) {
	tty := isTerminal(w)
	lastLine := 0
	return func(c importer.Counts) {
		if tty {
			pct := ""
			if size > 0 {
				pct = fmt.Sprintf("%5.1f%%  ", 100*float64(in.n)/float64(size))
			}
			fmt.Fprintf(w, "\r  %s%d read: %s", pct, c.Read, c.Summary())
			return
		}
		if c.Read/100000 > lastLine {
			lastLine = c.Read / 100000
			fmt.Fprintf(w, "  %d read: %s\n", c.Read, c.Summary())
		}
	}
}

// printImportSummary ends the import: the reasons, what is never
// imported, and the last line, exactly `imported N, already present M,
// skipped K`.
func printImportSummary(w io.Writer, c importer.Counts, dryRun bool, took time.Duration) {
	if dryRun {
		fmt.Fprintln(w, "dry run: nothing was written; an import would end with the counts below")
	}
	reasons := make([]string, 0, len(c.Reasons))
	for r := range c.Reasons {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(w, "  %-24s %d\n", r, c.Reasons[r])
	}
	ni := c.NotImported
	if ni.Passwords+ni.Emails+ni.OtherProviders > 0 {
		fmt.Fprintf(w, "never imported: %d passwords, %d emails, %d users' other providers' ids\n",
			ni.Passwords, ni.Emails, ni.OtherProviders)
	}
	fmt.Fprintf(w, "%d entries read in %s\n", c.Read, took.Round(time.Millisecond))
	fmt.Fprintln(w, c.Summary())
}

// exportCmd is `miniauth export FILE`: every user as JSON lines (FILE -
// is stdout), which `import --from miniauth` reads back.
func exportCmd(ctx context.Context, env *Env, args []string) error {
	if len(args) != 1 || args[0] == "" || (args[0][0] == '-' && args[0] != "-") {
		fmt.Fprintln(env.Stderr, "usage: miniauth export FILE   (FILE must not exist yet; - writes to stdout)")
		return errUsage
	}
	_, db, err := openFor(ctx, env, database.MustHaveSchema, false)
	if err != nil {
		return err
	}
	defer db.Close()
	out, path := env.Stdout, args[0]
	var f *os.File
	if path != "-" {
		// Phones and openids: the owner's eyes only, and never over an
		// existing file.
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("cannot write %s: %w", path, errors.Unwrap(err))
		}
		out = f
	}
	n, err := exporter.Export(ctx, db, out)
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path) // half a file would read back as fewer users
		}
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if path != "-" {
		fmt.Fprintf(env.Stdout, "exported %d users to %s\n", n, path)
	} else {
		fmt.Fprintf(env.Stderr, "exported %d users\n", n)
	}
	return nil
}
