// Package tokens issues and checks miniauth's tokens.
//
// Access tokens are short-lived HS256 JWTs naming a user and a session;
// they are checked by gofiber/contrib/jwt with the claim types below,
// whose Validate makes every claim mandatory (the JWT library alone would
// accept a token without exp). Refresh tokens are opaque random strings
// stored only as their SHA-256.
package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
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
type AccessClaims struct{ Claims }

// Validate is called by the JWT library after the signature and times.
func (c *AccessClaims) Validate() error { return c.check(Access) }

// AdminClaims are the claims of an admin panel token.
type AdminClaims struct{ Claims }

// Validate is called by the JWT library after the signature and times.
func (c *AdminClaims) Validate() error { return c.check(Admin) }

// Signer signs tokens of one kind.
type Signer struct {
	Kind Kind
	Key  []byte
	TTL  time.Duration
	Now  clock.Clock
}

// Sign returns a token for a user (or admin) and session.
func (s *Signer) Sign(subject, sessionID int, nonce string) (string, time.Time, error) {
	return s.SignApp(subject, sessionID, nonce, "")
}

// SignApp returns a token for a user's session of a mini program.
func (s *Signer) SignApp(subject, sessionID int, nonce, app string) (string, time.Time, error) {
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
		App:          app,
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.Key)
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

// NewRefreshToken returns a 256-bit random refresh token and its hash.
func NewRefreshToken() (token string, hash []byte) {
	token = RandomString(32)
	return token, HashRefreshToken(token)
}

// HashRefreshToken is what the database keeps of a refresh token.
func HashRefreshToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}
