package admins_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/ent/admin"
)

// TestTOTPVectors checks the code against RFC 6238 appendix B (SHA-1,
// last six digits of the eight given).
func TestTOTPVectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for unix, want := range map[int64]string{59: "287082", 1111111109: "081804", 1234567890: "005924", 2000000000: "279037"} {
		if got := admins.TOTPCodeAt(secret, time.Unix(unix, 0)); got != want {
			t.Errorf("T=%d: %s, want %s", unix, got, want)
		}
	}
	uri := admins.TOTPURI("alice", secret)
	if !strings.HasPrefix(uri, "otpauth://totp/miniauth:alice?") || !strings.Contains(uri, "secret="+admins.EncodeSecret(secret)) {
		t.Errorf("URI %s", uri)
	}
}

// clock is a settable time for the service.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func enrolled(t *testing.T, url string) (*admins.Service, *clock, []byte, []string, int) {
	t.Helper()
	ctx := context.Background()
	s := newServiceOn(t, url)
	c := &clock{time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)}
	s.Now = c.now
	a, err := s.Create(ctx, "alice", "a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.BeginTOTP(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConfirmTOTP(ctx, "alice", "000000x"); !errors.Is(err, admins.ErrWrongCode) {
		t.Fatalf("confirm with a wrong code: %v", err)
	}
	codes, err := s.ConfirmTOTP(ctx, "alice", admins.TOTPCodeAt(e.Secret, c.t))
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != admins.RecoveryCodes {
		t.Fatalf("%d recovery codes", len(codes))
	}
	return s, c, e.Secret, codes, a.ID
}

func TestSecondFactor(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		ctx := context.Background()
		s, c, secret, codes, id := enrolled(t, b.URL(t))
		a, _ := s.DB.Read.Admin.Get(ctx, id)
		if !admins.Enrolled(a) || a.TotpPending != nil && len(*a.TotpPending) > 0 || strings.Contains(a.RecoveryHashes, codes[0]) {
			t.Fatalf("after confirming: enrolled %v, pending %v, hashes hold a code %v", admins.Enrolled(a), a.TotpPending != nil && len(*a.TotpPending) > 0, strings.Contains(a.RecoveryHashes, codes[0]))
		}
		if _, err := s.BeginTOTP(ctx, "alice"); !errors.Is(err, admins.ErrEnrolled) {
			t.Errorf("second enrollment: %v", err)
		}
		// The confirming code cannot sign in: its step is used.
		if err := s.CheckSecondFactor(ctx, id, admins.TOTPCodeAt(secret, c.t)); !errors.Is(err, admins.ErrWrongCode) {
			t.Errorf("confirming code replayed: %v", err)
		}
		c.t = c.t.Add(30 * time.Second)
		code := admins.TOTPCodeAt(secret, c.t)
		if err := s.CheckSecondFactor(ctx, id, code); err != nil {
			t.Fatalf("current code: %v", err)
		}
		if err := s.CheckSecondFactor(ctx, id, code); !errors.Is(err, admins.ErrWrongCode) {
			t.Errorf("replay within the step: %v", err)
		}
		// One step of drift either way is accepted, two are not.
		c.t = c.t.Add(2 * time.Minute)
		if err := s.CheckSecondFactor(ctx, id, admins.TOTPCodeAt(secret, c.t.Add(-30*time.Second))); err != nil {
			t.Errorf("code one step old: %v", err)
		}
		c.t = c.t.Add(2 * time.Minute)
		if err := s.CheckSecondFactor(ctx, id, admins.TOTPCodeAt(secret, c.t.Add(-time.Minute))); !errors.Is(err, admins.ErrWrongCode) {
			t.Errorf("code two steps old: %v", err)
		}
		if err := s.CheckSecondFactor(ctx, id, "123"); !errors.Is(err, admins.ErrWrongCode) {
			t.Errorf("short code: %v", err)
		}
		// A recovery code works once, typed in any case.
		if err := s.CheckSecondFactor(ctx, id, strings.ToUpper(codes[3])); err != nil {
			t.Errorf("recovery code: %v", err)
		}
		if err := s.CheckSecondFactor(ctx, id, codes[3]); !errors.Is(err, admins.ErrWrongCode) {
			t.Errorf("recovery code reused: %v", err)
		}
		if err := s.CheckSecondFactor(ctx, id, codes[4]); err != nil {
			t.Errorf("another recovery code: %v", err)
		}
		if err := s.DisableTOTP(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if err := s.CheckSecondFactor(ctx, id, codes[5]); !errors.Is(err, admins.ErrNotEnrolled) {
			t.Errorf("after removal: %v", err)
		}
		if err := s.DisableTOTP(ctx, "alice"); !errors.Is(err, admins.ErrNotEnrolled) {
			t.Errorf("second removal: %v", err)
		}
	})
}

