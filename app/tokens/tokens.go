// Package tokens issues and checks miniauth's tokens.
//
// Access tokens are short-lived JWTs naming a user and a session, signed
// with HS256 or, when MINIAUTH_JWT_ALG asks, with the asymmetric key of a
// KeySource (app/keys.Ring) and its kid; they are checked by
// gofiber/contrib/jwt with the claim types below,
// whose Validate makes every claim mandatory (the JWT library alone would
// accept a token without exp). Refresh tokens are opaque random strings
// stored only as their SHA-256.
package tokens

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/miniauth/miniauth/app/clock"
)

// Issuer is the iss of every token miniauth signs.
const Issuer = "miniauth"

// Kind tells user API tokens from admin panel tokens: each has its own
// audience, type and key, so one can never pass for the other.
type Kind struct {
	Type     string
	Audience string
}

var (
	// Access is a user's API access token.
	Access = Kind{Type: "access", Audience: "miniauth-api"}
	// Admin is an admin panel session token (kept in a cookie).
	Admin = Kind{Type: "admin", Audience: "miniauth-admin"}
)

// clockSkew is how far in the future an iat may be.
const clockSkew = time.Minute

// Claims are the claims of every miniauth JWT.
type Claims struct {
	jwt.RegisteredClaims
	SessionID int `json:"sid"`
	// SessionNonce is the session's random name (ent/schema Session.nonce):
	// the session check compares it, so a token never opens a session
	// that merely has the same numeric id. Absent in tokens issued before
	// it existed, which then match only a session without one.
	SessionNonce string `json:"sno,omitempty"`
	Type         string `json:"typ"`
	// App is the mini program (AppID) the session belongs to; absent in
	// admin tokens and in tokens from before several apps were served.
	App string `json:"app,omitempty"`
}

// UserID is the numeric subject.
func (c *Claims) UserID() int {
	n, _ := strconv.Atoi(c.Subject)
	return n
}

func (c *Claims) check(k Kind) error {
	switch {
	case c.ExpiresAt == nil:
		return errors.New("token has no exp")
	case c.IssuedAt == nil:
		return errors.New("token has no iat")
	case c.IssuedAt.After(time.Now().Add(clockSkew)):
		return errors.New("token issued in the future")
	case c.ID == "":
		return errors.New("token has no jti")
	case c.Issuer != Issuer:
		return errors.New("token has the wrong issuer")
	case len(c.Audience) != 1 || c.Audience[0] != k.Audience:
		return errors.New("token has the wrong audience")
	case c.Type != k.Type:
		return errors.New("token has the wrong type")
	case c.SessionID <= 0:
		return errors.New("token has no session")
	}
	if n, err := strconv.Atoi(c.Subject); err != nil || n <= 0 || strconv.Itoa(n) != c.Subject {
		return errors.New("token has no valid subject")
	}
	return nil
}

// AccessClaims are the claims of a user access token.
type AccessClaims struct {
	Claims
	// Roles are the user's role names when the token was issued (a login
	// or refresh): [] when none, never absent.
	Roles []string `json:"roles"`
}

// Validate is called by the JWT library after the signature and times.
func (c *AccessClaims) Validate() error { return c.check(Access) }

// AdminClaims are the claims of an admin panel token.
type AdminClaims struct{ Claims }

// Validate is called by the JWT library after the signature and times.
func (c *AdminClaims) Validate() error { return c.check(Admin) }

// KeySource is where asymmetric signing keys come from (app/keys.Ring).
type KeySource interface {
	// SigningKey is the key that signs now: its method (ES256 or EdDSA),
	// kid and private key.
	SigningKey() (method jwt.SigningMethod, kid string, key crypto.Signer, err error)
}

// Signer signs tokens of one kind.
type Signer struct {
	Kind Kind
	Key  []byte // the HS256 key, unless Keys is set
	// Keys, if set, signs instead of Key, naming the key in the kid
	// header (MINIAUTH_JWT_ALG ES256 or EdDSA; access tokens only).
	Keys KeySource
	TTL  time.Duration
	Now  clock.Clock
}

// Extra are the optional claims of an access token.
type Extra struct {
	App   string   // the mini program (AppID) of the session
	Roles []string // the user's roles
}

// Sign returns a token for a user (or admin) and session.
func (s *Signer) Sign(subject, sessionID int, nonce string) (string, time.Time, error) {
	return s.SignWith(subject, sessionID, nonce, Extra{})
}

// SignWith returns a token for a subject and session (and the session's
// nonce, which a revocation changes) with extra claims.
func (s *Signer) SignWith(subject, sessionID int, nonce string, x Extra) (string, time.Time, error) {
	iat := s.Now.Now().Truncate(time.Second)
	exp := iat.Add(s.TTL)
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   strconv.Itoa(subject),
			Audience:  jwt.ClaimStrings{s.Kind.Audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(iat),
			ID:        RandomString(16),
		},
		SessionID:    sessionID,
		SessionNonce: nonce,
		Type:         s.Kind.Type,
		App:          x.App,
	}
	var method jwt.SigningMethod = jwt.SigningMethodHS256
	var kid string
	var key any = s.Key
	if s.Keys != nil {
		var err error
		if method, kid, key, err = s.Keys.SigningKey(); err != nil {
			return "", time.Time{}, fmt.Errorf("signing key: %w", err)
		}
	}
	signed, err := sign(method, kid, key, &claims, s.Kind == Access, x.Roles)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return signed, exp, nil
}

// RandomString is n random bytes, base64url without padding.
func RandomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewSessionNonce is a new session's random name: 128 bits.
func NewSessionNonce() string { return RandomString(16) }

// A refresh token names its session: "<session id>.<secret>", the secret
// 256 random bits in base64url. The database keeps the secret's SHA-256
// on the session and finds the session by its id, so the hash needs no
// index (a login fills one fewer, at a random place). A token without the
// id is a legacy one, from before: the whole token was hashed and found
// through an index on the hash (LegacyRefreshHash).

// NewRefreshSecret returns a refresh token's random secret and the hash
// the database keeps of it. The token is RefreshToken(sessionID, secret),
// known once the session has its id.
func NewRefreshSecret() (secret string, hash []byte) {
	secret = RandomString(32)
	return secret, hashSecret(secret)
}

// RefreshToken is the refresh token of a session with the given secret.
func RefreshToken(sessionID int, secret string) string {
	return strconv.Itoa(sessionID) + "." + secret
}

// ParseRefreshToken splits a refresh token into its session id and the
// hash of its secret. ok is false for anything else, including a legacy
// token (see LegacyRefreshHash).
func ParseRefreshToken(token string) (sessionID int, hash []byte, ok bool) {
	idPart, secret, found := strings.Cut(token, ".")
	if !found || secret == "" || len(idPart) > 18 {
		return 0, nil, false
	}
	id, err := strconv.Atoi(idPart)
	// Only the canonical form: no sign, no leading zeros.
	if err != nil || id <= 0 || strconv.Itoa(id) != idPart {
		return 0, nil, false
	}
	return id, hashSecret(secret), true
}

// LegacyRefreshHash is what the database kept of a refresh token issued
// before tokens named their session: the SHA-256 of the whole token.
func LegacyRefreshHash(token string) []byte { return hashSecret(token) }

func hashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}
