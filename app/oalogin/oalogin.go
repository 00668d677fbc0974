// Package oalogin signs people in through WeChat's other doors: an
// Official Account's (公众号) H5 pages, by WeChat's web authorization
// (网页授权), and an open platform mobile app, by the code its WeChat SDK
// hands over. Both end in an ordinary session of app/logins: the (appid,
// openid) identity of its kind, linked to the mini programs' user by the
// unionid when WeChat gives one.
//
// The H5 flow never puts a token in a URL: the callback hands the page a
// one-time ticket in the return_to fragment, and the page posts it to
// /api/auth/ticket. The state WeChat carries is random, single-use and
// bound to the browser that started the flow by a cookie (WECHAT.md §6.4).
package oalogin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/keys"
	"github.com/miniauth/miniauth/app/logins"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/app/wechat"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/oalogin"
)

// Lifetimes.
const (
	// StateTTL is how long a started web authorization may take: the
	// person reads WeChat's consent sheet in between.
	StateTTL = 10 * time.Minute
	// TicketTTL is how long the page has to redeem its ticket.
	TicketTTL = 60 * time.Second
	// Retention is how long finished rows stay before the purge.
	Retention = time.Hour
	// duplicateWait bounds how long a repeated callback waits for the
	// first one's answer (WeChat sometimes calls a callback twice).
	duplicateWait = 5 * time.Second
)

// Scopes of WeChat's web authorization.
const (
	ScopeBase     = "snsapi_base"     // silent: the openid only
	ScopeUserInfo = "snsapi_userinfo" // a consent sheet: nickname and avatar too
)

// Errors a callback hands the page in the return_to fragment (#error=…).
const (
	ErrDenied       = "denied"        // the person refused
	ErrSnapshotUser = "snapshot_user" // WeChat's browse-only snapshot page: ask for the full page
	ErrExpired      = "expired"       // the flow took longer than StateTTL
)

// CallbackPath is the callback's path under the public URL.
const CallbackPath = "/api/auth/oa/callback"

// SimulatedOpenBase is where, under the server's own root, the built-in
// simulator stands in for WeChat's authorize page (development only).
const SimulatedOpenBase = "/dev/wechat"

// Service runs both doors.
type Service struct {
	DB     *database.DB
	Keys   *keys.Set
	Logins *logins.Service
	// OA are the Official Accounts, Mobile the mobile apps (nil or empty:
	// that door is closed).
	OA, Mobile *wechat.Clients
	// OpenBase is WeChat's authorize page root; "": the simulated page
	// under the server's own root (SimulatedOpenBase).
	OpenBase string
	// PublicURL is this server's public root ("": the request's own,
	// development only).
	PublicURL string
	// ReturnURLs are the prefixes a login may return to.
	ReturnURLs []*url.URL
	Log        *slog.Logger
	Now        clock.Clock
}

// Start is the beginning of a web authorization: where to send the
// browser, and the secret the browser must keep in its cookie.
type Start struct {
	RedirectURL string
	BrowserKey  string
}

// Authorize starts a web authorization of the Official Account appID
// ("" with one) for a page under an allowed return_to. publicURL is the
// server's root as the request saw it, used only without PublicURL.
func (s *Service) Authorize(ctx context.Context, appID, scope, returnTo, publicURL string) (*Start, error) {
	app, err := s.pick(s.OA, appID, "Official Account")
	if err != nil {
		return nil, err
	}
	if scope == "" {
		scope = ScopeBase
	}
	if scope != ScopeBase && scope != ScopeUserInfo {
		return nil, problem.Invalid(map[string]string{"scope": "must be snsapi_base or snsapi_userinfo"})
	}
	back, ok := AllowedReturn(s.returnURLs(publicURL), returnTo)
	if !ok {
		return nil, problem.Invalid(map[string]string{"return_to": "is not under an allowed return URL (MINIAUTH_OA_RETURN_URLS)"})
	}
	// WeChat allows a-zA-Z0-9 in state, at most 128 bytes.
	state := alnum(32)
	browserKey := tokens.RandomString(32)
	now := s.Now.Now()
	err = s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		return tx.OALogin.Create().SetState(state).SetBrowserHash(hash(browserKey)).SetAppid(app.AppID()).
			SetScope(scope).SetReturnTo(back).SetCreatedAt(now).SetExpiresAt(now.Add(StateTTL)).Exec(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("start web authorization: %w", err)
	}
	root := s.PublicURL
	if root == "" {
		root = publicURL
	}
	base := s.OpenBase
	if base == "" {
		base = root + SimulatedOpenBase
	}
	// The parameter order is WeChat's own: its page is said to check it
	// (WECHAT.md §6.1.2).
	redirect := base + "/connect/oauth2/authorize?appid=" + url.QueryEscape(app.AppID()) +
		"&redirect_uri=" + url.QueryEscape(root+CallbackPath) +
		"&response_type=code&scope=" + scope + "&state=" + state + "#wechat_redirect"
	return &Start{RedirectURL: redirect, BrowserKey: browserKey}, nil
}

