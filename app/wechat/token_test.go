package wechat

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/wechatsim"
)

const (
	testAppID  = "wx0123456789abcdef"
	testSecret = "test-app-secret-0123456789abcdef"
)

// memStore is a TokenStore in memory, standing in for another instance's
// view of the shared table.
type memStore struct {
	mu      sync.Mutex
	value   string
	expires time.Time
	deletes int
}

func (m *memStore) LoadToken(_ context.Context, name string) (string, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.value == "" {
		return "", time.Time{}, ErrNoToken
	}
	return m.value, m.expires, nil
}

func (m *memStore) SaveToken(_ context.Context, name, value string, exp time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.value, m.expires = value, exp
	return nil
}

func (m *memStore) DeleteToken(_ context.Context, name, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.value == value {
		m.value = ""
		m.deletes++
	}
	return nil
}

type fixture struct {
	sim    *wechatsim.Server
	client *Client
	store  *memStore
	logs   *bytes.Buffer
	now    time.Time
	mu     sync.Mutex
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func newFixture(t *testing.T, tweak func(*Options)) *fixture {
	f := &fixture{sim: wechatsim.New(testAppID, testSecret), store: &memStore{}, logs: &bytes.Buffer{}, now: time.Now()}
	srv := httptest.NewServer(f.sim)
	t.Cleanup(srv.Close)
	var logMu sync.Mutex
	o := Options{
		BaseURL: srv.URL, AppID: testAppID, Secret: testSecret, Tokens: f.store,
		Log: slog.New(slog.NewTextHandler(lockedWriter{&logMu, f.logs}, nil)),
		Now: func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now },
	}
	if tweak != nil {
		tweak(&o)
	}
	f.client = New(o)
	return f
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (f *fixture) bind(t *testing.T, phone string) (*Phone, error) {
	t.Helper()
	code := f.sim.NewPhoneCode(phone, "86")
	return f.client.PhoneNumber(context.Background(), code, "openid-1")
}

func TestTokenReusedWhileValid(t *testing.T) {
	f := newFixture(t, nil)
	for i := range 5 {
		p, err := f.bind(t, "1380000000"+string(rune('0'+i)))
		if err != nil {
			t.Fatalf("bind %d: %v", i, err)
		}
		if p.PurePhoneNumber != "1380000000"+string(rune('0'+i)) || p.CountryCode != "86" {
			t.Fatalf("bind %d: got %+v", i, p)
		}
	}
	if n := f.sim.Calls(wechatsim.PathStableToken); n != 1 {
		t.Fatalf("stable_token calls = %d, want 1", n)
	}
	if f.store.value == "" || !f.store.expires.After(f.now) {
		t.Fatalf("token not saved in the store: %+v", f.store)
	}
}

func TestTokenTakenFromStore(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.bind(t, "13800000000"); err != nil {
		t.Fatal(err)
	}
	// A second instance (or a restart) over the same store.
	g := New(Options{BaseURL: f.client.base, AppID: testAppID, Secret: testSecret, Tokens: f.store})
	if _, err := g.PhoneNumber(context.Background(), f.sim.NewPhoneCode("13900000000", "86"), ""); err != nil {
		t.Fatal(err)
	}
	if n := f.sim.Calls(wechatsim.PathStableToken); n != 1 {
		t.Fatalf("stable_token calls = %d, want 1 (the stored token should be reused)", n)
	}
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.bind(t, "13800000000"); err != nil {
		t.Fatal(err)
	}
	ttl := wechatsim.DefaultTokenTTL
	f.advance(ttl - RefreshMargin - time.Minute)
	if _, err := f.bind(t, "13800000001"); err != nil {
		t.Fatal(err)
	}
	if n := f.sim.Calls(wechatsim.PathStableToken); n != 1 {
		t.Fatalf("stable_token calls = %d before the margin, want 1", n)
	}
	f.advance(2 * time.Minute) // now inside the last RefreshMargin
	if _, err := f.bind(t, "13800000002"); err != nil {
		t.Fatal(err)
	}
	if n := f.sim.Calls(wechatsim.PathStableToken); n != 2 {
		t.Fatalf("stable_token calls = %d inside the margin, want 2", n)
	}
}

func TestShortLivedTokenKeptHalfItsLife(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.TokenTTL = 6 * time.Minute
	if _, err := f.bind(t, "13800000000"); err != nil {
		t.Fatal(err)
	}
	if got := f.store.expires.Sub(f.now); got < 2*time.Minute || got > 3*time.Minute {
		t.Fatalf("a 6-minute token is kept %v, want about 3 minutes", got)
	}
}

func TestConcurrentCallersShareOneFetch(t *testing.T) {
	f := newFixture(t, nil)
	// A slow token endpoint makes every caller arrive while the fetch runs.
	f.sim.Fail(wechatsim.PathStableToken, wechatsim.Failure{Delay: 300 * time.Millisecond})
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			_, err := f.client.PhoneNumber(context.Background(), f.sim.NewPhoneCode("13800000000", "86"), "")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.sim.Calls(wechatsim.PathStableToken); n != 1 {
		t.Fatalf("stable_token calls = %d, want 1", n)
	}
}

func TestRefusedTokenFetchedAgainOnce(t *testing.T) {
	for _, c := range []struct {
		name  string
		spoil func(*wechatsim.Server)
	}{
		{"invalidated 40001", (*wechatsim.Server).InvalidateToken},
		{"expired 42001", (*wechatsim.Server).ExpireToken},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			if _, err := f.bind(t, "13800000000"); err != nil {
				t.Fatal(err)
			}
			old := f.store.value
			c.spoil(f.sim)
			p, err := f.bind(t, "13800000001")
			if err != nil || p.PurePhoneNumber != "13800000001" {
				t.Fatalf("bind after the token went stale: %+v, %v", p, err)
			}
			if n := f.sim.Calls(wechatsim.PathStableToken); n != 2 {
				t.Fatalf("stable_token calls = %d, want 2", n)
			}
			if n := f.sim.Calls(wechatsim.PathPhoneNumber); n != 3 {
				t.Fatalf("phone calls = %d, want 3 (one retried)", n)
			}
			if f.store.value == "" || f.store.value == old {
				t.Fatal("the store should hold the new token")
			}
			if f.sim.ForceRefreshes() != 0 {
				t.Fatal("the client asked for force_refresh")
			}
		})
	}
}

