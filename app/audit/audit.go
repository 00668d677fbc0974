// Package audit is the admin audit log: every admin action, append-only,
// in the database so that every instance writes to and reads one log.
package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/miniauth/miniauth/app/clienttext"
	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/auditentry"
	"github.com/miniauth/miniauth/ent/predicate"
)

// Actions, as stored. The panel shows them in words (its catalogues have
// a key "action.<name>" for each).
const (
	SignIn           = "sign_in"
	SignInFailed     = "sign_in_failed"
	SignOut          = "sign_out"
	SecondFactorFail = "second_factor_failed"
	UserDisabled     = "user_disabled"
	UserEnabled      = "user_enabled"
	SessionEnded     = "session_ended"
	CSVExported      = "csv_exported"
	AdminCreated     = "admin_created"
	PasswordChanged  = "password_changed"
	TOTPEnrolled     = "totp_enrolled"
	TOTPRemoved      = "totp_removed"
	AdminDeleted     = "admin_deleted"
	RoleChanged      = "role_changed"
	Forbidden        = "forbidden"
	// UserRolesChanged: a user's roles (not an admin's role) were set.
	UserRolesChanged = "user_roles_changed"
	// SigningKeyRotated: `miniauth keys rotate` made a new key the signer.
	SigningKeyRotated = "signing_key_rotated"
	// What WeChat's pushed events did (actor "wechat") and the content
	// review (issue 19).
	WeChatRevoked        = "wechat_data_revoked"
	WeChatProfileCleaned = "wechat_profile_cleaned"
	WeChatAccountClosed  = "wechat_account_closed"
	AvatarRejected       = "avatar_rejected"
	ReviewApproved       = "review_approved"
	ReviewCleared        = "review_cleared"
)

// Actions lists every action, in the order the filter offers them.
var Actions = []string{SignIn, SignInFailed, SignOut, SecondFactorFail, UserDisabled, UserEnabled, SessionEnded,
	CSVExported, AdminCreated, PasswordChanged, TOTPEnrolled, TOTPRemoved, AdminDeleted, RoleChanged, Forbidden,
	UserRolesChanged, SigningKeyRotated,
	WeChatRevoked, WeChatProfileCleaned, WeChatAccountClosed, AvatarRejected, ReviewApproved, ReviewCleared}

// CLIActor is the actor of commands run on the server.
const CLIActor = "cli"

// Field bounds: entries hold what a client sent (a tried username, a
// user agent), which must not grow the table without limit.
const (
	maxActor     = 64
	maxDetail    = 256
	maxUserAgent = 256
	maxIP        = 64
)

// Entry is one action to record.
type Entry struct {
	Actor        string // admin username, the username tried, or CLIActor
	AdminID      int    // 0 when no admin is known
	Action       string
	TargetUserID int    // 0 when no user is concerned
	TargetAdmin  string // the admin account acted on
	Detail       string
	IP           string
	UserAgent    string
}

// Log records and lists audit entries.
type Log struct {
	DB  *database.DB
	Now clock.Clock
}

// New is the audit log of db.
func New(db *database.DB) *Log { return &Log{DB: db} }

// Record appends an entry.
func (l *Log) Record(ctx context.Context, e Entry) error {
	return l.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		return l.RecordTx(ctx, tx, e)
	})
}

// RecordTx appends an entry inside a caller's write, so that the action
// and its entry are stored together or not at all.
func (l *Log) RecordTx(ctx context.Context, tx *ent.Client, e Entry) error {
	c := tx.AuditEntry.Create().
		SetCreatedAt(l.Now.Now()).
		SetActor(clienttext.Clip(e.Actor, maxActor)).
		SetAction(e.Action).
		SetTargetAdmin(clienttext.Clip(e.TargetAdmin, maxActor)).
		SetDetail(clienttext.Clip(e.Detail, maxDetail)).
		SetIP(clienttext.Clip(e.IP, maxIP)).
		SetUserAgent(clienttext.Clip(e.UserAgent, maxUserAgent))
	if e.AdminID > 0 {
		c.SetAdminID(e.AdminID)
	}
	if e.TargetUserID > 0 {
		c.SetTargetUserID(e.TargetUserID)
	}
	if err := c.Exec(ctx); err != nil {
		return fmt.Errorf("record audit entry %s: %w", e.Action, err)
	}
	return nil
}

// Filter selects entries; zero fields select everything.
type Filter struct {
	Actor  string
	Action string
	UserID int
	From   time.Time // inclusive
	To     time.Time // exclusive
}

func (f Filter) where() []predicate.AuditEntry {
	var ps []predicate.AuditEntry
	if f.Actor != "" {
		ps = append(ps, auditentry.Actor(clienttext.Clean(f.Actor)))
	}
	if f.Action != "" {
		ps = append(ps, auditentry.Action(f.Action))
	}
	if f.UserID > 0 {
		ps = append(ps, auditentry.TargetUserID(f.UserID))
	}
	if !f.From.IsZero() {
		ps = append(ps, auditentry.CreatedAtGTE(f.From.UTC()))
	}
	if !f.To.IsZero() {
		ps = append(ps, auditentry.CreatedAtLT(f.To.UTC()))
	}
	return ps
}

// Page is one page of entries, newest first.
type Page struct {
	Entries []*ent.AuditEntry
	Page    int
	PerPage int
	HasNext bool
}

// MaxPage bounds how deep a listing can page (an OFFSET's cost grows with
// it); narrower filters reach older entries.
const MaxPage = 10000

// List returns page (1-based) of the entries the filter selects, newest
// first. One extra row tells whether a next page exists, so no count of a
// large table is needed.
func (l *Log) List(ctx context.Context, f Filter, page, perPage int) (*Page, error) {
	page = min(max(page, 1), MaxPage)
	perPage = min(max(perPage, 1), 200)
	rows, err := l.DB.Read.AuditEntry.Query().Where(f.where()...).
		Order(ent.Desc(auditentry.FieldCreatedAt), ent.Desc(auditentry.FieldID)).
		Offset((page - 1) * perPage).Limit(perPage + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	p := &Page{Page: page, PerPage: perPage}
	if len(rows) > perPage {
		rows, p.HasNext = rows[:perPage], true
	}
	p.Entries = rows
	return p, nil
}

// purgeBatch bounds one purge transaction, so the SQLite writer is never
// held for long.
const purgeBatch = 5000

// Purge deletes the entries older than cutoff and returns how many.
func (l *Log) Purge(ctx context.Context, cutoff time.Time) (int, error) {
	total := 0
	for {
		var n int
		err := l.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
			ids, err := tx.AuditEntry.Query().Where(auditentry.CreatedAtLT(cutoff.UTC())).Limit(purgeBatch).IDs(ctx)
			if err != nil || len(ids) == 0 {
				return err
			}
			n, err = tx.AuditEntry.Delete().Where(auditentry.IDIn(ids...)).Exec(ctx)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("purge audit entries: %w", err)
		}
		total += n
		if n < purgeBatch {
			return total, nil
		}
	}
}