func (s *Service) returnURLs(publicURL string) []*url.URL {
	if len(s.ReturnURLs) > 0 || publicURL == "" {
		return s.ReturnURLs
	}
	// Development without a list: pages of this server itself.
	u, err := url.Parse(publicURL + "/")
	if err != nil {
		return nil
	}
	return []*url.URL{u}
}

// AllowedReturn checks return_to against the prefixes: the same scheme
// and host (port included) and a path under the prefix's, at a "/"
// boundary. It answers the URL to redirect to, rebuilt from its parts,
// without a fragment (the login puts its own there).
func AllowedReturn(prefixes []*url.URL, raw string) (string, bool) {
	if raw == "" || len(raw) > 2048 || strings.ContainsAny(raw, "\\\x00\r\n\t ") {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") || u.Opaque != "" {
		return "", false
	}
	if u.Path == "" {
		u.Path = "/"
	}
	for _, p := range prefixes {
		if !strings.EqualFold(u.Scheme, p.Scheme) || !strings.EqualFold(u.Host, p.Host) {
			continue
		}
		pp := p.Path
		if pp == "" {
			pp = "/"
		}
		if u.Path == pp || strings.HasPrefix(u.Path, strings.TrimSuffix(pp, "/")+"/") {
			if strings.Contains(u.Path, "/../") || strings.HasSuffix(u.Path, "/..") {
				return "", false
			}
			return u.String(), true
		}
	}
	return "", false
}

var errBadState = problem.New(problem.InvalidRequest,
	"this sign-in was not started in this browser, or was already used: start it again")

// person is who WeChat said signed in, kept sealed on the row until the
// ticket is redeemed.
type person struct {
	Kind     string `json:"kind"`
	AppID    string `json:"appid"`
	OpenID   string `json:"openid"`
	UnionID  string `json:"unionid,omitempty"`
	Nickname string `json:"nickname,omitempty"`
	Avatar   string `json:"avatar,omitempty"`
	Gender   int    `json:"gender,omitempty"`
}

// Callback finishes a web authorization: it checks the state against the
// browser's key before anything else, exchanges the code once, and
// answers the URL to send the browser to: return_to#ticket=T, or
// return_to#error=…. Only a state that is not this browser's is an
// error (nothing is exchanged then).
func (s *Service) Callback(ctx context.Context, state, browserKey, code string) (string, error) {
	if state == "" || browserKey == "" || len(state) > 128 || len(code) > 512 {
		return "", errBadState
	}
	row, err := s.DB.Read.OALogin.Query().Where(oalogin.State(state)).Only(ctx)
	if ent.IsNotFound(err) {
		return "", errBadState
	}
	if err != nil {
		return "", fmt.Errorf("find web authorization: %w", err)
	}
	if subtle.ConstantTimeCompare(row.BrowserHash, hash(browserKey)) != 1 {
		return "", errBadState
	}
	codeHash := hash(code)
	if row.CalledBackAt != nil {
		return s.repeated(ctx, row.ID, codeHash)
	}
	now := s.Now.Now()
	var claimed int
	err = s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		claimed, err = tx.OALogin.Update().Where(oalogin.ID(row.ID), oalogin.CalledBackAtIsNil()).
			SetCalledBackAt(now).SetCodeHash(codeHash).Save(ctx)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("claim web authorization: %w", err)
	}
	if claimed == 0 {
		return s.repeated(ctx, row.ID, codeHash)
	}
	fragment := s.exchange(ctx, row, code, now)
	err = s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		update := tx.OALogin.UpdateOneID(row.ID).SetResultSealed(s.Keys.Seal([]byte(fragment.result)))
		if fragment.ticketHash != nil {
			update.SetTicketHash(fragment.ticketHash).SetTicketExpiresAt(fragment.ticketExpires).SetPersonSealed(fragment.person)
		}
		return update.Exec(ctx)
	})
	if err != nil {
		return "", fmt.Errorf("save web authorization: %w", err)
	}
	return row.ReturnTo + "#" + fragment.result, nil
}