func TestRefusedTokenRetriedOnlyOnce(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Fail(wechatsim.PathPhoneNumber, wechatsim.Failure{ErrCode: CodeInvalidToken})
	f.sim.Fail(wechatsim.PathPhoneNumber, wechatsim.Failure{ErrCode: CodeInvalidToken})
	_, err := f.bind(t, "13800000000")
	var we *Error
	if !errors.As(err, &we) || we.Code != CodeInvalidToken {
		t.Fatalf("got %v, want errcode 40001", err)
	}
	if n := f.sim.Calls(wechatsim.PathPhoneNumber); n != 2 {
		t.Fatalf("phone calls = %d, want 2", n)
	}
	if p := Problem(err); p.Code != problem.WeChatUnavailable {
		t.Fatalf("maps to %s", p.Code)
	}
}

func TestInvalidateSparesANewerToken(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.bind(t, "13800000000"); err != nil {
		t.Fatal(err)
	}
	// Another instance has already replaced the token that failed here.
	f.store.SaveToken(context.Background(), "", "newer-token", f.now.Add(time.Hour))
	f.client.tokens.invalidate(context.Background(), "the-token-that-failed")
	if f.store.value != "newer-token" || f.store.deletes != 0 {
		t.Fatalf("a newer token was dropped: %+v", f.store)
	}
	if v, ok := f.client.tokens.cached(); !ok || v == "the-token-that-failed" {
		t.Fatalf("memory cache lost its own token: %q %v", v, ok)
	}
}

