// Package importer brings users over from another system: LeanCloud's
// _User export, uniCloud's uni-id-users export, a CSV file, or a miniauth
// export (IMPORT.md has the formats and the rules). The same WeChat user
// lands on the same miniauth user at their next wx.login: each entry
// becomes a user with its (appid, openid) identities, profile, verified
// phone, creation time and status.
//
// It streams: the source is read one entry at a time and written in
// batches through the database's one writer, so a file of millions of
// users never sits in memory. It never changes an existing user: an
// entry whose openid is already known counts as present, so that running
// the same import again adds nothing.
package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"time"

	"github.com/miniauth/miniauth/app/database"
)

// Formats are the sources --from names.
var Formats = []string{"leancloud", "uni-id", "csv", "miniauth"}

// DefaultBatch is how many entries are written per transaction: large
// enough that one commit (one fsync on SQLite) carries many users, small
// enough for both databases' limits on bound parameters (users have 13
// columns: 13,000 parameters).
const DefaultBatch = 1000

// Options say what to read and how.
type Options struct {
	// From is the format: leancloud, uni-id, csv or miniauth.
	From string
	// Apps are the mini programs this server serves (AppIDs), the
	// primary first.
	Apps []string
	// AppID is the mini program LeanCloud and CSV openids belong to
	// (--appid); "" means the primary app.
	AppID string
	// DCloudApps maps uni-app projects (DCloud appids) to mini programs
	// (--app); DefaultDCloudApp is where a version-less "mp" openid goes
	// when the user's dcloud_appid does not decide (--default-app).
	DCloudApps       map[string]string
	DefaultDCloudApp string
	// DisabledField names the LeanCloud column that marks disabled users.
	DisabledField string
	// Provider names a LeanCloud authData platform of the app's own
	// (loginWithAuthDataAndUnionId) whose openids are the mini program's
	// too, after lc_weapp and lc_weapp_union.
	Provider string
	// DryRun reads and reports everything and writes nothing.
	DryRun bool
	// Report, if set, gets one JSON line per skipped or questionable
	// entry, and a last line counting what is never imported.
	Report io.Writer
	// Progress, if set, is told the counts after every batch.
	Progress func(Counts)
	// Now is the import time (updated_at); default time.Now.
	Now func() time.Time
	// Batch is entries per transaction; default DefaultBatch.
	Batch int
}

// Counts are the import's figures so far.
type Counts struct {
	// Read is how many entries were read (users, broken lines and all).
	Read                       int
	Imported, Present, Skipped int
	// Reasons counts the report's entries per reason, skipped or not.
	Reasons     map[string]int
	NotImported NotImported
}

// Summary is the import's last line.
func (c Counts) Summary() string {
	return fmt.Sprintf("imported %d, already present %d, skipped %d", c.Imported, c.Present, c.Skipped)
}

// dcloudAppID is what a uni-app project's id looks like.
var dcloudAppID = regexp.MustCompile(`^__UNI__[A-Za-z0-9]{1,32}$`)

// newFormat checks the options against the configured apps and returns
// the reader of the format.
func newFormat(o *Options, ni *NotImported) (format, error) {
	configured := func(app string) bool { return slices.Contains(o.Apps, app) }
	switch o.From {
	case "leancloud", "csv":
		app := o.AppID
		if app == "" {
			if len(o.Apps) == 0 {
				return nil, errors.New("no mini program is configured: set MINIAUTH_WECHAT_APPID (or MINIAUTH_WECHAT_APPS) as the server has it")
			}
			app = o.Apps[0]
		}
		if !configured(app) {
			return nil, fmt.Errorf("--appid %s is not a mini program this server serves (MINIAUTH_WECHAT_APPS): its users could never log in", app)
		}
		if o.From == "csv" {
			apps := map[string]bool{}
			for _, a := range o.Apps {
				apps[a] = true
			}
			return &csvFormat{appID: app, apps: apps}, nil
		}
		return &leanCloud{appID: app, disabledField: o.DisabledField, provider: o.Provider, notImported: ni}, nil
	case "uni-id":
		f := &uniID{apps: o.DCloudApps, notImported: ni}
		for d, app := range o.DCloudApps {
			if !dcloudAppID.MatchString(d) {
				return nil, fmt.Errorf("--app %s=%s: %s is not a DCloud appid (__UNI__…)", d, app, d)
			}
			if !configured(app) {
				return nil, fmt.Errorf("--app %s=%s: %s is not a mini program this server serves (MINIAUTH_WECHAT_APPS)", d, app, app)
			}
		}
		switch {
		case o.DefaultDCloudApp != "":
			app, ok := o.DCloudApps[o.DefaultDCloudApp]
			if !ok {
				return nil, fmt.Errorf("--default-app %s is not mapped with --app %s=APPID", o.DefaultDCloudApp, o.DefaultDCloudApp)
			}
			f.defaultApp = app
		case len(o.DCloudApps) == 0 && len(o.Apps) == 1:
			f.anyApp = o.Apps[0]
		case len(o.DCloudApps) == 0:
			return nil, errors.New("several mini programs are configured: map each uni-app project with --app __UNI__XXXXXXX=APPID")
		case len(o.DCloudApps) == 1:
			for _, app := range o.DCloudApps {
				f.defaultApp = app
			}
		}
		return f, nil
	case "miniauth":
		return miniauthFormat{}, nil
	}
	return nil, fmt.Errorf("--from %q: want one of leancloud, uni-id, csv, miniauth", o.From)
}