// outcome is what a callback leads to.
type outcome struct {
	result        string // the fragment: "ticket=…" or "error=…"
	ticketHash    []byte // nil: no ticket
	ticketExpires time.Time
	person        []byte
}

func failed(reason string) outcome { return outcome{result: "error=" + reason} }

// exchange turns the code into a ticket, or the reason it cannot.
func (s *Service) exchange(ctx context.Context, row *ent.OALogin, code string, now time.Time) outcome {
	switch {
	case now.After(row.ExpiresAt):
		return failed(ErrExpired)
	case code == "":
		// WeChat sends the person back without a code when they refuse.
		return failed(ErrDenied)
	}
	app, ok := s.OA.Get(row.Appid)
	if !ok {
		return failed(problem.WeChatUnavailable)
	}
	p, err := s.identify(ctx, app, code, profiles.KindOA)
	if err != nil {
		code := problem.WeChatUnavailable
		if pe, ok := problem.As(err); ok {
			code = pe.Code
		}
		return failed(code)
	}
	sealed, _ := json.Marshal(p)
	ticket := tokens.RandomString(32)
	return outcome{result: "ticket=" + ticket, ticketHash: hash(ticket), ticketExpires: now.Add(TicketTTL),
		person: s.Keys.Seal(sealed)}
}

// errSnapshot is a snapshot page's virtual user: nothing may be stored.
var errSnapshot = problem.New(ErrSnapshotUser, "WeChat's snapshot page: open the full page to sign in")

// identify exchanges a code at /sns/oauth2/access_token and, where the
// scope allows, reads the profile.
func (s *Service) identify(ctx context.Context, app *wechat.Client, code, kind string) (*person, error) {
	id, err := app.OAuthCode(ctx, code)
	if err != nil {
		if wechat.Misconfigured(err) {
			s.Log.Error("WeChat rejected our credentials: check the AppID and secret", "appid", app.AppID(), "door", kind, "err", err)
		} else {
			s.Log.Warn("oauth code exchange failed", "appid", app.AppID(), "door", kind, "err", err)
		}
		return nil, wechat.Problem(err)
	}
	if id.Snapshot {
		return nil, errSnapshot
	}
	p := &person{Kind: kind, AppID: app.AppID(), OpenID: id.OpenID, UnionID: id.UnionID}
	if !id.HasUserInfoScope() {
		return p, nil
	}
	info, err := app.UserInfo(ctx, id)
	if err != nil {
		// The login goes on without a profile: the person is known.
		s.Log.Warn("sns userinfo failed; signing in without a profile", "appid", app.AppID(), "door", kind, "err", err)
		return p, nil
	}
	if p.UnionID == "" {
		p.UnionID = info.UnionID
	}
	p.Nickname, p.Avatar, p.Gender = info.Nickname, info.HeadImgURL, info.Sex
	return p, nil
}

// profile is the part of WeChat's profile that passes the API's own
// rules (an http avatar or an odd nickname is left out, not refused).
func (p *person) profile() profiles.Profile {
	var out profiles.Profile
	if p.Nickname != "" {
		n := p.Nickname
		candidate := profiles.Profile{Nickname: &n}
		if candidate.Validate() == nil {
			out.Nickname = candidate.Nickname
		}
	}
	if p.Avatar != "" {
		a := strings.Replace(p.Avatar, "http://", "https://", 1)
		candidate := profiles.Profile{AvatarURL: &a}
		if candidate.Validate() == nil {
			out.AvatarURL = candidate.AvatarURL
		}
	}
	if p.Gender == 1 || p.Gender == 2 {
		g := p.Gender
		out.Gender = &g
	}
	return out
}

