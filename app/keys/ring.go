package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/signingkey"
)

// Algorithms of MINIAUTH_JWT_ALG. HS256 signs with a key derived from the
// server secret, which only miniauth may hold; ES256 and EdDSA sign with a
// private key kept (sealed) in the database and publish the public key,
// so that other services verify tokens on their own.
const (
	HS256 = "HS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// Asymmetric reports whether alg signs with a published key pair.
func Asymmetric(alg string) bool { return alg == ES256 || alg == EdDSA }

// PollInterval is how often a Ring reads the keys again, so that a
// rotation made by another process (`miniauth keys rotate`) is picked up
// by every instance within it.
const PollInterval = 5 * time.Second

// retireMargin is added to the access token lifetime when a key is rotated
// out: other instances sign with it until their next poll, and verifiers'
// clocks may lag.
const retireMargin = 2*PollInterval + time.Minute

// JWKSMaxAge is how long verifiers may cache the published key set. A new
// key signs at once, and verifiers that meet an unknown kid fetch the set
// again (jose, PyJWKClient, keyfunc do); this bounds how late the others
// learn of it.
const JWKSMaxAge = 5 * time.Minute

// Ring is the asymmetric signing keys of one algorithm, shared by every
// instance through the database: the current signer, and the keys
// rotated out whose tokens may still be live. It reads them again every
// PollInterval (lazily, on use, by the Now clock).
type Ring struct {
	Alg string
	Now clock.Clock
	Log *slog.Logger

	db     *database.DB
	secret *Set
	ttl    time.Duration

	state  atomic.Pointer[ringState]
	reload sync.Mutex
}

type ringState struct {
	loadedAt  time.Time
	signer    *ringKey
	published map[string]*ringKey // by kid
	jwks      []byte
}

type ringKey struct {
	kid     string
	public  crypto.PublicKey
	private crypto.Signer // the signer's only
}

// OpenRing loads the keys of alg from db, creating the first signing key
// if there is none (several instances starting at once agree on one).
// ttl is the access token lifetime: how long a rotated-out key stays
// published.
func OpenRing(ctx context.Context, db *database.DB, secret *Set, alg string, ttl time.Duration, log *slog.Logger) (*Ring, error) {
	if !Asymmetric(alg) {
		return nil, fmt.Errorf("MINIAUTH_JWT_ALG: %q has no key pair", alg)
	}
	r := &Ring{Alg: alg, Log: log, db: db, secret: secret, ttl: ttl}
	st, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	if st.signer == nil {
		if err := r.create(ctx); err != nil {
			return nil, err
		}
		if st, err = r.load(ctx); err != nil {
			return nil, err
		}
		if st.signer == nil {
			return nil, errors.New("signing key: none after creating one")
		}
	}
	r.state.Store(st)
	return r, nil
}

// create stores a new signing key, unless another instance just did (the
// unique signing column refuses a second signer).
func (r *Ring) create(ctx context.Context) error {
	row, err := r.newKey()
	if err != nil {
		return err
	}
	err = r.db.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		exists, err := tx.SigningKey.Query().Where(signingkey.Signing(r.Alg)).Exist(ctx)
		if err != nil || exists {
			return err
		}
		return row(tx).Exec(ctx)
	})
	if ent.IsConstraintError(err) {
		return nil // another instance created it first
	}
	if err != nil {
		return fmt.Errorf("create signing key: %w", err)
	}
	return nil
}

// newKey generates a key pair and returns its row, to be created in a
// write transaction.
func (r *Ring) newKey() (func(tx *ent.Client) *ent.SigningKeyCreate, error) {
	var priv crypto.Signer
	var err error
	switch r.Alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", r.Alg, err)
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	jwk, err := publicJWK(priv.Public())
	if err != nil {
		return nil, err
	}
	kid := thumbprint(jwk)
	sealed := r.secret.sealKey(der, kid)
	now := r.Now.Now()
	return func(tx *ent.Client) *ent.SigningKeyCreate {
		return tx.SigningKey.Create().SetKid(kid).SetAlg(r.Alg).SetPublicKey(pub).SetPrivateKey(sealed).
			SetSigning(r.Alg).SetCreatedAt(now)
	}, nil
}

