package tokens

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// library signs c the way SignWith did before sign: through jwt.Token.
func library(t *testing.T, method jwt.SigningMethod, kid string, key any, c Claims, access bool, roles []string) string {
	t.Helper()
	var all jwt.Claims = c
	if access {
		if roles == nil {
			roles = []string{}
		}
		all = AccessClaims{Claims: c, Roles: roles}
	}
	tok := jwt.NewWithClaims(method, all)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sign writes, byte for byte, the token jwt.Token writes for the same
// claims, header and key (its signature too, where the algorithm is
// deterministic), including strings that need escaping.
func TestSignWritesWhatJWTLibraryWrites(t *testing.T) {
	hsKey := []byte("user-key-0123456789abcdef-0123456789abcdef")
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iat := time.Unix(1_780_000_000, 0)
	base := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: Issuer, Subject: "42", Audience: jwt.ClaimStrings{Access.Audience},
			ExpiresAt: jwt.NewNumericDate(iat.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(iat), ID: RandomString(16),
		},
		SessionID: 7, SessionNonce: NewSessionNonce(), Type: Access.Type,
	}
	odd := []string{`wx"quoted"`, `back\slash`, "tab\there", "微信", "bad\xffutf8", "<script>&", "line\u2028sep", "nul\x00", ""}
	type variant struct {
		name   string
		edit   func(c *Claims)
		access bool
		roles  []string
	}
	variants := []variant{
		{name: "access, no app, no roles", access: true},
		{name: "access, app and roles", edit: func(c *Claims) { c.App = "wx0123456789abcdef" }, access: true, roles: []string{"staff", "beta"}},
		{name: "access, no nonce", edit: func(c *Claims) { c.SessionNonce = "" }, access: true, roles: []string{}},
		{name: "admin", edit: func(c *Claims) { c.Audience = jwt.ClaimStrings{Admin.Audience}; c.Type = Admin.Type }},
		{name: "not before", edit: func(c *Claims) { c.NotBefore = jwt.NewNumericDate(iat) }, access: true},
	}
	for _, s := range odd {
		variants = append(variants, variant{name: "odd string " + s, edit: func(c *Claims) { c.App = s }, access: true, roles: []string{s, "x"}})
	}
	for _, v := range variants {
		c := base
		if v.edit != nil {
			v.edit(&c)
		}
		for _, k := range []struct {
			method jwt.SigningMethod
			kid    string
			key    any
			same   bool // deterministic signature: the whole token is equal
		}{
			{jwt.SigningMethodHS256, "", hsKey, true},
			{jwt.SigningMethodEdDSA, "kid-" + v.name, edKey, true},
			{jwt.SigningMethodES256, "k1", ecKey, false},
		} {
			got, err := sign(k.method, k.kid, k.key, &c, v.access, v.roles)
			if err != nil {
				t.Fatalf("%s %s: %v", v.name, k.method.Alg(), err)
			}
			want := library(t, k.method, k.kid, k.key, c, v.access, v.roles)
			if k.same && got != want {
				t.Errorf("%s %s:\ngot  %s\nwant %s", v.name, k.method.Alg(), got, want)
				continue
			}
			if gotIn, wantIn := got[:strings.LastIndexByte(got, '.')], want[:strings.LastIndexByte(want, '.')]; gotIn != wantIn {
				t.Errorf("%s %s: signed part\ngot  %s\nwant %s", v.name, k.method.Alg(), gotIn, wantIn)
			}
			var pub any = k.key
			switch key := k.key.(type) {
			case ed25519.PrivateKey:
				pub = key.Public()
			case *ecdsa.PrivateKey:
				pub = &key.PublicKey
			}
			if _, err := jwt.Parse(got, func(*jwt.Token) (any, error) { return pub, nil }, jwt.WithTimeFunc(func() time.Time { return iat })); err != nil {
				t.Errorf("%s %s: the library refuses the token: %v", v.name, k.method.Alg(), err)
			}
		}
	}
}

func BenchmarkSignWith(b *testing.B) {
	s := &Signer{Kind: Access, Key: []byte("user-key-0123456789abcdef-0123456789abcdef"), TTL: time.Hour}
	nonce := NewSessionNonce()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.SignWith(42, 7, nonce, Extra{App: "wx0123456789abcdef"}); err != nil {
			b.Fatal(err)
		}
	}
}
