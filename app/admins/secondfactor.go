package admins

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/admin"
)

// Second-factor errors.
var (
	ErrWrongCode    = errors.New("wrong or already used code")
	ErrNotEnrolled  = errors.New("no second factor enrolled")
	ErrEnrolled     = errors.New("a second factor is already enrolled (remove it first)")
	ErrNoEnrollment = errors.New("no enrollment started")
	ErrPending      = errors.New("sign-in step expired or invalid")
)

// RecoveryCodes is how many one-time recovery codes an enrollment gives.
const RecoveryCodes = 10

// PendingTTL bounds the time between the password and the code.
const PendingTTL = 5 * time.Minute

// Enrolled reports whether an admin has a confirmed second factor.
func Enrolled(a *ent.Admin) bool { return present(a.TotpSecret) }

// present reports whether a nillable bytes field holds a value (Ent scans
// NULL into a pointer to an empty slice).
func present(b *[]byte) bool { return b != nil && len(*b) > 0 }

// Enrollment is a second factor shown but not yet confirmed.
type Enrollment struct {
	Secret []byte
	URI    string
}

// BeginTOTP makes a new secret for an admin and keeps it, sealed, as
// pending until ConfirmTOTP sees a code from it. An admin who already has
// a second factor must remove it first.
func (s *Service) BeginTOTP(ctx context.Context, username string) (*Enrollment, error) {
	username = NormalizeUsername(username)
	secret := make([]byte, TOTPSecretLen)
	rand.Read(secret)
	err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		a, err := notEnrolled(ctx, tx, username)
		if err != nil {
			return err
		}
		return tx.Admin.UpdateOneID(a.ID).SetTotpPending(s.keys.Seal(secret)).Exec(ctx)
	})
	if err != nil {
		return nil, err
	}
	return &Enrollment{Secret: secret, URI: TOTPURI(username, secret)}, nil
}

// notEnrolled is the admin named username, who must not have a second
// factor yet (ErrEnrolled: remove it first).
func notEnrolled(ctx context.Context, tx *ent.Client, username string) (*ent.Admin, error) {
	a, err := adminNamed(ctx, tx, username)
	if err != nil {
		return nil, err
	}
	if Enrolled(a) {
		return nil, ErrEnrolled
	}
	return a, nil
}

// PendingTOTP is the enrollment an admin started and has not confirmed.
func (s *Service) PendingTOTP(a *ent.Admin) (*Enrollment, error) {
	if !present(a.TotpPending) {
		return nil, ErrNoEnrollment
	}
	secret, err := s.keys.Open(*a.TotpPending)
	if err != nil {
		return nil, fmt.Errorf("open pending second factor of admin %d: %w", a.ID, err)
	}
	return &Enrollment{Secret: secret, URI: TOTPURI(a.Username, secret)}, nil
}

// ConfirmTOTP turns the pending secret into the admin's second factor
// when code is one of its current codes, and returns the recovery codes
// (shown once; only their hashes are kept).
func (s *Service) ConfirmTOTP(ctx context.Context, username, code string) ([]string, error) {
	username = NormalizeUsername(username)
	codes, hashes := newRecoveryCodes()
	err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		a, err := notEnrolled(ctx, tx, username)
		if err != nil {
			return err
		}
		if !present(a.TotpPending) {
			return ErrNoEnrollment
		}
		secret, err := s.keys.Open(*a.TotpPending)
		if err != nil {
			return fmt.Errorf("open pending second factor of admin %d: %w", a.ID, err)
		}
		step, ok := matchTOTP(secret, code, s.Now.Now())
		if !ok {
			return ErrWrongCode
		}
		return tx.Admin.UpdateOneID(a.ID).
			SetTotpSecret(*a.TotpPending).ClearTotpPending().SetTotpEnabledAt(s.Now.Now()).
			SetTotpLastStep(step).SetRecoveryHashes(hashes).Exec(ctx)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTOTP removes an admin's second factor (and an unconfirmed one).
func (s *Service) DisableTOTP(ctx context.Context, username string) error {
	username = NormalizeUsername(username)
	return s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		a, err := adminNamed(ctx, tx, username)
		if err != nil {
			return err
		}
		if !Enrolled(a) && !present(a.TotpPending) {
			return ErrNotEnrolled
		}
		return tx.Admin.UpdateOneID(a.ID).ClearTotpSecret().ClearTotpPending().ClearTotpEnabledAt().
			SetTotpLastStep(0).SetRecoveryHashes("").Exec(ctx)
	})
}

// CheckSecondFactor accepts a current TOTP code (±1 step) or an unused
// recovery code of the admin, once: the code's step, or the recovery
// code, is used up in the same conditional write, so two requests (on
// two instances) with one code cannot both pass.
func (s *Service) CheckSecondFactor(ctx context.Context, adminID int, code string) error {
	a, err := s.DB.Read.Admin.Get(ctx, adminID)
	if ent.IsNotFound(err) {
		return ErrPending
	}
	if err != nil {
		return fmt.Errorf("load admin %d: %w", adminID, err)
	}
	if !Enrolled(a) {
		return ErrNotEnrolled
	}
	secret, err := s.keys.Open(*a.TotpSecret)
	if err != nil {
		return fmt.Errorf("open second factor of admin %d: %w", a.ID, err)
	}
	if step, ok := matchTOTP(secret, code, s.Now.Now()); ok {
		var n int
		err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) (err error) {
			n, err = tx.Admin.Update().Where(admin.ID(a.ID), admin.TotpLastStepLT(step)).SetTotpLastStep(step).Save(ctx)
			return err
		})
		if err != nil {
			return fmt.Errorf("use code of admin %d: %w", a.ID, err)
		}
		if n == 0 {
			return ErrWrongCode // replayed: this step or a later one was used
		}
		return nil
	}
	return s.useRecoveryCode(ctx, a.ID, code)
}

