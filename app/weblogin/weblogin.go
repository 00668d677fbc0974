// Package weblogin signs a browser in by scanning a mini program code:
// the browser asks for a ticket, shows the code WeChat draws for it
// (getwxacodeunlimit, the ticket as its scene) and waits; the user scans
// the code, the mini program opens on the page that reads the scene, and
// the signed-in user confirms; the waiting browser then receives a new
// session of that user, exactly once.
//
// Tickets live in the database so that instances agree: a code scanned
// through one instance signs in a browser waiting on another. A waiting
// poll holds no database connection: it sleeps until this instance's
// writes, or another instance's NOTIFY (PostgreSQL), say its ticket
// changed.
package weblogin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"
	"golang.org/x/sync/singleflight"

	"github.com/miniauth/miniauth/app/clienttext"
	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/logins"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/app/wechat"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/webloginticket"
)

// Statuses a browser is told.
const (
	StatusPending   = "pending"
	StatusScanned   = "scanned"
	StatusConfirmed = "confirmed"
	StatusDenied    = "denied"
	StatusExpired   = "expired"
)

// statusEnded is a ticket whose session was handed to the browser: it
// answers nothing any more.
const statusEnded = "ended"

// MaxWait is the longest a poll waits for a change.
const MaxWait = 25 * time.Second

// Channel carries changed tickets between instances (PostgreSQL).
var Channel = database.Channel{Name: "miniauth_weblogin", AppName: "miniauth-weblogin-listener"}

// Lengths: a ticket is 16 random bytes (22 characters of base64url, all of
// them allowed in a scene), a poll token 32.
const (
	ticketBytes = 16
	TicketLen   = 22
	pollBytes   = 32
)

// Keep is how long an expired ticket is kept (a late poll is told
// "expired" rather than "not found") before Purge removes it.
const Keep = 10 * time.Minute

// purgeEvery is how often Run purges.
const purgeEvery = 5 * time.Minute

// Service keeps the tickets.
type Service struct {
	DB     *database.DB
	Logins *logins.Service
	Log    *slog.Logger
	Now    clock.Clock
	// Page and Env are where the code leads (MINIAUTH_QR_PAGE, _ENV);
	// TTL how long a ticket lives (MINIAUTH_QR_TTL).
	Page string
	Env  string
	TTL  time.Duration

	hub    hub
	images singleflight.Group
	// heard: this instance hears every change (SQLite, or the
	// PostgreSQL listener is up). Otherwise waiting polls also look
	// again every second.
	heard atomic.Bool
	// stopping ends every wait: the server is shutting down.
	stopping atomic.Bool
	// sleeping counts the polls waiting now.
	sleeping atomic.Int64
}

// Ticket is a new sign-in for the browser.
type Ticket struct {
	ID        string
	PollToken string
	ExpiresIn int // seconds
}

var (
	errNotFound   = problem.New(problem.NotFound, "no such sign-in, or it has ended or expired")
	errTaken      = problem.New(problem.NotFound, "this sign-in code was scanned by someone else")
	errNotScanned = problem.New(problem.NotFound, "this sign-in was not scanned by you, or it has ended or expired")
	errWebSession = problem.New(problem.NotFound, "web sign-ins are confirmed from the mini program, not from another web session")
)

// validID reports whether id can be a ticket, before any query.
func validID(id string) bool {
	if len(id) != TicketLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func pollHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Create makes a ticket for the browser c, for the mini program appID
// ("" with a single one).
func (s *Service) Create(ctx context.Context, appID string, c logins.Client) (*Ticket, error) {
	app, err := s.Logins.PickMiniProgram(appID)
	if err != nil {
		return nil, err
	}
	t := &Ticket{ID: tokens.RandomString(ticketBytes), PollToken: tokens.RandomString(pollBytes), ExpiresIn: int(s.TTL / time.Second)}
	err = s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		now := s.Now.Now()
		return tx.WebLoginTicket.Create().
			SetID(t.ID).
			SetPollHash(pollHash(t.PollToken)).
			SetAppid(app.AppID()).
			SetIP(c.IP).
			SetUserAgent(clienttext.Clip(c.UserAgent, 256)).
			SetCreatedAt(now).
			SetExpiresAt(now.Add(s.TTL)).
			Exec(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("create web sign-in ticket: %w", err)
	}
	return t, nil
}

// status is what the browser is told of t now.
func (s *Service) status(t *ent.WebLoginTicket) string {
	switch {
	case t.Status == statusEnded:
		return statusEnded
	case !s.Now.Now().Before(t.ExpiresAt):
		return StatusExpired
	}
	return t.Status
}

// load reads a ticket without its image.
func (s *Service) load(ctx context.Context, id string) (*ent.WebLoginTicket, error) {
	t, err := s.DB.Read.WebLoginTicket.Query().Where(webloginticket.ID(id)).
		Select(webloginticket.FieldPollHash, webloginticket.FieldStatus, webloginticket.FieldUserID,
			webloginticket.FieldExpiresAt, webloginticket.FieldAppid).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load web sign-in ticket: %w", err)
	}
	return t, nil
}