// load reads the published keys of the ring's algorithm: the signer and
// those not yet retired.
func (r *Ring) load(ctx context.Context) (*ringState, error) {
	now := r.Now.Now()
	rows, err := r.db.Read.SigningKey.Query().
		Where(signingkey.Alg(r.Alg), signingkey.Or(signingkey.SigningNotNil(), signingkey.RetiresAtGT(now))).
		Order(ent.Desc(signingkey.FieldCreatedAt), ent.Desc(signingkey.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	st := &ringState{loadedAt: now, published: map[string]*ringKey{}}
	var jwks []map[string]string
	for _, row := range rows {
		pub, err := x509.ParsePKIXPublicKey(row.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: public key: %w", row.Kid, err)
		}
		k := &ringKey{kid: row.Kid, public: pub}
		if row.Signing != nil && st.signer == nil {
			der, err := r.secret.openKey(row.PrivateKey, row.Kid)
			if err != nil {
				return nil, fmt.Errorf("signing key %s: the private key does not open with this server secret "+
					"(MINIAUTH_JWT_SECRET must be the same on every instance): %w", row.Kid, err)
			}
			priv, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				return nil, fmt.Errorf("signing key %s: private key: %w", row.Kid, err)
			}
			signer, ok := priv.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("signing key %s: not a signing key", row.Kid)
			}
			k.private = signer
			st.signer = k
		}
		st.published[k.kid] = k
		jwk, err := publicJWK(pub)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", row.Kid, err)
		}
		jwk["kid"], jwk["alg"], jwk["use"] = row.Kid, r.Alg, "sig"
		jwks = append(jwks, jwk)
	}
	if st.jwks, err = json.Marshal(map[string]any{"keys": jwks}); err != nil {
		return nil, err
	}
	return st, nil
}

// current is the key state, read again first when older than PollInterval.
// One caller reads while the others go on with what is loaded; a failed
// read keeps the last good state (and is logged), so that a database
// hiccup does not stop signing or verifying.
func (r *Ring) current() *ringState {
	st := r.state.Load()
	if r.Now.Now().Sub(st.loadedAt) < PollInterval || !r.reload.TryLock() {
		return st
	}
	defer r.reload.Unlock()
	if st = r.state.Load(); r.Now.Now().Sub(st.loadedAt) < PollInterval {
		return st
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	next, err := r.load(ctx)
	if err == nil && next.signer == nil {
		err = errors.New("no signing key in the database")
	}
	if err != nil {
		if r.Log != nil {
			r.Log.Warn("reload signing keys; keeping the loaded ones", "err", err)
		}
		return st
	}
	r.state.Store(next)
	return next
}

// Refresh reads the keys now (after a rotation by this process).
func (r *Ring) Refresh(ctx context.Context) error {
	st, err := r.load(ctx)
	if err != nil {
		return err
	}
	if st.signer == nil {
		return errors.New("no signing key in the database")
	}
	r.state.Store(st)
	return nil
}

// SigningKey is the key that signs now (tokens.KeySource).
func (r *Ring) SigningKey() (jwt.SigningMethod, string, crypto.Signer, error) {
	st := r.current()
	return jwt.GetSigningMethod(r.Alg), st.signer.kid, st.signer.private, nil
}

// JWKS is the published key set as JSON: {"keys":[…]}, public members,
// kid, alg and use only.
func (r *Ring) JWKS() []byte { return r.current().jwks }

// Errors of Keyfunc; the client is told only "unauthorized".
var (
	errAlg     = errors.New("token algorithm is not the configured one")
	errHeader  = errors.New("token header names a key source")
	errKid     = errors.New("token names no published key")
	errNoKidID = errors.New("token has no kid")
)

// keySourceHeaders name where to find a key. A verifier that follows them
// lets the token's author pick the key, so a token carrying any is refused.
var keySourceHeaders = []string{"jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256", "crit"}

// Keyfunc picks the public key that verified a token, for contrib/jwt and
// golang-jwt. Only the ring's algorithm is accepted (no HS256 signed
// with the public key as the secret, no "none"), and only a published kid;
// headers that name a key elsewhere are refused.
func (r *Ring) Keyfunc(t *jwt.Token) (any, error) {
	if alg, _ := t.Header["alg"].(string); alg != r.Alg || t.Method == nil || t.Method.Alg() != r.Alg {
		return nil, errAlg
	}
	for _, h := range keySourceHeaders {
		if _, ok := t.Header[h]; ok {
			return nil, errHeader
		}
	}
	kid, ok := t.Header["kid"].(string)
	if !ok || kid == "" {
		return nil, errNoKidID
	}
	k := r.current().published[kid]
	if k == nil {
		return nil, errKid
	}
	return k.public, nil
}

// KeyInfo is one signing key as `miniauth keys list` shows it.
type KeyInfo struct {
	Kid       string
	Alg       string
	CreatedAt time.Time
	Signing   bool
	RetiresAt *time.Time // nil for a signer
}

// Rotate makes a new key the signer of alg; the previous signer stays
// published for ttl (the access token lifetime) and a margin. Keys long
// retired are deleted. It returns the new key and the one it replaced
// (nil on the first).
func Rotate(ctx context.Context, db *database.DB, secret *Set, alg string, ttl time.Duration, now clock.Clock) (next KeyInfo, previous *KeyInfo, err error) {
	r := &Ring{Alg: alg, Now: now, db: db, secret: secret, ttl: ttl}
	if !Asymmetric(alg) {
		return KeyInfo{}, nil, fmt.Errorf("MINIAUTH_JWT_ALG is %s: only ES256 and EdDSA keys are rotated (HS256 signs with the server secret)", alg)
	}
	row, err := r.newKey()
	if err != nil {
		return KeyInfo{}, nil, err
	}
	err = db.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		at := now.Now()
		retires := at.Add(ttl + retireMargin)
		old, err := tx.SigningKey.Query().Where(signingkey.Signing(alg)).Only(ctx)
		switch {
		case ent.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("find the signing key: %w", err)
		default:
			// A secret that does not open the current key is not the
			// servers' one: the new key would not open for them either.
			if _, err := secret.openKey(old.PrivateKey, old.Kid); err != nil {
				return errors.New("the current signing key does not open with this server secret: " +
					"run the command with the servers' MINIAUTH_JWT_SECRET (or data dir)")
			}
			if err := tx.SigningKey.UpdateOne(old).ClearSigning().SetRetiresAt(retires).Exec(ctx); err != nil {
				return fmt.Errorf("retire signing key %s: %w", old.Kid, err)
			}
			previous = &KeyInfo{Kid: old.Kid, Alg: old.Alg, CreatedAt: old.CreatedAt, RetiresAt: &retires}
		}
		k, err := row(tx).Save(ctx)
		if err != nil {
			return fmt.Errorf("store the new signing key: %w", err)
		}
		next = KeyInfo{Kid: k.Kid, Alg: k.Alg, CreatedAt: k.CreatedAt, Signing: true}
		if _, err := tx.SigningKey.Delete().Where(signingkey.SigningIsNil(), signingkey.RetiresAtLT(at.Add(-retiredKept))).Exec(ctx); err != nil {
			return fmt.Errorf("delete retired signing keys: %w", err)
		}
		return nil
	})
	return next, previous, err
}