// useRecoveryCode crosses off a recovery code. The update only matches
// while the list is as read, so a code is spent once.
func (s *Service) useRecoveryCode(ctx context.Context, adminID int, code string) error {
	code = normalizeCode(code)
	if len(code) != recoveryLen {
		return ErrWrongCode
	}
	want := hashRecovery(code)
	return s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		a, err := tx.Admin.Get(ctx, adminID)
		if err != nil {
			return fmt.Errorf("load admin %d: %w", adminID, err)
		}
		hashes := strings.Fields(a.RecoveryHashes)
		i := slices.IndexFunc(hashes, func(h string) bool { return hmac.Equal([]byte(h), []byte(want)) })
		if i < 0 {
			return ErrWrongCode
		}
		left := strings.Join(slices.Delete(hashes, i, i+1), " ")
		n, err := tx.Admin.Update().Where(admin.ID(adminID), admin.RecoveryHashes(a.RecoveryHashes)).SetRecoveryHashes(left).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrWrongCode
		}
		return nil
	})
}

// recoveryLen is a recovery code's length without its dash: 10 base32
// characters, 50 bits, far past guessing within the sign-in throttle, so
// a fast hash is enough.
const recoveryLen = 10

const recoveryAlphabet = "abcdefghijkmnpqrstuvwxyz23456789" // no 0/o, 1/l

func newRecoveryCodes() ([]string, string) {
	codes := make([]string, RecoveryCodes)
	hashes := make([]string, RecoveryCodes)
	for i := range codes {
		b := make([]byte, recoveryLen)
		rand.Read(b)
		for j := range b {
			b[j] = recoveryAlphabet[int(b[j])%len(recoveryAlphabet)]
		}
		codes[i] = string(b[:5]) + "-" + string(b[5:])
		hashes[i] = hashRecovery(string(b))
	}
	return codes, strings.Join(hashes, " ")
}

func hashRecovery(code string) string {
	sum := sha256.Sum256([]byte("miniauth recovery v1:" + code))
	return hex.EncodeToString(sum[:])
}

// PendingToken is the hidden state between the two sign-in steps: the
// admin's id, an expiry and a random id, signed together with browser, a
// random value the password step left in the browser's cookie, so that
// the token is good only in that browser. It holds no password, dies
// after PendingTTL, and UsePending makes it single-use.
func (s *Service) PendingToken(adminID int, browser string) string {
	body := strconv.Itoa(adminID) + "." + strconv.FormatInt(s.Now.Now().Add(PendingTTL).Unix(), 10) + "." + tokens.RandomString(16)
	return body + "." + s.pendingMAC(body, browser)
}

// CheckPending returns the admin id a pending token names, or ErrPending
// when it is forged, expired, or presented from another browser.
func (s *Service) CheckPending(token, browser string) (int, error) {
	id, _, _, err := s.parsePending(token, browser)
	return id, err
}

func (s *Service) parsePending(token, browser string) (id int, exp time.Time, jti string, err error) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 || len(token) > 160 || browser == "" {
		return 0, time.Time{}, "", ErrPending
	}
	body, mac := token[:i], token[i+1:]
	if !hmac.Equal([]byte(mac), []byte(s.pendingMAC(body, browser))) {
		return 0, time.Time{}, "", ErrPending
	}
	parts := strings.Split(body, ".")
	if len(parts) != 3 {
		return 0, time.Time{}, "", ErrPending
	}
	id, err1 := strconv.Atoi(parts[0])
	unix, err2 := strconv.ParseInt(parts[1], 10, 64)
	exp = time.Unix(unix, 0)
	if err1 != nil || err2 != nil || id <= 0 || parts[2] == "" || !s.Now.Now().Before(exp) {
		return 0, time.Time{}, "", ErrPending
	}
	return id, exp, parts[2], nil
}

// UsePending spends a pending token once its code proved right: a token
// already spent (it signed in once) is ErrPending. Spent tokens are kept
// in the throttle table, shared by every instance, until they expire.
func (s *Service) UsePending(ctx context.Context, token, browser string) error {
	_, exp, jti, err := s.parsePending(token, browser)
	if err != nil {
		return err
	}
	return s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		err := tx.Throttle.Create().SetKey(throttlePrefix + "pending:" + jti).SetValue(encode(1)).SetExpiresAt(exp).Exec(ctx)
		if ent.IsConstraintError(err) {
			return ErrPending
		}
		if err != nil {
			return fmt.Errorf("spend pending sign-in: %w", err)
		}
		return nil
	})
}

func (s *Service) pendingMAC(body, browser string) string {
	m := hmac.New(sha256.New, s.pendingKey)
	m.Write([]byte(body))
	m.Write([]byte{0})
	m.Write([]byte(browser))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
