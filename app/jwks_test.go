package app_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/keys"
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/app/tokens/tokentest"
)

var asymmetricAlgs = []string{keys.ES256, keys.EdDSA}

// jwk is one published key, as a verifier reads it.
type jwk struct {
	Kty, Crv, X, Y, D, Kid, Alg, Use string
}

func fetchJWKS(t *testing.T, env *apptest.Env) []jwk {
	t.Helper()
	r := env.Do(t, apptest.Request{Method: "GET", Path: "/.well-known/jwks.json"})
	if r.Status != http.StatusOK {
		t.Fatalf("jwks: %d %s", r.Status, r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("Cache-Control %q", cc)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		t.Fatalf("jwks: %v\n%s", err, r.Body)
	}
	var out []jwk
	for _, k := range raw.Keys {
		for name := range k {
			switch name {
			case "kty", "crv", "x", "y", "kid", "alg", "use":
			default:
				t.Errorf("published key has member %q (only public members): %s", name, r.Body)
			}
		}
		s := func(n string) string { v, _ := k[n].(string); return v }
		out = append(out, jwk{Kty: s("kty"), Crv: s("crv"), X: s("x"), Y: s("y"), Kid: s("kid"), Alg: s("alg"), Use: s("use")})
	}
	return out
}

// publicKey is a published key as a Go verifier would build it.
func (k jwk) publicKey(t *testing.T) crypto.PublicKey {
	t.Helper()
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("jwk member: %v", err)
		}
		return b
	}
	switch {
	case k.Kty == "EC" && k.Crv == "P-256" && k.Alg == "ES256":
		return &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(dec(k.X)), Y: new(big.Int).SetBytes(dec(k.Y))}
	case k.Kty == "OKP" && k.Crv == "Ed25519" && k.Alg == "EdDSA":
		return ed25519.PublicKey(dec(k.X))
	}
	t.Fatalf("unexpected key %+v", k)
	return nil
}

// verifyWithJWKS checks a token the way another service would: the key
// by kid from the published set, the configured algorithm only, and the
// registered claims.
func verifyWithJWKS(t *testing.T, set []jwk, alg, token string) (*jwt.Token, error) {
	t.Helper()
	return jwt.Parse(token, func(tok *jwt.Token) (any, error) {
		for _, k := range set {
			if k.Kid == tok.Header["kid"] {
				return k.publicKey(t), nil
			}
		}
		return nil, jwt.ErrTokenUnverifiable
	}, jwt.WithValidMethods([]string{alg}), jwt.WithIssuer(tokens.Issuer), jwt.WithAudience(tokens.Access.Audience), jwt.WithExpirationRequired())
}

func header(t *testing.T, token string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	json.Unmarshal(b, &h)
	return h
}

// HS256, the default, is as before: no kid, no published keys.
func TestHS256HasNoJWKS(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: "/.well-known/jwks.json"}), http.StatusNotFound, "not_found")
	g := env.Login(t, "o_hs256")
	if h := header(t, g.AccessToken); h["alg"] != "HS256" || h["kid"] != nil {
		t.Fatalf("HS256 token header %v", h)
	}
	if _, err := tokentest.Parse(g.AccessToken, tokens.Access, env.Server.Keys.UserToken); err != nil {
		t.Fatalf("HS256 token does not verify with the secret's key: %v", err)
	}
	apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}), http.StatusOK, "")
}

// With ES256 or EdDSA the server makes its key on first start, keeps it
// across restarts, signs every access token with it and its kid, and
// publishes only the public half.
func TestAsymmetricKeysSignAndArePublished(t *testing.T) {
	t.Parallel()
	for _, alg := range asymmetricAlgs {
		t.Run(alg, func(t *testing.T) {
			apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
				dir, url := t.TempDir(), b.URL(t)
				env := apptest.Start(t, apptest.Options{DataDir: dir, DatabaseURL: url, Env: map[string]string{"MINIAUTH_JWT_ALG": alg}})
				set := fetchJWKS(t, env)
				if len(set) != 1 || set[0].Kid == "" || set[0].Alg != alg || set[0].Use != "sig" {
					t.Fatalf("published set %+v", set)
				}
				g := env.Login(t, "o_"+alg)
				if h := header(t, g.AccessToken); h["alg"] != alg || h["kid"] != set[0].Kid || h["typ"] != "JWT" {
					t.Fatalf("token header %v, want alg %s kid %s", h, alg, set[0].Kid)
				}
				tok, err := verifyWithJWKS(t, set, alg, g.AccessToken)
				if err != nil {
					t.Fatalf("a verifier with the published key refuses the token: %v", err)
				}
				claims := tok.Claims.(jwt.MapClaims)
				if claims["sub"] != strconv.Itoa(g.UserID()) || claims["typ"] != "access" {
					t.Fatalf("claims %v", claims)
				}
				apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}), http.StatusOK, "")
				// The HS256 key of the same secret opens nothing now.
				forged := signHS256(t, env.Server.Keys.UserToken, claimsOf(t, g.AccessToken), nil)
				apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: forged}), http.StatusUnauthorized, "unauthorized")

				// The private key is sealed in the database.
				row, err := env.Server.DB.Read.SigningKey.Query().Only(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if _, err := x509.ParsePKCS8PrivateKey(row.PrivateKey); err == nil {
					t.Fatal("the private key is stored in the clear")
				}

				// A restart (same database and secret) keeps the key.
				env.Stop()
				again := apptest.Start(t, apptest.Options{DataDir: dir, DatabaseURL: url, Env: map[string]string{"MINIAUTH_JWT_ALG": alg}})
				if set2 := fetchJWKS(t, again); len(set2) != 1 || set2[0].Kid != set[0].Kid {
					t.Fatalf("after a restart the set is %+v, was %+v", set2, set)
				}
				apptest.Expect(t, again.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}), http.StatusOK, "")
			})
		})
	}
}