// TestOneCodeOnceUnderConcurrency: 100 requests with one code (and 100
// with one recovery code) at once let exactly one of each through.
func TestOneCodeOnceUnderConcurrency(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		ctx := context.Background()
		s, c, secret, codes, id := enrolled(t, b.URL(t))
		c.t = c.t.Add(time.Minute)
		for _, code := range []string{admins.TOTPCodeAt(secret, c.t), codes[0]} {
			var ok, wrong atomic.Int32
			var wg sync.WaitGroup
			for range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					switch err := s.CheckSecondFactor(ctx, id, code); {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, admins.ErrWrongCode):
						wrong.Add(1)
					default:
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if ok.Load() != 1 || wrong.Load() != 99 {
				t.Errorf("code %s: %d accepted, %d refused; want 1 and 99", code, ok.Load(), wrong.Load())
			}
		}
	})
}

func TestPendingToken(t *testing.T) {
	s := newService(t)
	c := &clock{time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)}
	s.Now = c.now
	ctx := context.Background()
	tok := s.PendingToken(42, "browser-a")
	if id, err := s.CheckPending(tok, "browser-a"); err != nil || id != 42 {
		t.Fatalf("fresh token: %d %v", id, err)
	}
	for name, bad := range map[string]string{
		"empty": "", "no mac": "42.99999999999", "other id": strings.Replace(tok, "42.", "43.", 1),
		"mac cut": tok[:len(tok)-2], "huge": strings.Repeat("9", 500),
	} {
		if _, err := s.CheckPending(bad, "browser-a"); !errors.Is(err, admins.ErrPending) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Bound to the browser that did the password step.
	for _, other := range []string{"browser-b", ""} {
		if _, err := s.CheckPending(tok, other); !errors.Is(err, admins.ErrPending) {
			t.Errorf("from browser %q: %v", other, err)
		}
		if err := s.UsePending(ctx, tok, other); !errors.Is(err, admins.ErrPending) {
			t.Errorf("spent from browser %q: %v", other, err)
		}
	}
	// Single-use: of 50 spends at once, one succeeds.
	var spent, refused atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			switch err := s.UsePending(ctx, tok, "browser-a"); {
			case err == nil:
				spent.Add(1)
			case errors.Is(err, admins.ErrPending):
				refused.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if spent.Load() != 1 || refused.Load() != 49 {
		t.Errorf("50 spends of one pending token: %d spent, %d refused", spent.Load(), refused.Load())
	}
	c.t = c.t.Add(admins.PendingTTL)
	if _, err := s.CheckPending(s.PendingToken(42, "b"), "b"); err != nil {
		t.Errorf("a new token: %v", err)
	}
	if _, err := s.CheckPending(tok, "browser-a"); !errors.Is(err, admins.ErrPending) {
		t.Errorf("after 5 minutes: %v", err)
	}
}

func TestRoles(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		ctx := context.Background()
		s := newServiceOn(t, b.URL(t))
		op, err := s.Create(ctx, "olga", "a long enough password")
		if err != nil || op.Role != admin.RoleOperator {
			t.Fatalf("default role: %v %v", op, err)
		}
		v, err := s.CreateWithRole(ctx, "victor", "a long enough password", admin.RoleViewer)
		if err != nil || v.Role != admin.RoleViewer {
			t.Fatalf("viewer: %v %v", v, err)
		}
		if _, err := s.CreateWithRole(ctx, "root", "a long enough password", "root"); !errors.Is(err, admins.ErrRole) {
			t.Errorf("role root: %v", err)
		}
		if err := s.SetRole(ctx, "Victor", admin.RoleOperator); err != nil {
			t.Fatal(err)
		}
		if a, _ := s.DB.Read.Admin.Get(ctx, v.ID); a.Role != admin.RoleOperator {
			t.Errorf("role after change: %s", a.Role)
		}
		if err := s.SetRole(ctx, "nobody", admin.RoleViewer); !errors.Is(err, admins.ErrNotFound) {
			t.Errorf("unknown admin: %v", err)
		}
		if _, err := admins.ParseRole("admin"); !errors.Is(err, admins.ErrRole) {
			t.Errorf("parse admin: %v", err)
		}
	})
}