// openSource picks the reader of the file for the format.
func openSource(from string, r io.Reader) (recordReader, error) {
	if from == "csv" {
		return newCSVReader(r)
	}
	rr, err := openJSON(r, from == "leancloud")
	if err != nil {
		return nil, wrongFormat{err.Error()}
	}
	return rr, nil
}

// item is one entry on its way from the reader to the writer: a
// candidate, or the reason it was skipped.
type item struct {
	c   *Candidate
	bad *Entry
}

// Source is an export being imported: its options checked and its
// first entry read, so that a file of the wrong format is refused before
// any database is opened.
type Source struct {
	opts  Options
	f     format
	rr    recordReader
	first rawRecord
	empty bool
	ni    *NotImported // the reader's: batches carry copies to the writer
}

// Open checks the options and the format of r at its first entry (an
// error that is ErrWrongFormat says it is not the format o.From names).
func Open(r io.Reader, o Options) (*Source, error) {
	s := &Source{ni: &NotImported{}}
	f, err := newFormat(&o, s.ni)
	if err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	rr, err := openSource(o.From, r)
	if err != nil {
		return nil, err
	}
	if cf, ok := f.(*csvFormat); ok {
		cf.col = rr.(*csvReader).col
	}
	s.opts, s.f, s.rr = o, f, rr
	s.first, err = rr.next()
	switch {
	case err == io.EOF:
		s.empty = true
	case err != nil:
		return nil, wrongFormat{err.Error()}
	default:
		if err := f.check(s.first, rr); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// SetReport sends the report to w (Options.Report).
func (s *Source) SetReport(w io.Writer) { s.opts.Report = w }

// Run imports the users of r into db and returns the counts (Open, then
// Import).
func Run(ctx context.Context, db *database.DB, r io.Reader, o Options) (Counts, error) {
	s, err := Open(r, o)
	if err != nil {
		return Counts{}, err
	}
	return s.Import(ctx, db)
}

// Import writes the source's users into db and returns the counts. An
// error stops the import between two batches; the batches written before
// it stay (running the import again goes on from there).
func (s *Source) Import(ctx context.Context, db *database.DB) (Counts, error) {
	o := s.opts
	counts := Counts{Reasons: map[string]int{}}
	w := &writer{db: db, opts: o, counts: &counts}
	if err := w.start(ctx); err != nil {
		return counts, err
	}
	if o.Report != nil {
		w.report = json.NewEncoder(o.Report)
		w.report.SetEscapeHTML(false)
	}

	// The reader runs ahead of the writer by a batch or two, so that
	// parsing and writing overlap.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan batch, 2)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		if s.empty {
			readErr <- nil
			return
		}
		readErr <- readBatches(rctx, s, batches)
	}()
	for b := range batches {
		counts.NotImported = b.notImported
		if err := w.write(ctx, b.items); err != nil {
			cancel()
			for range batches { // let the reader end
			}
			<-readErr
			return w.snapshot(), err
		}
		if o.Progress != nil {
			o.Progress(w.snapshot())
		}
	}
	if err := <-readErr; err != nil {
		return w.snapshot(), err
	}
	if err := ctx.Err(); err != nil {
		return w.snapshot(), err
	}
	if w.report != nil {
		if err := w.report.Encode(struct {
			Reason string `json:"reason"`
			NotImported
		}{NotImportedFieldsSum, counts.NotImported}); err != nil {
			return w.snapshot(), fmt.Errorf("write the report: %w", err)
		}
	}
	return w.snapshot(), nil
}

// batch is the items of one transaction, and what the reader has counted
// as never imported up to its end.
type batch struct {
	items       []item
	notImported NotImported
}

// readBatches reads the source into batches of items, starting with
// the entry Open read. s.ni is the formats' count, updated as they
// decode: each batch carries a copy.
func readBatches(ctx context.Context, s *Source, out chan<- batch) error {
	size := s.opts.Batch
	b := make([]item, 0, size)
	rec := s.first
	for {
		var it item
		if rec.err != nil {
			it.bad = rec.err
		} else {
			it.c, it.bad = s.f.decode(rec)
		}
		b = append(b, it)
		if len(b) == size {
			select {
			case out <- batch{b, *s.ni}:
			case <-ctx.Done():
				return ctx.Err()
			}
			b = make([]item, 0, size)
		}
		var err error
		rec, err = s.rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if len(b) > 0 {
		select {
		case out <- batch{b, *s.ni}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// CheckOptions says what is wrong with the options (an unknown format, an
// app this server does not serve, an unmapped default app), before any
// file or database is opened.
func CheckOptions(o Options) error {
	_, err := newFormat(&o, &NotImported{})
	return err
}