// Rotation on one instance (A, the CLI's way) reaches another (B) within
// its poll: B signs with the new key, both publish both keys until the
// old one's tokens have expired, and a token B signed before the
// rotation stays valid on A until then.
func TestRotationReachesEveryInstance(t *testing.T) {
	t.Parallel()
	for _, alg := range asymmetricAlgs {
		t.Run(alg, func(t *testing.T) {
			apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
				dir, url := t.TempDir(), b.URL(t)
				var clk clock.Shifted
				vars := map[string]string{"MINIAUTH_JWT_ALG": alg, "MINIAUTH_ACCESS_TTL": "10m", "MINIAUTH_JWT_SECRET": strings.Repeat("k", 40)}
				wx := apptest.NewWeChat(t)
				a := apptest.Start(t, apptest.Options{DataDir: dir, DatabaseURL: url, Env: vars, WeChat: wx, Clock: clk.Now})
				bEnv := apptest.Start(t, apptest.Options{DataDir: dir, DatabaseURL: url, Env: vars, WeChat: wx, Clock: clk.Now})
				first := fetchJWKS(t, a)
				if got := fetchJWKS(t, bEnv); len(first) != 1 || len(got) != 1 || got[0].Kid != first[0].Kid {
					t.Fatalf("two instances starting on one database publish %+v and %+v", first, got)
				}
				before := bEnv.Login(t, "o_rotate")

				next, previous, err := keys.Rotate(context.Background(), a.Server.DB, a.Server.Keys, alg, 10*time.Minute, nil)
				if err != nil {
					t.Fatal(err)
				}
				if previous == nil || previous.Kid != first[0].Kid || next.Kid == first[0].Kid {
					t.Fatalf("rotate: next %+v previous %+v", next, previous)
				}
				clk.Shift(10 * time.Second) // "within 10 s"
				after := bEnv.Login(t, "o_rotate")
				if kid := header(t, after.AccessToken)["kid"]; kid != next.Kid {
					t.Fatalf("B signs with %v after the rotation, want %s", kid, next.Kid)
				}
				for _, env := range []*apptest.Env{a, bEnv} {
					set := fetchJWKS(t, env)
					if len(set) != 2 || set[0].Kid != next.Kid || set[1].Kid != first[0].Kid {
						t.Fatalf("published after rotation: %+v", set)
					}
					for _, tok := range []string{before.AccessToken, after.AccessToken} {
						if _, err := verifyWithJWKS(t, set, alg, tok); err != nil {
							t.Fatalf("the published set does not verify a token: %v", err)
						}
						apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: tok}), http.StatusOK, "")
					}
				}
				// Past the old key's last token, it leaves the set.
				clk.Shift(10*time.Minute + 2*time.Minute)
				for _, env := range []*apptest.Env{a, bEnv} {
					if set := fetchJWKS(t, env); len(set) != 1 || set[0].Kid != next.Kid {
						t.Fatalf("published once the old key retired: %+v", set)
					}
				}
			})
		})
	}
}

