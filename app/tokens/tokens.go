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
	SessionID int    `json:"sid"`
	Type      string `json:"typ"`
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

// Issuer signs tokens of one kind.
type Signer struct {
	Kind Kind
	Key  []byte
	TTL  time.Duration
	Now  func() time.Time
}

// Sign returns a token for a user (or admin) and session.
func (s *Signer) Sign(subject, sessionID int) (string, time.Time, error) {
	return s.SignApp(subject, sessionID, "")
}

// SignApp returns a token for a user's session of a mini program.
func (s *Signer) SignApp(subject, sessionID int, app string) (string, time.Time, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	iat := now().UTC().Truncate(time.Second)
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
		SessionID: sessionID,
		Type:      s.Kind.Type,
		App:       app,
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.Key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return signed, exp, nil
}

// Parse checks a token the way the middleware does (HS256 only, every
// claim required) and returns its claims.
func Parse(token string, kind Kind, key []byte) (*Claims, error) {
	var claims jwt.Claims
	var base *Claims
	if kind == Admin {
		c := &AdminClaims{}
		claims, base = c, &c.Claims
	} else {
		c := &AccessClaims{}
		claims, base = c, &c.Claims
	}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		return nil, err
	}
	return base, nil
}

// RandomString is n random bytes, base64url without padding.
func RandomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

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
