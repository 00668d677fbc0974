package admins

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// TOTP parameters (RFC 6238 with the defaults every authenticator app
// supports: SHA-1, 6 digits, 30-second steps).
const (
	TOTPDigits    = 6
	TOTPPeriod    = 30 * time.Second
	TOTPSkew      = 1 // steps accepted either side of now, for clock drift
	TOTPSecretLen = 20
	TOTPIssuer    = "miniauth"
)

// totpStep is the RFC 6238 time step of t.
func totpStep(t time.Time) int64 { return t.Unix() / int64(TOTPPeriod/time.Second) }

// TOTPCode is the code of a secret at time step (RFC 4226 HOTP of the
// step counter, dynamically truncated).
func TOTPCode(secret []byte, step int64) string {
	m := hmac.New(sha1.New, secret)
	m.Write(binary.BigEndian.AppendUint64(nil, uint64(step)))
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", TOTPDigits, bin%1_000_000)
}

// TOTPCodeAt is the code of a secret at time t.
func TOTPCodeAt(secret []byte, t time.Time) string { return TOTPCode(secret, totpStep(t)) }

// matchTOTP returns the step (within ±TOTPSkew of now) whose code is
// code, comparing in constant time, or false.
func matchTOTP(secret []byte, code string, now time.Time) (int64, bool) {
	code = normalizeCode(code)
	if len(code) != TOTPDigits {
		return 0, false
	}
	step := totpStep(now)
	found, at := false, int64(0)
	for d := int64(-TOTPSkew); d <= TOTPSkew; d++ {
		if hmac.Equal([]byte(TOTPCode(secret, step+d)), []byte(code)) && !found {
			found, at = true, step+d
		}
	}
	return at, found
}

// normalizeCode drops the spaces and dashes people type inside codes.
func normalizeCode(code string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(code)))
}

var base32NoPad = base32.StdEncoding.WithPadding(base32.NoPadding)

// EncodeSecret is a secret as authenticator apps take it (base32).
func EncodeSecret(secret []byte) string { return base32NoPad.EncodeToString(secret) }

// TOTPURI is the otpauth:// URI that authenticator apps read from a QR
// code (Google Authenticator's key URI format).
func TOTPURI(username string, secret []byte) string {
	v := url.Values{}
	v.Set("secret", EncodeSecret(secret))
	v.Set("issuer", TOTPIssuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", fmt.Sprint(TOTPDigits))
	v.Set("period", fmt.Sprint(int(TOTPPeriod/time.Second)))
	label := url.PathEscape(TOTPIssuer + ":" + username)
	return "otpauth://totp/" + label + "?" + v.Encode()
}