// Image is the ticket's mini program code. WeChat draws it once per
// ticket; it is kept with the ticket and served again from there. Only a
// live ticket has one: nothing else can make the server call WeChat.
func (s *Service) Image(ctx context.Context, id string) (*wechat.Image, time.Time, error) {
	if !validID(id) {
		return nil, time.Time{}, errNotFound
	}
	t, err := s.DB.Read.WebLoginTicket.Query().Where(webloginticket.ID(id)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, time.Time{}, errNotFound
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("load web sign-in ticket: %w", err)
	}
	if st := s.status(t); st == statusEnded || st == StatusExpired || st == StatusDenied {
		return nil, time.Time{}, errNotFound
	}
	if t.Image != nil && t.ImageType != "" {
		return &wechat.Image{Bytes: *t.Image, ContentType: t.ImageType}, t.ExpiresAt, nil
	}
	// Concurrent first requests of one instance share one call.
	v, err, _ := s.images.Do(id, func() (any, error) { return s.drawImage(context.WithoutCancel(ctx), t) })
	if err != nil {
		return nil, time.Time{}, err
	}
	return v.(*wechat.Image), t.ExpiresAt, nil
}

func (s *Service) drawImage(ctx context.Context, t *ent.WebLoginTicket) (*wechat.Image, error) {
	app, ok := s.Logins.MiniPrograms.Get(t.Appid)
	if !ok {
		return nil, problem.New(problem.NotFound, "this sign-in's mini program is no longer configured")
	}
	img, err := app.UnlimitedQRCode(ctx, wechat.QRCode{Scene: t.ID, Page: s.Page, Env: s.Env})
	if err != nil {
		var we *wechat.Error
		switch {
		case errors.As(err, &we) && we.Code == wechat.CodeInvalidPage:
			s.Log.Error("WeChat refuses to draw sign-in codes for this page: MINIAUTH_QR_PAGE must be a page of the released mini program (or set MINIAUTH_QR_ENV=trial or develop)",
				"appid", app.AppID(), "page", s.Page, "env", s.Env, "err", err)
		case wechat.Misconfigured(err):
			s.Log.Error("WeChat rejected our credentials: check the AppID and secret", "appid", app.AppID(), "err", err)
		default:
			s.Log.Warn("getwxacodeunlimit failed", "appid", app.AppID(), "err", err)
		}
		return nil, wechat.Problem(err)
	}
	err = s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		return tx.WebLoginTicket.Update().Where(webloginticket.ID(t.ID), webloginticket.ImageIsNil()).
			SetImage(img.Bytes).SetImageType(img.ContentType).Exec(ctx)
	})
	if err != nil {
		// The picture is good; the next request draws it again.
		s.Log.Warn("keep web sign-in code", "err", err)
	}
	return img, nil
}

// PollResult is what a poll answers: a status, and with the first
// "confirmed" the new session's tokens.
type PollResult struct {
	Status string
	Grant  *logins.Grant
}

