// Package keys holds the server secret and the keys derived from it.
//
// One secret (configured, or generated once and kept in the data dir) yields
// independent keys for user tokens, admin tokens, sealing WeChat session
// keys at rest and sealing the asymmetric signing keys kept in the
// database (ring.go), so that no key ever serves two purposes.
package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SecretFile is the name of the generated secret inside the data dir.
const SecretFile = "jwt_secret"

// Set is the keys derived from the server secret.
type Set struct {
	UserToken  []byte // HS256 key of API access tokens
	AdminToken []byte // HS256 key of admin panel tokens
	seal       cipher.AEAD
	keySeal    cipher.AEAD // private signing keys at rest (ring.go)
}

// Load derives the key set from configured (if not empty) or from the
// secret kept in dataDir, generating it on first use.
//
// A configured value "base64:<text>" is decoded first, so that instances
// can share the secret a single server generated:
// MINIAUTH_JWT_SECRET=base64:$(cat data/jwt_secret).
func Load(configured, dataDir string) (*Set, error) {
	secret := []byte(configured)
	if text, ok := strings.CutPrefix(configured, "base64:"); ok {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
		if err != nil {
			return nil, errors.New("MINIAUTH_JWT_SECRET: the text after base64: is not valid base64")
		}
		secret = raw
	}
	if configured == "" {
		var err error
		if secret, err = loadOrCreate(filepath.Join(dataDir, SecretFile)); err != nil {
			return nil, err
		}
	}
	return Derive(secret)
}

// Derive computes the key set from a secret.
func Derive(secret []byte) (*Set, error) {
	if len(secret) < 32 {
		return nil, errors.New("MINIAUTH_JWT_SECRET: the secret must be at least 32 bytes")
	}
	aead, err := newAEAD(derive(secret, "miniauth session_key seal v1"))
	if err != nil {
		return nil, err
	}
	keySeal, err := newAEAD(derive(secret, "miniauth signing key seal v1"))
	if err != nil {
		return nil, err
	}
	return &Set{
		UserToken:  derive(secret, "miniauth user access token v1"),
		AdminToken: derive(secret, "miniauth admin token v1"),
		seal:       aead,
		keySeal:    keySeal,
	}, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealKey encrypts a private signing key for the database, bound to its
// kid: a sealed key copied onto another row does not open.
func (s *Set) sealKey(der []byte, kid string) []byte {
	nonce := make([]byte, s.keySeal.NonceSize())
	rand.Read(nonce)
	return s.keySeal.Seal(nonce, nonce, der, []byte(kid))
}

// openKey reverses sealKey.
func (s *Set) openKey(sealed []byte, kid string) ([]byte, error) {
	n := s.keySeal.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed key too short")
	}
	return s.keySeal.Open(nil, sealed[:n], sealed[n:], []byte(kid))
}

func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// Seal encrypts and authenticates plain for storage.
func (s *Set) Seal(plain []byte) []byte {
	nonce := make([]byte, s.seal.NonceSize())
	rand.Read(nonce)
	return s.seal.Seal(nonce, nonce, plain, nil)
}

// Open reverses Seal.
func (s *Set) Open(sealed []byte) ([]byte, error) {
	n := s.seal.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed value too short")
	}
	return s.seal.Open(nil, sealed[:n], sealed[n:], nil)
}

// loadOrCreate reads the secret file, or creates it with mode 0600. O_EXCL
// makes two processes starting at once agree on one secret.
func loadOrCreate(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		return decodeSecret(path, b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("MINIAUTH_JWT_SECRET: read %s: %v", path, err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	encoded := base64.StdEncoding.EncodeToString(raw) + "\n"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("MINIAUTH_JWT_SECRET: read %s: %v", path, err)
		}
		return decodeSecret(path, b)
	}
	if err != nil {
		return nil, fmt.Errorf("MINIAUTH_JWT_SECRET: create %s: %v", path, err)
	}
	if _, err := f.WriteString(encoded); err != nil {
		f.Close()
		return nil, fmt.Errorf("MINIAUTH_JWT_SECRET: write %s: %v", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("MINIAUTH_JWT_SECRET: sync %s: %v", path, err)
	}
	return raw, f.Close()
}

func decodeSecret(path string, b []byte) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(raw) < 32 {
		return nil, fmt.Errorf("MINIAUTH_JWT_SECRET: %s is not a base64 secret of 32 bytes or more", path)
	}
	return raw, nil
}
