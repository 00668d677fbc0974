package admins_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/keys"
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/app/tokens/tokentest"
)

// cheap keeps unit tests fast; the production cost is tested separately.
var cheap = admins.Params{MemoryKiB: 64, Time: 1, Threads: 1}

func newService(t *testing.T) *admins.Service { return newServiceOn(t, "") }

// newServiceOn uses the database at url ("" for a SQLite file).
func newServiceOn(t *testing.T, url string) *admins.Service {
	t.Helper()
	db := apptest.OpenDB(t, url)
	ks, err := keys.Derive([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	s := admins.New(db, ks)
	s.Params = cheap
	return s
}

func TestPasswordHash(t *testing.T) {
	h := admins.HashPassword("correct horse battery", admins.DefaultParams)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash format: %s", h)
	}
	if h2 := admins.HashPassword("correct horse battery", admins.DefaultParams); h2 == h {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		ok, err := admins.CheckPassword(h, pw)
		if err != nil || ok != want {
			t.Errorf("CheckPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	for _, bad := range []string{"", "$2a$10$abc", "$argon2id$v=19$m=0,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=64,t=1,p=1$!!$AAAAAAAAAAAAAAAAAAAAAA"} {
		if _, err := admins.CheckPassword(bad, "x"); err == nil {
			t.Errorf("CheckPassword accepted malformed hash %q", bad)
		}
	}
}

func TestCreateValidates(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	if _, err := s.Create(ctx, "Alice", "long enough password"); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, pw, want string }{
		{"alice", "another password", "already exists"},
		{" ALICE ", "another password", "already exists"},
		{"bob", "", "must not be empty"},
		{"bob", "short", "at least 10"},
		{"bob", strings.Repeat(" ", 10), "must not be blank"},
		{"bob", " \t\u3000\n  \u00a0  ", "must not be blank"},
		{"bob", "a" + strings.Repeat(" ", 12), "at least 10"},
		{"bob", "密码密码密码密码密", "at least 10"}, // 9 characters, 27 bytes
		{"", "long enough password", "username must not be empty"},
		{"bob smith", "long enough password", "may only contain"},
	}
	for _, c := range cases {
		_, err := s.Create(ctx, c.name, c.pw)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Create(%q, %q) = %v, want an error with %q", c.name, c.pw, err, c.want)
		}
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].Username != "alice" {
		t.Fatalf("List = %v, %v; want only alice", list, err)
	}
	// Ten characters are enough, whatever their bytes.
	if _, err := s.Create(ctx, "carol", "密码密码密码密码密码"); err != nil {
		t.Fatalf("a 10-character Chinese password: %v", err)
	}
	if err := s.SetPassword(ctx, "alice", strings.Repeat(" ", 16)); err == nil || !strings.Contains(err.Error(), "blank") {
		t.Fatalf("SetPassword accepted a blank password: %v", err)
	}
}

func TestLoginSessionLifecycle(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) { testLoginSessionLifecycle(t, newServiceOn(t, b.URL(t))) })
}

func testLoginSessionLifecycle(t *testing.T, s *admins.Service) {
	ctx := context.Background()
	if _, err := s.Create(ctx, "root", "long enough password"); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{{"root", "wrong password!"}, {"nobody", "long enough password"}, {"", ""}} {
		if _, err := s.Login(ctx, c[0], c[1], admins.Client{}); !errors.Is(err, admins.ErrBadCredentials) {
			t.Errorf("Login(%q) = %v, want ErrBadCredentials", c[0], err)
		}
	}
	sess, err := s.Login(ctx, "ROOT", "long enough password", admins.Client{IP: "192.0.2.1", UserAgent: "test"})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := tokentest.Parse(sess.Token, tokens.Admin, s.Signer.Key)
	if err != nil || claims.SessionID != sess.SessionID || claims.UserID() != sess.Admin.ID {
		t.Fatalf("admin token: %+v, %v", claims, err)
	}
	if _, err := tokentest.Parse(sess.Token, tokens.Access, s.Signer.Key); err == nil {
		t.Fatal("an admin token parsed as a user access token")
	}
	if a, err := s.Authenticate(ctx, sess.Admin.ID, sess.SessionID, sess.Nonce); err != nil || a.Username != "root" {
		t.Fatalf("Authenticate = %v, %v", a, err)
	}
	if _, err := s.Authenticate(ctx, sess.Admin.ID+1, sess.SessionID, sess.Nonce); !errors.Is(err, admins.ErrSession) {
		t.Fatalf("Authenticate with another admin's id = %v", err)
	}
	tok := s.CSRFToken(sess.SessionID)
	if !s.ValidCSRF(sess.SessionID, tok) || s.ValidCSRF(sess.SessionID+1, tok) || s.ValidCSRF(sess.SessionID, "") {
		t.Fatal("CSRF token not bound to its session")
	}
	if err := s.Logout(ctx, sess.SessionID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, sess.Admin.ID, sess.SessionID, sess.Nonce); !errors.Is(err, admins.ErrSession) {
		t.Fatalf("Authenticate after logout = %v, want ErrSession", err)
	}

	// A new password signs every session out and replaces the old one.
	sess2, err := s.Login(ctx, "root", "long enough password", admins.Client{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, "root", "a brand new password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, sess2.Admin.ID, sess2.SessionID, sess2.Nonce); !errors.Is(err, admins.ErrSession) {
		t.Fatalf("session survived a password change: %v", err)
	}
	if _, err := s.Login(ctx, "root", "long enough password", admins.Client{}); !errors.Is(err, admins.ErrBadCredentials) {
		t.Fatalf("old password still works: %v", err)
	}
	if _, err := s.Login(ctx, "root", "a brand new password", admins.Client{}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, "ghost", "a brand new password"); !errors.Is(err, admins.ErrNotFound) {
		t.Fatalf("SetPassword(ghost) = %v", err)
	}
	if err := s.Delete(ctx, "root"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "root"); !errors.Is(err, admins.ErrNotFound) {
		t.Fatalf("second Delete = %v", err)
	}
}

func TestSessionExpires(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	now := time.Now()
	s.Now = func() time.Time { return now }
	if _, err := s.Create(ctx, "root", "long enough password"); err != nil {
		t.Fatal(err)
	}
	sess, err := s.Login(ctx, "root", "long enough password", admins.Client{})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(s.SessionTTL + time.Second)
	if _, err := s.Authenticate(ctx, sess.Admin.ID, sess.SessionID, sess.Nonce); !errors.Is(err, admins.ErrSession) {
		t.Fatalf("expired session accepted: %v", err)
	}
}

func TestLoginLimiter(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) { testLoginLimiter(t, newServiceOn(t, b.URL(t))) })
}