// Poll tells the browser holding pollToken how its sign-in stands,
// waiting up to wait for a change from how it stood when asked. The
// first poll that finds it confirmed receives the new session and ends
// the ticket; any other is told not_found. c is the browser (the new
// session's IP and device).
func (s *Service) Poll(ctx context.Context, id, pollToken string, wait time.Duration, c logins.Client) (*PollResult, error) {
	if !validID(id) {
		return nil, errNotFound
	}
	wait = min(max(wait, 0), MaxWait)
	deadline := time.Now().Add(wait)
	first := ""
	for {
		changed, done, canWait := s.hub.subscribe(id)
		t, err := s.load(ctx, id)
		if err == nil && subtle.ConstantTimeCompare(t.PollHash, pollHash(pollToken)) != 1 {
			err = errNotFound
		}
		if err != nil {
			if canWait {
				done()
			}
			return nil, err
		}
		st := s.status(t)
		left := time.Until(deadline)
		if first == "" {
			first = st
		}
		if st != first || st != StatusPending && st != StatusScanned || left <= 0 || !canWait || s.stopping.Load() {
			if canWait {
				done()
			}
			switch st {
			case statusEnded:
				return nil, errNotFound
			case StatusConfirmed:
				return s.handOver(ctx, id, c)
			}
			return &PollResult{Status: st}, nil
		}
		// Wake at a change, at the deadline, or when the ticket expires
		// (by the service's clock); without the listener, every second.
		timer := time.NewTimer(min(left, max(t.ExpiresAt.Sub(s.Now.Now()), 0)+10*time.Millisecond))
		var again <-chan time.Time
		if !s.heard.Load() {
			again = time.After(time.Second)
		}
		s.sleeping.Add(1)
		select {
		case <-changed:
		case <-timer.C:
		case <-again:
		case <-ctx.Done():
		}
		s.sleeping.Add(-1)
		timer.Stop()
		done()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// errLost: another poll took the confirmed sign-in first.
var errLost = errors.New("web sign-in already handed over")

// handOver ends a confirmed ticket and opens its session, in one
// transaction: the conditional update lets exactly one poll through, on
// SQLite (one writer) and PostgreSQL (the row lock) alike. A user
// disabled since confirming gets no session, and the ticket ends.
func (s *Service) handOver(ctx context.Context, id string, c logins.Client) (*PollResult, error) {
	var ws *logins.WebSession
	var refused error
	err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		now := s.Now.Now()
		n, err := tx.WebLoginTicket.Update().
			Where(webloginticket.ID(id), webloginticket.StatusEQ(StatusConfirmed), webloginticket.ExpiresAtGT(now)).
			SetStatus(statusEnded).Save(ctx)
		if err != nil {
			return fmt.Errorf("end web sign-in ticket: %w", err)
		}
		if n == 0 {
			return errLost
		}
		t, err := tx.WebLoginTicket.Query().Where(webloginticket.ID(id)).Select(webloginticket.FieldUserID).Only(ctx)
		if err != nil {
			return fmt.Errorf("load web sign-in ticket: %w", err)
		}
		if t.UserID == nil {
			return fmt.Errorf("confirmed web sign-in ticket has no user")
		}
		ws, err = s.Logins.OpenWebSession(ctx, tx, *t.UserID, c)
		if _, ok := problem.As(err); ok {
			// The user is disabled or gone: the ticket still ends.
			refused, ws = err, nil
		} else if err != nil {
			return err
		}
		return s.DB.NotifyOn(ctx, tx, Channel, id)
	})
	s.hub.wake(id)
	switch {
	case errors.Is(err, errLost):
		// Another poll took it, or it expired meanwhile.
		if t, lerr := s.load(ctx, id); lerr == nil && s.status(t) == StatusExpired {
			return &PollResult{Status: StatusExpired}, nil
		}
		return nil, errNotFound
	case err != nil:
		return nil, err
	case refused != nil:
		return nil, refused
	}
	g, err := ws.Grant(s.Logins)
	if err != nil {
		return nil, err
	}
	s.Log.Info("web sign-in handed over", "user_id", g.User.ID)
	return &PollResult{Status: StatusConfirmed, Grant: g}, nil
}

// ScanInfo is where a sign-in comes from, for the user who scanned it.
type ScanInfo struct {
	IP     string
	Device string
}

// change runs one transition of a ticket for the mini program's user:
// update may touch the ticket only where the transition allows; if it
// changes nothing, why explains it. Web sessions cannot act on tickets.
func (s *Service) change(ctx context.Context, id string, userID, sessionID int,
	update func(ctx context.Context, tx *ent.Client, now time.Time) (int, error),
	check func(ctx context.Context, tx *ent.Client) error) error {
	if !validID(id) {
		return errNotFound
	}
	err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		web, err := s.Logins.IsWebSession(ctx, tx, sessionID)
		if err != nil {
			return err
		}
		if web {
			return errWebSession
		}
		n, err := update(ctx, tx, s.Now.Now())
		if err != nil {
			return fmt.Errorf("update web sign-in ticket: %w", err)
		}
		if n == 0 {
			return s.why(ctx, tx, id, userID)
		}
		if check != nil {
			if err := check(ctx, tx); err != nil {
				return err
			}
		}
		return s.DB.NotifyOn(ctx, tx, Channel, id)
	})
	if err == nil {
		s.hub.wake(id)
	}
	return err
}

// why explains a transition that found nothing to change.
func (s *Service) why(ctx context.Context, tx *ent.Client, id string, userID int) error {
	t, err := tx.WebLoginTicket.Query().Where(webloginticket.ID(id)).
		Select(webloginticket.FieldStatus, webloginticket.FieldUserID, webloginticket.FieldExpiresAt).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return errNotFound
	case err != nil:
		return fmt.Errorf("load web sign-in ticket: %w", err)
	}
	st := s.status(t)
	if st == StatusExpired || st == statusEnded || st == StatusDenied {
		return errNotFound
	}
	if t.UserID != nil && *t.UserID != userID {
		return errTaken
	}
	return errNotScanned
}

