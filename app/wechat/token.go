package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Access token tuning.
const (
	// RefreshMargin is how long before WeChat's expiry a token is
	// replaced. WeChat rotates a stable token 5 minutes before it expires
	// and keeps the old one valid meanwhile, so asking again then yields
	// the next token without any gap.
	RefreshMargin = 5 * time.Minute
	// TokenAttempts bounds the tries of one stable_token fetch; only -1
	// and network failures are tried again.
	TokenAttempts = 3
	// TokenBackoff is the wait before the second try, doubled after.
	TokenBackoff = 200 * time.Millisecond

	PathStableToken = "/cgi-bin/stable_token"
)

// ErrNoToken is what a TokenStore answers when it holds no token.
var ErrNoToken = errors.New("no stored access token")

// TokenStore keeps the access token where every instance and every
// restart finds it. expiresAt is when the token must no longer be used.
type TokenStore interface {
	LoadToken(ctx context.Context, name string) (value string, expiresAt time.Time, err error)
	SaveToken(ctx context.Context, name, value string, expiresAt time.Time) error
	// DeleteToken removes the token only if it is still value, so that
	// a token another instance has just stored survives.
	DeleteToken(ctx context.Context, name, value string) error
}

// TokenName is the store key of an app's stable access token.
func TokenName(appID string) string { return "stable_access_token:" + appID }

// tokenCache is the access token in memory, backed by a TokenStore, with
// one fetch in flight at a time.
type tokenCache struct {
	client *Client
	store  TokenStore
	name   string
	flight singleflight.Group

	mu        sync.Mutex
	value     string
	expiresAt time.Time
}

func (t *tokenCache) cached() (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.value != "" && t.client.now.Now().Before(t.expiresAt) {
		return t.value, true
	}
	return "", false
}

func (t *tokenCache) remember(value string, expiresAt time.Time) {
	t.mu.Lock()
	t.value, t.expiresAt = value, expiresAt
	t.mu.Unlock()
}

// get returns a usable access token: from memory, else from the store,
// else from stable_token. Concurrent callers share one lookup, which runs
// on its own deadline so that one caller giving up does not fail the rest.
func (t *tokenCache) get(ctx context.Context) (string, error) {
	if v, ok := t.cached(); ok {
		return v, nil
	}
	ch := t.flight.DoChan("token", func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.client.timeout)
		defer cancel()
		return t.load(ctx)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		return "", &unavailable{endpoint: PathStableToken, reason: redactURLError(ctx.Err())}
	}
}

func (t *tokenCache) load(ctx context.Context) (string, error) {
	if v, ok := t.cached(); ok {
		return v, nil
	}
	log := t.client.log
	if t.store != nil {
		v, exp, err := t.store.LoadToken(ctx, t.name)
		switch {
		case err == nil && v != "" && t.client.now.Now().Before(exp):
			t.remember(v, exp)
			return v, nil
		case err != nil && !errors.Is(err, ErrNoToken):
			log.Warn("load stored WeChat access token", "err", err)
		}
	}
	v, ttl, err := t.client.fetchStableToken(ctx)
	if err != nil {
		return "", err
	}
	// Keep it until RefreshMargin before WeChat's expiry; a token that
	// lives shorter than that is kept for half its life.
	margin := RefreshMargin
	if ttl <= 2*margin {
		margin = ttl / 2
	}
	exp := t.client.now.Now().Add(ttl - margin)
	t.remember(v, exp)
	if t.store != nil {
		if err := t.store.SaveToken(ctx, t.name, v, exp); err != nil {
			log.Warn("store WeChat access token", "err", err)
		}
	}
	log.Info("fetched WeChat access token", "expires_in_s", int(ttl/time.Second))
	return v, nil
}

// invalidate drops failed, in memory and in the store, unless it has
// been replaced already: a token someone else just fetched must live.
func (t *tokenCache) invalidate(ctx context.Context, failed string) {
	t.mu.Lock()
	if t.value == failed {
		t.value, t.expiresAt = "", time.Time{}
	}
	t.mu.Unlock()
	if t.store != nil {
		if err := t.store.DeleteToken(ctx, t.name, failed); err != nil {
			t.client.log.Warn("drop stored WeChat access token", "err", err)
		}
	}
}

// fetchStableToken calls stable_token in normal mode (never
// force_refresh: WeChat allows it 20 times a day and it would kick out
// every other holder). The call is idempotent, so -1 and network failures
// are tried again with backoff while ctx allows.
func (c *Client) fetchStableToken(ctx context.Context) (string, time.Duration, error) {
	body, _ := json.Marshal(map[string]any{
		"grant_type":    "client_credential",
		"appid":         c.appID,
		"secret":        c.secret,
		"force_refresh": false,
	})
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	wait := TokenBackoff
	for attempt := 1; ; attempt++ {
		err := c.call(ctx, http.MethodPost, PathStableToken, nil, body, &out)
		if err == nil {
			if out.AccessToken == "" || out.ExpiresIn <= 0 {
				return "", 0, &unavailable{endpoint: PathStableToken, reason: "answer has no access_token"}
			}
			return out.AccessToken, time.Duration(out.ExpiresIn) * time.Second, nil
		}
		if attempt == TokenAttempts || !retryable(err) {
			if Misconfigured(err) {
				c.log.Error("WeChat refused our credentials for stable_token: check MINIAUTH_WECHAT_APPID, MINIAUTH_WECHAT_SECRET and the IP whitelist", "err", err)
			}
			return "", 0, err
		}
		c.log.Warn("stable_token failed; trying again", "attempt", attempt, "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return "", 0, err
		}
		wait *= 2
	}
}

// retryable reports whether an idempotent call may be tried again: WeChat
// said "system busy" (-1), or the answer never came.
func retryable(err error) bool {
	var we *Error
	if errors.As(err, &we) {
		return we.Code == CodeSystemBusy
	}
	var u *unavailable
	return errors.As(err, &u) && u.transient
}

// tokenExpired reports whether WeChat refused a call's access token.
func tokenExpired(err error) bool {
	var we *Error
	return errors.As(err, &we) && (we.Code == CodeInvalidToken || we.Code == CodeTokenExpired)
}

// callWithToken POSTs body to a business API with the access token. If
// WeChat says the token is invalid or expired (40001/42001), the token is
// dropped (only if it is still the one that failed), fetched again and the
// call made once more. Business calls are not retried on other failures:
// they are not idempotent (a phone code is single-use).
func (c *Client) callWithToken(ctx context.Context, endpoint string, body []byte, out any) error {
	return c.callWithTokenAs(ctx, http.MethodPost, endpoint, nil, body, out)
}

// callWithTokenAs is callWithToken with any method and query parameters
// besides the access token.
func (c *Client) callWithTokenAs(ctx context.Context, method, endpoint string, query url.Values, body []byte, out any) error {
	for attempt := 1; ; attempt++ {
		token, err := c.tokens.get(ctx)
		if err != nil {
			return err
		}
		q := url.Values{"access_token": {token}}
		for k, v := range query {
			q[k] = v
		}
		callCtx, cancel := context.WithTimeout(ctx, c.timeout)
		err = c.call(callCtx, method, endpoint, q, body, out)
		cancel()
		if attempt == 1 && tokenExpired(err) {
			c.log.Info("WeChat refused the access token; fetching it again", "endpoint", endpoint, "err", err)
			c.tokens.invalidate(ctx, token)
			continue
		}
		return err
	}
}

// AccessToken returns the current stable access token, fetching it if
// needed. It is for calls this package does not wrap; never log it.
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	return c.tokens.get(ctx)
}