func TestStableTokenRetriedOnBusyAndNetworkErrors(t *testing.T) {
	for _, fail := range []wechatsim.Failure{
		{ErrCode: CodeSystemBusy},
		{Status: 502, Body: "<html>bad gateway</html>"},
	} {
		f := newFixture(t, nil)
		f.sim.Fail(wechatsim.PathStableToken, fail)
		if _, err := f.bind(t, "13800000000"); err != nil {
			t.Fatalf("%+v: %v", fail, err)
		}
		if n := f.sim.Calls(wechatsim.PathStableToken); n != 2 {
			t.Fatalf("%+v: stable_token calls = %d, want 2", fail, n)
		}
	}
}

func TestStableTokenNotRetriedOnOtherErrors(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Fail(wechatsim.PathStableToken, wechatsim.Failure{ErrCode: CodeIPNotAllowed})
	_, err := f.bind(t, "13800000000")
	if !Misconfigured(err) {
		t.Fatalf("got %v", err)
	}
	if n := f.sim.Calls(wechatsim.PathStableToken); n != 1 {
		t.Fatalf("stable_token calls = %d, want 1", n)
	}
	if !strings.Contains(f.logs.String(), "IP whitelist") {
		t.Fatalf("misconfiguration not logged loudly:\n%s", f.logs)
	}
}

func TestStableTokenRetriesAreBounded(t *testing.T) {
	f := newFixture(t, nil)
	for range TokenAttempts + 1 {
		f.sim.Fail(wechatsim.PathStableToken, wechatsim.Failure{ErrCode: CodeSystemBusy})
	}
	_, err := f.bind(t, "13800000000")
	if p := Problem(err); p.Code != problem.WeChatUnavailable {
		t.Fatalf("got %v", err)
	}
	if n := f.sim.Calls(wechatsim.PathStableToken); n != TokenAttempts {
		t.Fatalf("stable_token calls = %d, want %d", n, TokenAttempts)
	}
}

func TestCode2SessionNeedsNoAccessToken(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Fail(wechatsim.PathStableToken, wechatsim.Failure{ErrCode: CodeIPNotAllowed})
	s, err := f.client.Code2Session(context.Background(), f.sim.NewCode(wechatsim.Identity{OpenID: "o1"}))
	if err != nil || s.OpenID != "o1" {
		t.Fatalf("code2session: %+v %v", s, err)
	}
	if n := f.sim.Calls(wechatsim.PathStableToken); n != 0 {
		t.Fatalf("code2session called stable_token %d times", n)
	}
}

func TestErrorsNeverCarrySecrets(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Timeout = 300 * time.Millisecond })
	if _, err := f.bind(t, "13800000000"); err != nil {
		t.Fatal(err)
	}
	token := f.store.value
	var errs []error
	// WeChat echoing the request in errmsg.
	f.sim.Fail(wechatsim.PathPhoneNumber, wechatsim.Failure{Status: 200,
		Body: `{"errcode":40097,"errmsg":"invalid args access_token=` + token + `&secret=` + testSecret + `"}`})
	_, err := f.bind(t, "13800000001")
	errs = append(errs, err)
	// A timeout.
	f.sim.Fail(wechatsim.PathPhoneNumber, wechatsim.Failure{Delay: 5 * time.Second})
	_, err = f.bind(t, "13800000002")
	errs = append(errs, err)
	// WeChat unreachable.
	dead := New(Options{BaseURL: "http://127.0.0.1:1", AppID: testAppID, Secret: testSecret, Tokens: f.store})
	_, err = dead.PhoneNumber(context.Background(), "a-phone-code", "")
	errs = append(errs, err)
	_, err = dead.Code2Session(context.Background(), "a-login-code")
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("case %d: no error", i)
		}
		msg := err.Error() + " " + Problem(err).Error()
		for _, secret := range []string{token, testSecret, "a-phone-code", "a-login-code"} {
			if strings.Contains(msg, secret) {
				t.Fatalf("case %d: error %q contains a secret", i, msg)
			}
		}
	}
	if p := Problem(errs[1]); p.Code != problem.WeChatUnavailable {
		t.Fatalf("timeout maps to %s", p.Code)
	}
	for _, secret := range []string{token, testSecret} {
		if strings.Contains(f.logs.String(), secret) {
			t.Fatalf("log contains a secret:\n%s", f.logs)
		}
	}
}