// Scan records that userID scanned the code; a code someone else scanned
// is refused. It answers where the sign-in comes from.
func (s *Service) Scan(ctx context.Context, id string, userID, sessionID int) (*ScanInfo, error) {
	err := s.change(ctx, id, userID, sessionID, func(ctx context.Context, tx *ent.Client, now time.Time) (int, error) {
		return tx.WebLoginTicket.Update().
			Where(webloginticket.ID(id), webloginticket.ExpiresAtGT(now), webloginticket.Or(
				webloginticket.StatusEQ(StatusPending),
				webloginticket.And(webloginticket.StatusEQ(StatusScanned), webloginticket.UserID(userID)))).
			SetStatus(StatusScanned).SetUserID(userID).Save(ctx)
	}, nil)
	if err != nil {
		return nil, err
	}
	t, err := s.DB.Read.WebLoginTicket.Query().Where(webloginticket.ID(id)).
		Select(webloginticket.FieldIP, webloginticket.FieldUserAgent).Only(ctx)
	if err != nil {
		return nil, errNotFound // purged meanwhile
	}
	return &ScanInfo{IP: t.IP, Device: profiles.DeviceName(t.UserAgent)}, nil
}

// Confirm lets the browser in: only the user who scanned, still enabled.
func (s *Service) Confirm(ctx context.Context, id string, userID, sessionID int) error {
	return s.change(ctx, id, userID, sessionID, func(ctx context.Context, tx *ent.Client, now time.Time) (int, error) {
		return tx.WebLoginTicket.Update().
			Where(webloginticket.ID(id), webloginticket.ExpiresAtGT(now), webloginticket.UserID(userID),
				webloginticket.StatusIn(StatusScanned, StatusConfirmed)).
			SetStatus(StatusConfirmed).Save(ctx)
	}, func(ctx context.Context, tx *ent.Client) error {
		return s.Logins.CheckEnabled(ctx, tx, userID)
	})
}

// Deny refuses the browser: the user who scanned, or anyone before it was
// scanned (the page may deny without scanning). The ticket ends.
func (s *Service) Deny(ctx context.Context, id string, userID, sessionID int) error {
	return s.change(ctx, id, userID, sessionID, func(ctx context.Context, tx *ent.Client, now time.Time) (int, error) {
		return tx.WebLoginTicket.Update().
			Where(webloginticket.ID(id), webloginticket.ExpiresAtGT(now), webloginticket.Or(
				webloginticket.StatusEQ(StatusPending),
				webloginticket.And(webloginticket.StatusIn(StatusScanned, StatusConfirmed), webloginticket.UserID(userID)))).
			SetStatus(StatusDenied).SetUserID(userID).Save(ctx)
	}, nil)
}

// Purge deletes tickets that expired before before.
func (s *Service) Purge(ctx context.Context, before time.Time) (int, error) {
	var n int
	err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		var err error
		n, err = tx.WebLoginTicket.Delete().Where(webloginticket.ExpiresAtLT(before)).Exec(ctx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge web sign-in tickets: %w", err)
	}
	return n, nil
}

// Run follows other instances' changes (PostgreSQL) and purges old
// tickets until ctx ends; then every waiting poll answers at once.
func (s *Service) Run(ctx context.Context) {
	defer func() {
		s.stopping.Store(true)
		s.hub.close()
	}()
	if s.DB.Dialect != dialect.Postgres {
		s.heard.Store(true)
	} else {
		go s.DB.ListenOn(ctx, Channel, database.ChannelListener{
			Up: func() {
				s.heard.Store(true)
				s.hub.wakeAll() // what changed while deaf
			},
			Down: func(err error) {
				if s.heard.Swap(false) {
					s.Log.Warn("web sign-in: change listener down; waiting polls look every second until it is back", "err", err)
				}
			},
			Notify: s.hub.wake,
		})
	}
	t := time.NewTicker(purgeEvery)
	defer t.Stop()
	for {
		if n, err := s.Purge(ctx, s.Now.Now().Add(-Keep)); err != nil && ctx.Err() == nil {
			s.Log.Warn("purge web sign-in tickets", "err", err)
		} else if n > 0 {
			s.Log.Info("purged web sign-in tickets", "tickets", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Waiting is how many polls are waiting for a change now (holding no
// database connection).
func (s *Service) Waiting() int { return int(s.sleeping.Load()) }