// claimsOf is a token's claims, unverified, to forge tokens that differ
// from a real one only where a test says.
func claimsOf(t *testing.T, token string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func signHS256(t *testing.T, key []byte, claims jwt.MapClaims, hdr map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	for k, v := range hdr {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unsigned is a token with alg "none" (and the given header members).
func unsigned(t *testing.T, claims jwt.MapClaims, hdr map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims)
	for k, v := range hdr {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func signWith(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims, hdr map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range hdr {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// No algorithm confusion: with an asymmetric algorithm only that
// algorithm with a published kid opens a session. Each forgery below
// carries the claims of a live session, so only the signature or header
// can refuse it; the unforged control passes.
func TestAlgorithmConfusionIsRefused(t *testing.T) {
	t.Parallel()
	for _, alg := range asymmetricAlgs {
		t.Run(alg, func(t *testing.T) {
			env := apptest.Start(t, apptest.Options{Env: map[string]string{"MINIAUTH_JWT_ALG": alg}})
			g := env.Login(t, "o_confusion")
			claims := claimsOf(t, g.AccessToken)
			set := fetchJWKS(t, env)
			kid := set[0].Kid
			pub := set[0].publicKey(t)
			method, _, realKey, err := env.Server.Ring.SigningKey()
			if err != nil {
				t.Fatal(err)
			}
			der, _ := x509.MarshalPKIXPublicKey(pub)
			pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			jwkJSON, _ := json.Marshal(map[string]string{"kty": set[0].Kty, "crv": set[0].Crv, "x": set[0].X, "y": set[0].Y})
			rawX, _ := base64.RawURLEncoding.DecodeString(set[0].X)
			// An attacker's own key of the right algorithm.
			var attackerKey crypto.Signer
			if alg == keys.ES256 {
				attackerKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			} else {
				_, attackerKey, _ = ed25519.GenerateKey(rand.Reader)
			}
			// The wrong asymmetric algorithm for this server.
			otherMethod, otherKey := jwt.SigningMethod(jwt.SigningMethodEdDSA), crypto.Signer(nil)
			if alg == keys.EdDSA {
				otherMethod = jwt.SigningMethodES256
				otherKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			} else {
				_, otherKey, _ = ed25519.GenerateKey(rand.Reader)
			}
			es384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)

			forgeries := map[string]string{
				"HS256 with the PEM public key as secret": signHS256(t, pemKey, claims, map[string]any{"kid": kid}),
				"HS256 with the DER public key as secret": signHS256(t, der, claims, map[string]any{"kid": kid}),
				"HS256 with the JWK as secret":            signHS256(t, jwkJSON, claims, map[string]any{"kid": kid}),
				"HS256 with the raw public key as secret": signHS256(t, rawX, claims, map[string]any{"kid": kid}),
				"HS256 with the secret's HS256 key":       signHS256(t, env.Server.Keys.UserToken, claims, map[string]any{"kid": kid}),
				"alg none":                                unsigned(t, claims, map[string]any{"kid": kid}),
				"alg none, no kid":                        unsigned(t, claims, nil),
				"unknown kid, attacker's key":             signWith(t, method, attackerKey, claims, map[string]any{"kid": "attacker"}),
				"published kid, attacker's key":           signWith(t, method, attackerKey, claims, map[string]any{"kid": kid}),
				"other algorithm, published kid":          signWith(t, otherMethod, otherKey, claims, map[string]any{"kid": kid}),
				"ES384, published kid":                    signWith(t, jwt.SigningMethodES384, es384, claims, map[string]any{"kid": kid}),
				"real key, no kid":                        signWith(t, method, realKey, claims, map[string]any{"kid": nil}),
				"real key, unknown kid":                   signWith(t, method, realKey, claims, map[string]any{"kid": "no-such-kid"}),
				"real key, kid not a string":              signWith(t, method, realKey, claims, map[string]any{"kid": 1}),
				"real key, jku header":                    signWith(t, method, realKey, claims, map[string]any{"kid": kid, "jku": "https://attacker.example/jwks.json"}),
				"real key, x5u header":                    signWith(t, method, realKey, claims, map[string]any{"kid": kid, "x5u": "https://attacker.example/cert.pem"}),
				"real key, embedded jwk header":           signWith(t, method, realKey, claims, map[string]any{"kid": kid, "jwk": map[string]string{"kty": "EC"}}),
				"attacker key with jku to attacker's set": signWith(t, method, attackerKey, claims, map[string]any{"kid": "attacker", "jku": "https://attacker.example/jwks.json"}),
			}
			control := signWith(t, method, realKey, claims, map[string]any{"kid": kid})
			apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: control}), http.StatusOK, "")
			for name, tok := range forgeries {
				for _, path := range []string{"/api/me", "/api/auth/verify"} {
					if r := env.Do(t, apptest.Request{Method: "GET", Path: path, Token: tok}); r.Status != http.StatusUnauthorized || r.ErrorCode() != "unauthorized" {
						t.Errorf("%s on %s: %d %s, want 401 unauthorized", name, path, r.Status, r.Body)
					}
				}
			}
			// All of them a hundred times at once: every one refused.
			var wg sync.WaitGroup
			all := make([]string, 0, len(forgeries))
			for _, tok := range forgeries {
				all = append(all, tok)
			}
			for i := range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if r := env.Do(t, apptest.Request{Method: "GET", Path: "/api/auth/verify", Token: all[i%len(all)]}); r.Status != http.StatusUnauthorized {
						t.Errorf("concurrent forgery: %d", r.Status)
					}
				}()
			}
			wg.Wait()
		})
	}
}