// retiredKept is how long a retired key is still listed before a later
// rotation deletes it.
const retiredKept = 30 * 24 * time.Hour

// List is every stored signing key, newest first.
func List(ctx context.Context, db *database.DB) ([]KeyInfo, error) {
	rows, err := db.Read.SigningKey.Query().Order(ent.Desc(signingkey.FieldCreatedAt), ent.Desc(signingkey.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	out := make([]KeyInfo, 0, len(rows))
	for _, k := range rows {
		out = append(out, KeyInfo{Kid: k.Kid, Alg: k.Alg, CreatedAt: k.CreatedAt, Signing: k.Signing != nil, RetiresAt: k.RetiresAt})
	}
	return out, nil
}

// publicJWK is a public key's JWK members (RFC 7517, 7518, 8037).
func publicJWK(pub crypto.PublicKey) (map[string]string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("not a P-256 key")
		}
		raw, err := k.Bytes() // 0x04 || X || Y, each 32 bytes
		if err != nil {
			return nil, err
		}
		return map[string]string{"kty": "EC", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:])}, nil
	case ed25519.PublicKey:
		return map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(k)}, nil
	}
	return nil, fmt.Errorf("unsupported public key %T", pub)
}

// thumbprint is the RFC 7638 JWK thumbprint: SHA-256 of the required
// members in lexical order, base64url.
func thumbprint(jwk map[string]string) string {
	var names []string
	switch jwk["kty"] {
	case "EC":
		names = []string{"crv", "kty", "x", "y"}
	case "OKP":
		names = []string{"crv", "kty", "x"}
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		v, _ := json.Marshal(jwk[n])
		parts[i] = fmt.Sprintf("%q:%s", n, v)
	}
	sum := sha256.Sum256([]byte("{" + strings.Join(parts, ",") + "}"))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
