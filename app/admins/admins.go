// Package admins is the admin panel's accounts: operators, their argon2id
// password hashes, their sign-in sessions and the CSRF tokens bound to
// those sessions.
package admins

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/miniauth/miniauth/app/clienttext"
	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/keys"
	"github.com/miniauth/miniauth/app/logins"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/admin"
	"github.com/miniauth/miniauth/ent/adminsession"
)

// Account rules and session lifetime.
const (
	MinPassword    = 10   // characters
	MaxPassword    = 1024 // bytes: a bound on hashing work, not a policy
	MaxUsername    = 64
	DefaultSession = 12 * time.Hour
)

// Errors callers tell apart.
var (
	ErrBadCredentials = errors.New("wrong username or password")
	ErrDuplicate      = errors.New("an admin with that username already exists")
	ErrNotFound       = errors.New("no admin with that username")
	ErrSession        = errors.New("admin session is missing, expired or revoked")
)

// Service manages admin accounts and sessions.
type Service struct {
	DB         *database.DB
	Signer     *tokens.Signer
	Params     Params
	SessionTTL time.Duration
	Now        clock.Clock

	csrfKey    []byte
	pendingKey []byte
	keys       *keys.Set
	dummyOnce  sync.Once
	dummy      string
}

// New is the service with the default hashing cost and session lifetime.
func New(db *database.DB, ks *keys.Set) *Service {
	m := hmac.New(sha256.New, ks.AdminToken)
	m.Write([]byte("miniauth admin csrf v1"))
	p := hmac.New(sha256.New, ks.AdminToken)
	p.Write([]byte("miniauth admin pending sign-in v1"))
	return &Service{
		DB:         db,
		Signer:     &tokens.Signer{Kind: tokens.Admin, Key: ks.AdminToken, TTL: DefaultSession},
		Params:     DefaultParams,
		SessionTTL: DefaultSession,
		csrfKey:    m.Sum(nil),
		pendingKey: p.Sum(nil),
		keys:       ks,
	}
}

// NormalizeUsername trims and lower-cases a username: "Alice" and
// "alice " are one account and share one rate limit.
func NormalizeUsername(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// ValidateUsername explains what is wrong with a (normalized) username.
func ValidateUsername(name string) error {
	if name == "" {
		return errors.New("username must not be empty")
	}
	if len(name) > MaxUsername {
		return fmt.Errorf("username must be at most %d characters", MaxUsername)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._-@", r)) {
			return errors.New("username may only contain letters, digits and . _ - @")
		}
	}
	return nil
}

// ValidatePassword explains what is wrong with a new password. Its
// length is counted in characters (runes, not bytes: a Chinese passphrase
// is not three times as long as it looks) and without surrounding
// whitespace, so that ten spaces, or one letter padded with spaces, do
// not pass for a long password.
func ValidatePassword(pw string) error {
	switch {
	case pw == "":
		return errors.New("password must not be empty")
	case !utf8.ValidString(pw):
		return errors.New("password must be valid UTF-8")
	case strings.TrimSpace(pw) == "":
		return errors.New("password must not be blank")
	case utf8.RuneCountInString(strings.TrimSpace(pw)) < MinPassword:
		return fmt.Errorf("password must be at least %d characters", MinPassword)
	case len(pw) > MaxPassword:
		return fmt.Errorf("password must be at most %d bytes", MaxPassword)
	}
	return nil
}

// Create adds an admin with the operator role.
func (s *Service) Create(ctx context.Context, username, password string) (*ent.Admin, error) {
	return s.CreateWithRole(ctx, username, password, admin.RoleOperator)
}

// CreateWithRole adds an admin with a role (roles.go).
func (s *Service) CreateWithRole(ctx context.Context, username, password string, role admin.Role) (*ent.Admin, error) {
	if err := admin.RoleValidator(role); err != nil {
		return nil, ErrRole
	}
	username = NormalizeUsername(username)
	if err := ValidateUsername(username); err != nil {
		return nil, err
	}
	if err := ValidatePassword(password); err != nil {
		return nil, err
	}
	hash := HashPassword(password, s.Params)
	var out *ent.Admin
	err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		if n, err := tx.Admin.Query().Where(admin.Username(username)).Count(ctx); err != nil {
			return err
		} else if n > 0 {
			return ErrDuplicate
		}
		a, err := tx.Admin.Create().SetUsername(username).SetPasswordHash(hash).SetRole(role).SetCreatedAt(s.Now.Now()).Save(ctx)
		if ent.IsConstraintError(err) {
			return ErrDuplicate
		}
		out = a
		return err
	})
	return out, err
}

// List returns every admin, oldest first.
func (s *Service) List(ctx context.Context) ([]*ent.Admin, error) {
	return s.DB.Read.Admin.Query().Order(ent.Asc(admin.FieldID)).All(ctx)
}

// SetPassword replaces an admin's password and signs out every session.
func (s *Service) SetPassword(ctx context.Context, username, password string) error {
	username = NormalizeUsername(username)
	if err := ValidatePassword(password); err != nil {
		return err
	}
	hash := HashPassword(password, s.Params)
	return s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		a, err := adminNamed(ctx, tx, username)
		if err != nil {
			return err
		}
		if err := tx.Admin.UpdateOneID(a.ID).SetPasswordHash(hash).Exec(ctx); err != nil {
			return err
		}
		return tx.AdminSession.Update().
			Where(adminsession.AdminID(a.ID), adminsession.RevokedAtIsNil()).
			SetRevokedAt(s.Now.Now()).Exec(ctx)
	})
}

