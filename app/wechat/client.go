// Package wechat is miniauth's client for WeChat's server APIs.
//
// One HTTP client with explicit timeouts; bodies are decoded as JSON
// whatever their Content-Type (WeChat serves text/plain); errcode is decided
// before the HTTP status; the app secret, codes and tokens never appear in
// an error or a log line. Business APIs use the stable access token, shared
// through a TokenStore (token.go); code2Session never needs it.
package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/miniauth/miniauth/app/clock"
)

// Defaults. WeChat's API root has its default in one place,
// config.DefaultWeChatAPIBase, which every real client is built from.
const (
	// DefaultTimeout is the total deadline of one call, retries included.
	DefaultTimeout = 5 * time.Second
	maxBody        = 1 << 20
)

// Options configure a Client.
type Options struct {
	BaseURL   string // WeChat's API root (config.WeChatAPIBase) or a simulator's
	AppID     string
	Secret    string
	Timeout   time.Duration     // total deadline per call; default 5 s
	Transport http.RoundTripper // nil: a dedicated transport
	// Tokens shares the access token between instances and restarts
	// (nil: this process's memory only).
	Tokens TokenStore
	Log    *slog.Logger // nil: discard
	Now    clock.Clock  // nil: the system clock
	// Observe, if set, is told of every call: its endpoint, how long it
	// took and its errcode ("" on success, "unavailable" when there was
	// no usable answer). It feeds the metrics.
	Observe func(endpoint string, took time.Duration, errcode string)
}

// Client calls WeChat.
type Client struct {
	base    string
	appID   string
	secret  string
	timeout time.Duration
	http    *http.Client
	log     *slog.Logger
	now     clock.Clock
	tokens  *tokenCache
	observe func(endpoint string, took time.Duration, errcode string)
}

// New makes a client.
func New(o Options) *Client {
	if o.Timeout <= 0 || o.Timeout > DefaultTimeout {
		o.Timeout = DefaultTimeout
	}
	tr := o.Transport
	if tr == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		t.ResponseHeaderTimeout = o.Timeout
		tr = t
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		base:    strings.TrimRight(o.BaseURL, "/"),
		appID:   o.AppID,
		secret:  o.Secret,
		timeout: o.Timeout,
		http: &http.Client{
			Transport: tr,
			Timeout:   o.Timeout,
			// WeChat never redirects; following one could leak the query.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		log:     o.Log,
		now:     o.Now,
		observe: o.Observe,
	}
	c.tokens = &tokenCache{client: c, store: o.Tokens, name: TokenName(o.AppID)}
	return c
}

// AppID is the mini program's AppID.
func (c *Client) AppID() string { return c.appID }

// Error is an errcode WeChat answered with.
type Error struct {
	Endpoint string
	Code     int
	Msg      string
}

func (e *Error) Error() string {
	return fmt.Sprintf("wechat %s: errcode %d: %s", e.Endpoint, e.Code, e.Msg)
}

// ErrUnavailable wraps every failure to get a usable answer: network
// errors, timeouts, HTTP errors without an errcode, bodies that are not JSON.
var ErrUnavailable = errors.New("wechat unavailable")

type unavailable struct {
	endpoint string
	reason   string
	// transient: the network or WeChat's front end failed; an idempotent
	// call may be tried again.
	transient bool
}

func (u *unavailable) Error() string {
	return fmt.Sprintf("wechat %s: %s", u.endpoint, u.reason)
}
func (u *unavailable) Unwrap() error { return ErrUnavailable }

// errcodeOnly is the part of every WeChat answer that reports failure.
// errcode is often absent on success.
type errcodeOnly struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// call sends one request and decodes the answer into out. query and body
// may carry secrets and the access token; they never reach an error
// message.
func (c *Client) call(ctx context.Context, method, endpoint string, query url.Values, body []byte, out any) error {
	if c.observe == nil {
		return c.roundTrip(ctx, method, endpoint, query, body, out)
	}
	start := time.Now()
	err := c.roundTrip(ctx, method, endpoint, query, body, out)
	errcode := ""
	var we *Error
	switch {
	case errors.As(err, &we):
		errcode = strconv.Itoa(we.Code)
	case err != nil:
		errcode = "unavailable"
	}
	c.observe(endpoint, time.Since(start), errcode)
	return err
}

func (c *Client) roundTrip(ctx context.Context, method, endpoint string, query url.Values, body []byte, out any) error {
	u := c.base + endpoint
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return &unavailable{endpoint: endpoint, reason: "bad request: " + redactURLError(err)}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &unavailable{endpoint: endpoint, reason: redactURLError(err), transient: true}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return &unavailable{endpoint: endpoint, reason: "reading answer: " + redactURLError(err), transient: true}
	}
	var ec errcodeOnly
	if err := json.Unmarshal(raw, &ec); err != nil {
		if resp.StatusCode != http.StatusOK {
			return &unavailable{endpoint: endpoint, reason: fmt.Sprintf("HTTP %d", resp.StatusCode), transient: resp.StatusCode >= 500}
		}
		return &unavailable{endpoint: endpoint, reason: "answer is not JSON"}
	}
	if ec.ErrCode != 0 {
		return &Error{Endpoint: endpoint, Code: ec.ErrCode, Msg: c.redact(ec.ErrMsg, query.Get("access_token"))}
	}
	if resp.StatusCode != http.StatusOK {
		return &unavailable{endpoint: endpoint, reason: fmt.Sprintf("HTTP %d", resp.StatusCode), transient: resp.StatusCode >= 500}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &unavailable{endpoint: endpoint, reason: "answer has an unexpected shape"}
	}
	return nil
}

// redactURLError drops the URL (which carries the secret and the code)
// from a net/http error, keeping only the cause.
func redactURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	if errors.Is(err, context.Canceled) {
		return "canceled"
	}
	return err.Error()
}

// redact removes the secret and the access token from text WeChat sent
// back (errmsg can echo parts of the request).
func (c *Client) redact(s, accessToken string) string {
	for _, secret := range []string{c.secret, accessToken} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

// Session is what code2Session returns.
type Session struct {
	OpenID     string
	UnionID    string
	SessionKey string
}

// Code2Session exchanges a wx.login code for the user's identity. It is
// never retried: a code is single-use, so a second try could only fail.
func (c *Client) Code2Session(ctx context.Context, code string) (*Session, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	q := url.Values{
		"appid":      {c.appID},
		"secret":     {c.secret},
		"js_code":    {code},
		"grant_type": {"authorization_code"},
	}
	var out struct {
		OpenID     string `json:"openid"`
		UnionID    string `json:"unionid"`
		SessionKey string `json:"session_key"`
	}
	if err := c.call(ctx, http.MethodGet, "/sns/jscode2session", q, nil, &out); err != nil {
		return nil, err
	}
	if out.OpenID == "" {
		return nil, &unavailable{endpoint: "/sns/jscode2session", reason: "answer has no openid"}
	}
	return &Session{OpenID: out.OpenID, UnionID: out.UnionID, SessionKey: out.SessionKey}, nil
}