func testLoginLimiter(t *testing.T, s *admins.Service) {
	ctx := context.Background()
	now := time.Now()
	l := admins.NewLoginLimiter(s.DB)
	l.FailuresPerUsername, l.FailuresPerIP = 3, 5
	l.Now = func() time.Time { return now }

	allow := func(ip, name string) bool {
		t.Helper()
		ok, wait, err := l.Allow(ctx, ip, name)
		if err != nil {
			t.Fatal(err)
		}
		if !ok && (wait <= 0 || wait > l.Window) {
			t.Fatalf("refusal with retry-after %v", wait)
		}
		return ok
	}
	reserve := func(ip, name string) bool {
		t.Helper()
		ok, wait, err := l.Reserve(ctx, ip, name)
		if err != nil {
			t.Fatal(err)
		}
		if !ok && (wait <= 0 || wait > l.Window) {
			t.Fatalf("refusal with retry-after %v", wait)
		}
		return ok
	}
	// Released attempts (right passwords) never count.
	for i := 0; i < 10; i++ {
		if !reserve("192.0.2.1", "root") {
			t.Fatalf("attempt %d refused though every one was released", i)
		}
		if err := l.Release(ctx, "192.0.2.1", "root"); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		if !reserve("192.0.2.1", "Root") {
			t.Fatalf("refused after %d failures", i)
		}
	}
	if reserve("192.0.2.1", "root") || reserve("198.51.100.7", "ROOT") || allow("198.51.100.7", "root") {
		t.Fatal("username not throttled after 3 failures, from any address")
	}
	if !allow("198.51.100.7", "alice") {
		t.Fatal("another user from another address was throttled")
	}
	// Two more failures on other names exhaust the IP's budget; the
	// refused attempts above counted nothing.
	reserve("192.0.2.1", "a")
	reserve("192.0.2.1", "b")
	if ok, _, _ := l.AllowIP(ctx, "192.0.2.1"); ok || reserve("192.0.2.1", "carol") {
		t.Fatal("address not throttled after 5 failures")
	}
	if ok, _, _ := l.AllowIP(ctx, "198.51.100.7"); !ok {
		t.Fatal("an address with no failures is throttled")
	}
	now = now.Add(l.Window + time.Second)
	if !reserve("192.0.2.1", "root") {
		t.Fatal("still throttled after the window")
	}
	if !reserve("192.0.2.1", "root") || !reserve("192.0.2.1", "root") || reserve("192.0.2.1", "root") {
		t.Fatal("a new window started from the old count")
	}
}

// Attempts sent all at once are counted before any is checked: of 100
// concurrent attempts on one username (from 100 addresses), exactly the
// limit go ahead; of 100 from one address (on 100 names), exactly its
// limit. Two limiters over two connections to one PostgreSQL database
// stand for two instances.
func TestLoginLimiterConcurrent(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		url := b.URL(t)
		if url == "" {
			url = filepath.Join(t.TempDir(), "limits.db")
		}
		instances := []*admins.LoginLimiter{admins.NewLoginLimiter(apptest.OpenDB(t, url))}
		if b.Name == "postgres" {
			instances = append(instances, admins.NewLoginLimiter(apptest.OpenDB(t, url)))
		}
		flood := func(ip func(int) string, name func(int) string) int {
			var wg sync.WaitGroup
			var admitted atomic.Int32
			for i := 0; i < 100; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					ok, _, err := instances[i%len(instances)].Reserve(context.Background(), ip(i), name(i))
					if err != nil {
						t.Error(err)
					}
					if ok {
						admitted.Add(1)
					}
				}(i)
			}
			wg.Wait()
			return int(admitted.Load())
		}
		n := flood(func(i int) string { return fmt.Sprintf("198.51.100.%d", i) }, func(int) string { return "root" })
		if n != admins.DefaultFailuresPerUsername {
			t.Fatalf("%d of 100 concurrent attempts on one username went ahead, want %d", n, admins.DefaultFailuresPerUsername)
		}
		n = flood(func(int) string { return "192.0.2.50" }, func(i int) string { return fmt.Sprintf("name-%d", i) })
		if n != admins.DefaultFailuresPerIP {
			t.Fatalf("%d of 100 concurrent attempts from one address went ahead, want %d", n, admins.DefaultFailuresPerIP)
		}
	})
}

func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		admins.HashPassword("correct horse battery", admins.DefaultParams)
	}
}