// adminNamed finds the admin with the (normalized) username, or
// ErrNotFound.
func adminNamed(ctx context.Context, tx *ent.Client, username string) (*ent.Admin, error) {
	a, err := tx.Admin.Query().Where(admin.Username(username)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrNotFound
	}
	return a, err
}

// Delete removes an admin, and their sessions by the schema's cascade.
func (s *Service) Delete(ctx context.Context, username string) error {
	username = NormalizeUsername(username)
	return s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		a, err := adminNamed(ctx, tx, username)
		if err != nil {
			return err
		}
		return tx.Admin.DeleteOneID(a.ID).Exec(ctx)
	})
}

// Session is a successful sign-in.
type Session struct {
	Token     string // the admin JWT, for the cookie
	ExpiresAt time.Time
	Admin     *ent.Admin
	SessionID int
	Nonce     string // the session's random name, in the token
}

// Client describes where a sign-in came from: the same description as a
// user's session.
type Client = logins.Client

// Login checks a username and password and opens a session.
func (s *Service) Login(ctx context.Context, username, password string, c Client) (*Session, error) {
	a, err := s.CheckCredentials(ctx, username, password)
	if err != nil {
		return nil, err
	}
	return s.OpenSession(ctx, a, c)
}

// ByID is the admin with that id, or a not_found problem (deleted since).
func (s *Service) ByID(ctx context.Context, id int) (*ent.Admin, error) {
	a, err := s.DB.Read.Admin.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, problem.New(problem.NotFound, "no such admin")
	}
	if err != nil {
		return nil, fmt.Errorf("load admin %d: %w", id, err)
	}
	return a, nil
}

// CheckCredentials returns the admin whose username and password these
// are, or ErrBadCredentials. An unknown username costs one hash of a
// dummy password, so that the answer takes as long as for a wrong
// password and does not reveal which names exist.
func (s *Service) CheckCredentials(ctx context.Context, username, password string) (*ent.Admin, error) {
	username = NormalizeUsername(username)
	if username == "" || password == "" || len(username) > MaxUsername || len(password) > MaxPassword {
		s.burnHash(password)
		return nil, ErrBadCredentials
	}
	a, err := s.DB.Read.Admin.Query().Where(admin.Username(username)).Only(ctx)
	if ent.IsNotFound(err) {
		s.burnHash(password)
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("find admin: %w", err)
	}
	ok, err := CheckPassword(a.PasswordHash, password)
	if err != nil {
		return nil, fmt.Errorf("admin %d: %w", a.ID, err)
	}
	if !ok {
		return nil, ErrBadCredentials
	}
	return a, nil
}

// OpenSession signs an admin in (after every factor was checked).
func (s *Service) OpenSession(ctx context.Context, a *ent.Admin, c Client) (*Session, error) {
	var sess *ent.AdminSession
	nonce := tokens.NewSessionNonce()
	err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		now := s.Now.Now()
		var err error
		sess, err = tx.AdminSession.Create().
			SetAdminID(a.ID).
			SetNonce(nonce).
			SetCreatedAt(now).
			SetExpiresAt(now.Add(s.SessionTTL)).
			SetIP(c.IP).
			SetUserAgent(clienttext.Clip(c.UserAgent, 256)).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("create admin session: %w", err)
		}
		return tx.Admin.UpdateOneID(a.ID).SetLastLoginAt(now).Exec(ctx)
	})
	if err != nil {
		return nil, err
	}
	signer := *s.Signer
	signer.TTL = s.SessionTTL
	signer.Now = s.Now
	token, exp, err := signer.Sign(a.ID, sess.ID, nonce)
	if err != nil {
		return nil, err
	}
	return &Session{Token: token, ExpiresAt: exp, Admin: a, SessionID: sess.ID, Nonce: nonce}, nil
}

// burnHash spends the time of one password check.
func (s *Service) burnHash(password string) {
	s.dummyOnce.Do(func() { s.dummy = HashPassword("miniauth dummy password", s.Params) })
	CheckPassword(s.dummy, password)
}

// Authenticate checks that a token's admin session is still live and is
// the token's (nonce: a reused id after a restore is another session).
func (s *Service) Authenticate(ctx context.Context, adminID, sessionID int, nonce string) (*ent.Admin, error) {
	sess, err := s.DB.Read.AdminSession.Query().Where(
		adminsession.ID(sessionID),
		adminsession.AdminID(adminID),
		adminsession.Nonce(nonce),
		adminsession.RevokedAtIsNil(),
		adminsession.ExpiresAtGT(s.Now.Now()),
	).WithAdmin().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrSession
	}
	if err != nil {
		return nil, fmt.Errorf("admin session %d: %w", sessionID, err)
	}
	return sess.Edges.Admin, nil
}

// Logout revokes one admin session.
func (s *Service) Logout(ctx context.Context, sessionID int) error {
	return s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		return tx.AdminSession.Update().
			Where(adminsession.ID(sessionID), adminsession.RevokedAtIsNil()).
			SetRevokedAt(s.Now.Now()).Exec(ctx)
	})
}

// CSRFToken is the anti-forgery token of an admin session: an HMAC of
// its id, so it needs no storage and dies with the session.
func (s *Service) CSRFToken(sessionID int) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(strconv.Itoa(sessionID)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ValidCSRF reports whether token belongs to the session.
func (s *Service) ValidCSRF(sessionID int, token string) bool {
	return token != "" && hmac.Equal([]byte(token), []byte(s.CSRFToken(sessionID)))
}
