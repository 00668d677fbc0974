package tokens

import (
	"encoding/base64"
	"encoding/json"
	"strconv"

	"github.com/golang-jwt/jwt/v5"
)

// Every login and refresh signs an access token, and jwt.Token's way (a
// header map and the claims through encoding/json's reflection, each
// then copied into base64) made a sixth of a login's allocations. sign
// writes the same two JSON objects by hand, in encoding/json's key order,
// and signs with the same jwt.SigningMethod. A string that would need an
// escape (never one miniauth makes; perhaps an AppID or a role name an
// operator chose) goes through encoding/json, so the JSON is always what
// it would have been. decode.go reads it back.

// sign returns the compact JWS of c (and, for an access token, roles:
// [] when nil) signed by method with key, naming kid in the header when
// set.
func sign(method jwt.SigningMethod, kid string, key any, c *Claims, access bool, roles []string) (string, error) {
	header := make([]byte, 0, 64)
	header = append(header, `{"alg":`...)
	header = appendString(header, method.Alg())
	if kid != "" {
		header = append(header, `,"kid":`...)
		header = appendString(header, kid)
	}
	header = append(header, `,"typ":"JWT"}`...)

	claims := appendClaims(make([]byte, 0, 320), c, access, roles)

	enc := base64.RawURLEncoding
	out := make([]byte, 0, enc.EncodedLen(len(header))+enc.EncodedLen(len(claims))+128)
	out = enc.AppendEncode(out, header)
	out = append(out, '.')
	out = enc.AppendEncode(out, claims)
	sig, err := method.Sign(string(out), key)
	if err != nil {
		return "", err
	}
	out = append(out, '.')
	out = enc.AppendEncode(out, sig)
	return string(out), nil
}

// appendClaims appends c as encoding/json writes Claims (AccessClaims
// when access): RegisteredClaims' keys first, empty ones left out.
func appendClaims(b []byte, c *Claims, access bool, roles []string) []byte {
	b = append(b, '{')
	field := func(key string) {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, key...)
		b = append(b, `":`...)
	}
	str := func(key, v string) {
		if v != "" {
			field(key)
			b = appendString(b, v)
		}
	}
	date := func(key string, d *jwt.NumericDate) {
		if d != nil {
			field(key)
			b = strconv.AppendInt(b, d.Unix(), 10) // whole seconds, as jwt.TimePrecision says
		}
	}
	r := &c.RegisteredClaims
	str("iss", r.Issuer)
	str("sub", r.Subject)
	if len(r.Audience) > 0 {
		field("aud")
		b = appendStrings(b, r.Audience)
	}
	date("exp", r.ExpiresAt)
	date("nbf", r.NotBefore)
	date("iat", r.IssuedAt)
	str("jti", r.ID)
	field("sid")
	b = strconv.AppendInt(b, int64(c.SessionID), 10)
	str("sno", c.SessionNonce)
	field("typ")
	b = appendString(b, c.Type)
	str("app", c.App)
	if access {
		field("roles")
		b = appendStrings(b, roles)
	}
	return append(b, '}')
}

// appendStrings appends a JSON array of ss ([] when empty).
func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString appends s as a JSON string: as is when no character
// needs escaping, else as encoding/json writes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
