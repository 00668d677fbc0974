package handlers

import (
	"github.com/miniauth/miniauth/app/sessions"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"github.com/miniauth/miniauth/app/logins"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/ent"
)

// Keys of request-scoped values.
const (
	localRequestID = "request_id"
	localClientIP  = "client_ip"
	localUser      = "user"
	localSession   = "session_id"
)

// RequestID is the request's id, as logged.
func RequestID(c *fiber.Ctx) string {
	id, _ := c.Locals(localRequestID).(string)
	return id
}

// ClientIP is the client's address, as far as it can be trusted.
func ClientIP(c *fiber.Ctx) string {
	ip, _ := c.Locals(localClientIP).(string)
	return ip
}

// Client describes the caller for a new session.
func Client(c *fiber.Ctx) logins.Client {
	return logins.Client{IP: ClientIP(c), UserAgent: strings.Clone(c.Get(fiber.HeaderUserAgent))}
}

// Request ids are a random per-process prefix and a counter: unique
// across instances and restarts, and free of a system call per request
// (they need not be secret).
var (
	requestIDPrefix = tokens.RandomString(6)
	requestIDSeq    atomic.Uint64
)

func nextRequestID() string {
	return requestIDPrefix + strconv.FormatUint(requestIDSeq.Add(1), 36)
}

// Identify assigns a request id and works out the client IP. The
// X-Forwarded-For header is believed only when the direct peer is one of
// the trusted proxies, and then read from the right, skipping proxies, so
// that a client cannot spoof its address by sending the header itself.
func Identify(trusted []netip.Prefix) fiber.Handler {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	return func(c *fiber.Ctx) error {
		id := nextRequestID()
		c.Locals(localRequestID, id)
		c.Set(fiber.HeaderXRequestID, id)
		peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
		peer = peer.Unmap()
		ip := peer
		if len(trusted) > 0 && isTrusted(peer) {
			hops := forwardedHops(c)
			for i := len(hops) - 1; i >= 0; i-- {
				a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
				if err != nil {
					break
				}
				ip = a.Unmap()
				if !isTrusted(ip) {
					break
				}
			}
		}
		c.Locals(localClientIP, ip.String())
		return c.Next()
	}
}

// forwardedHops is every X-Forwarded-For entry, all header lines read as
// one list in order (RFC 9110 §5.3). A proxy may append its own line
// (HAProxy's option forwardfor) instead of extending the client's: reading
// only the first line would believe whatever the client wrote there.
func forwardedHops(c *fiber.Ctx) []string {
	var hops []string
	for _, line := range c.Request().Header.PeekAll(fiber.HeaderXForwardedFor) {
		hops = append(hops, strings.Split(string(line), ",")...)
	}
	return hops
}

// AccessLog writes one structured line per request. It logs the path
// without the query string, and no header: nothing in it can be a token,
// a code or a secret. Errors are answered here so the line has the real
// status.
func AccessLog(log *slog.Logger, onError fiber.ErrorHandler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		if err := c.Next(); err != nil {
			if err := onError(c, err); err != nil {
				c.Status(fiber.StatusInternalServerError)
			}
		}
		ctx := c.UserContext()
		if !log.Enabled(ctx, slog.LevelInfo) {
			return nil
		}
		// The record is made here, with typed attributes and no caller
		// (Logger.LogAttrs would walk the stack for one on every request;
		// the handler does not print it).
		r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
		r.AddAttrs(
			slog.String("method", requestMethod(c)),
			slog.String("path", c.Path()),
			slog.Int("status", c.Response().StatusCode()),
			slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("request_id", RequestID(c)),
			slog.String("ip", ClientIP(c)),
		)
		log.Handler().Handle(ctx, r)
		return nil
	}
}

// UserTokenKey is how access tokens are verified: HS256 with Key, or,
// when Keyfunc is set, the asymmetric keys it picks by kid.
type UserTokenKey struct {
	Key     []byte
	Keyfunc jwt.Keyfunc
}

// RequireUser checks the bearer token with contrib/jwt (the configured
// algorithm only, every claim required by tokens.AccessClaims) and then
// that its session is still live, so that logout and disabling take
// effect at once.
func RequireUser(key UserTokenKey, live *sessions.Service) fiber.Handler {
	refused := func(*fiber.Ctx) error { return sessions.ErrUnauthorized }
	check := func(c *fiber.Ctx, claims *tokens.AccessClaims) error {
		u, err := live.Authenticate(c.UserContext(), claims.UserID(), claims.SessionID, claims.SessionNonce)
		if err != nil {
			return err
		}
		c.Locals(localUser, u)
		c.Locals(localSession, claims.SessionID)
		return c.Next()
	}
	if key.Keyfunc != nil {
		return CheckTokenKeys(key.Keyfunc, "", refused, check)
	}
	return CheckToken(key.Key, "", refused, check)
}

// CurrentUser is the signed-in user of a request behind RequireUser (every
// route of /api/me, /api/auth/logout, /api/auth/verify and a team's own
// app.Routes). It reads what RequireUser stored when it checked the
// session, so it never queries the database again: call it as often as
// you like. It is nil on a route that is not behind RequireUser. The user
// is as of the start of the request; read it again from the database
// before a decision that must see a change made during the request.
func CurrentUser(c *fiber.Ctx) *ent.User {
	u, _ := c.Locals(localUser).(*ent.User)
	return u
}

// CurrentSession is the session id of the request's access token (0 when
// not behind RequireUser); like CurrentUser, it costs no query.
func CurrentSession(c *fiber.Ctx) int {
	id, _ := c.Locals(localSession).(int)
	return id
}

// NotFound answers unknown routes.
func NotFound(c *fiber.Ctx) error {
	return problem.New(problem.NotFound, "no such resource")
}