// repeated answers a callback for a state already called back: with the
// same code (WeChat calling twice, a refresh) it is the first answer,
// once there is one; anything else is refused.
func (s *Service) repeated(ctx context.Context, id int, codeHash []byte) (string, error) {
	deadline := time.Now().Add(duplicateWait)
	for {
		row, err := s.DB.Read.OALogin.Get(ctx, id)
		if err != nil {
			return "", fmt.Errorf("find web authorization: %w", err)
		}
		if row.CodeHash == nil || subtle.ConstantTimeCompare(*row.CodeHash, codeHash) != 1 {
			return "", errBadState
		}
		if row.ResultSealed != nil && len(*row.ResultSealed) > 0 {
			result, err := s.Keys.Open(*row.ResultSealed)
			if err != nil {
				return "", fmt.Errorf("open web authorization result: %w", err)
			}
			return row.ReturnTo + "#" + string(result), nil
		}
		if time.Now().After(deadline) {
			return "", problem.New(problem.WeChatUnavailable, "the first answer to this sign-in is still pending: start it again")
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

var errBadTicket = problem.New(problem.InvalidCode, "the ticket is unknown, used or expired: sign in again")

// Redeem turns a ticket from the callback into a login, once.
func (s *Service) Redeem(ctx context.Context, ticket string, c logins.Client) (*logins.Grant, error) {
	if ticket == "" || len(ticket) > 128 {
		return nil, errBadTicket
	}
	th := hash(ticket)
	var sealed []byte
	err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		now := s.Now.Now()
		row, err := tx.OALogin.Query().Where(oalogin.TicketHash(th)).Only(ctx)
		if ent.IsNotFound(err) {
			return errBadTicket
		}
		if err != nil {
			return fmt.Errorf("find ticket: %w", err)
		}
		if row.RedeemedAt != nil || row.TicketExpiresAt == nil || !row.TicketExpiresAt.After(now) ||
			row.PersonSealed == nil || len(*row.PersonSealed) == 0 {
			return errBadTicket
		}
		// Conditional, so that of two redemptions racing one wins.
		n, err := tx.OALogin.Update().Where(oalogin.ID(row.ID), oalogin.RedeemedAtIsNil()).
			SetRedeemedAt(now).ClearPersonSealed().Save(ctx)
		if err != nil {
			return fmt.Errorf("redeem ticket: %w", err)
		}
		if n == 0 {
			return errBadTicket
		}
		sealed = *row.PersonSealed
		return nil
	})
	if err != nil {
		return nil, err
	}
	plain, err := s.Keys.Open(sealed)
	if err != nil {
		return nil, fmt.Errorf("open ticket: %w", err)
	}
	var p person
	if err := json.Unmarshal(plain, &p); err != nil {
		return nil, fmt.Errorf("read ticket: %w", err)
	}
	return s.login(ctx, &p, c)
}

func (s *Service) login(ctx context.Context, p *person, c logins.Client) (*logins.Grant, error) {
	return s.Logins.LoginPerson(ctx, logins.Person{Kind: p.Kind, AppID: p.AppID, OpenID: p.OpenID, UnionID: p.UnionID},
		p.profile(), c)
}

// AppLogin logs in with the code a mobile app's WeChat SDK (or
// wx.miniapp.login) gave it, exchanged with that app's credentials: the
// AppSecret never leaves the server.
func (s *Service) AppLogin(ctx context.Context, appID, code string, c logins.Client) (*logins.Grant, error) {
	app, err := s.pick(s.Mobile, appID, "mobile app")
	if err != nil {
		return nil, err
	}
	p, err := s.identify(ctx, app, code, profiles.KindApp)
	if errors.Is(err, errSnapshot) {
		// Apps have no snapshot page; should WeChat say so anyway, the
		// person is not real.
		return nil, problem.New(problem.InvalidCode, "WeChat gave a virtual user for this code")
	}
	if err != nil {
		return nil, err
	}
	return s.login(ctx, p, c)
}

// pick is the app a request names, of one door; checked before WeChat is
// called, so a wrong appid never burns a code.
func (s *Service) pick(apps *wechat.Clients, appID, what string) (*wechat.Client, error) {
	if apps == nil {
		return nil, problem.Invalid(map[string]string{"appid": "no " + what + " is configured"})
	}
	c, err := apps.Pick(appID)
	switch {
	case errors.Is(err, wechat.ErrAppRequired):
		return nil, problem.Invalid(map[string]string{"appid": "is required: several are configured"})
	case errors.Is(err, wechat.ErrUnknownApp):
		return nil, problem.Invalid(map[string]string{"appid": "is not a configured " + what})
	}
	return c, err
}

// Purge deletes authorizations that ended before cutoff.
func (s *Service) Purge(ctx context.Context, cutoff time.Time) (int, error) {
	var n int
	err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		var err error
		n, err = tx.OALogin.Delete().Where(oalogin.ExpiresAtLT(cutoff)).Exec(ctx)
		return err
	})
	return n, err
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// alnum is a random string of letters and digits (WeChat's state rule),
// unbiased: bytes past the last whole multiple of 62 are drawn again.
func alnum(n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		rand.Read(buf)
		for _, r := range buf {
			if r < 248 && len(out) < n {
				out = append(out, letters[int(r)%len(letters)])
			}
		}
	}
	return string(out)
}
