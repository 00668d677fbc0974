package tokens

import (
	"encoding/json"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Every authenticated request decodes its access token's claims, and
// encoding/json's reflection was a fifth of a GET /api/me's CPU. The
// claims miniauth signs are a flat object of known keys, plain strings
// and whole numbers: decodeAccess reads exactly that shape and gives up
// on anything else (an escape in a string, a fraction, null, an unknown
// or repeated key, a very long number), which then goes to encoding/json
// as before. So any input decodes as encoding/json would decode it; the
// fast path only ever sees what encoding/json has already checked is
// valid JSON (json.Unmarshal does that before it calls UnmarshalJSON).

// UnmarshalJSON decodes access token claims (see decodeAccess).
func (c *AccessClaims) UnmarshalJSON(b []byte) error {
	fast := *c // keys the JSON lacks keep their values, as with encoding/json
	if decodeAccess(b, &fast) {
		*c = fast
		return nil
	}
	type plain AccessClaims // without this method
	return json.Unmarshal(b, (*plain)(c))
}

// maxDigits keeps whole numbers exact in float64, as encoding/json reads
// NumericDate.
const maxDigits = 15

// decodeAccess reads b, valid JSON, into c when it has the shape
// described above, and reports whether it did.
func decodeAccess(b []byte, c *AccessClaims) bool {
	d := decoder{b: b}
	if !d.byte('{') {
		return false
	}
	if d.byte('}') {
		return d.end()
	}
	var seen uint16
	for {
		key, ok := d.plainString()
		if !ok || !d.byte(':') {
			return false
		}
		bit, ok := claimBits[string(key)]
		if !ok || seen&bit != 0 {
			return false // unknown (or differently cased) or repeated: encoding/json decides
		}
		seen |= bit
		if !d.value(string(key), c) {
			return false
		}
		if d.byte('}') {
			return d.end()
		}
		if !d.byte(',') {
			return false
		}
	}
}

var claimBits = map[string]uint16{
	"iss": 1 << 0, "sub": 1 << 1, "aud": 1 << 2, "exp": 1 << 3, "nbf": 1 << 4, "iat": 1 << 5,
	"jti": 1 << 6, "sid": 1 << 7, "sno": 1 << 8, "typ": 1 << 9, "app": 1 << 10, "roles": 1 << 11,
}

// value reads the value of key into c.
func (d *decoder) value(key string, c *AccessClaims) bool {
	switch key {
	case "iss":
		return d.stringInto(&c.Issuer)
	case "sub":
		return d.stringInto(&c.Subject)
	case "jti":
		return d.stringInto(&c.ID)
	case "sno":
		return d.stringInto(&c.SessionNonce)
	case "typ":
		return d.stringInto(&c.Type)
	case "app":
		return d.stringInto(&c.App)
	case "exp":
		return d.dateInto(&c.ExpiresAt)
	case "nbf":
		return d.dateInto(&c.NotBefore)
	case "iat":
		return d.dateInto(&c.IssuedAt)
	case "sid":
		n, ok := d.wholeNumber()
		c.SessionID = int(n)
		return ok
	case "aud":
		if d.peek() == '"' {
			var s string
			ok := d.stringInto(&s)
			c.Audience = jwt.ClaimStrings{s}
			return ok
		}
		list, ok := d.stringArray()
		if len(list) == 0 {
			list = nil // as jwt.ClaimStrings decodes []
		}
		c.Audience = list
		return ok
	case "roles":
		list, ok := d.stringArray()
		c.Roles = list
		return ok
	}
	return false
}

// stringInto reads a plain string into p. On false, what p holds does
// not matter: encoding/json decodes the whole object again.
func (d *decoder) stringInto(p *string) bool {
	s, ok := d.plainString()
	*p = string(s)
	return ok
}

// dateInto reads a NumericDate of whole seconds into p.
func (d *decoder) dateInto(p **jwt.NumericDate) bool {
	n, ok := d.wholeNumber()
	*p = jwt.NewNumericDate(time.Unix(n, 0))
	return ok
}

// decoder walks valid JSON.
type decoder struct {
	b []byte
	i int
}

func (d *decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) peek() byte {
	d.space()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// byte consumes c if it comes next.
func (d *decoder) byte(c byte) bool {
	if d.peek() != c {
		return false
	}
	d.i++
	return true
}

// end reports whether only white space is left.
func (d *decoder) end() bool {
	d.space()
	return d.i == len(d.b)
}

// plainString reads a string without escapes (with one: not plain).
// Valid JSON has no control characters in strings, and its UTF-8 is
// what encoding/json would keep, except invalid UTF-8, which it
// replaces: bytes of 0x80 and above are left to it too.
func (d *decoder) plainString() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	start := d.i
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			return s, true
		case c == '\\' || c >= 0x80:
			return nil, false
		}
		d.i++
	}
	return nil, false
}

// wholeNumber reads a non-negative integer of at most maxDigits digits.
func (d *decoder) wholeNumber() (int64, bool) {
	d.space()
	var n int64
	digits := 0
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		n = n*10 + int64(d.b[d.i]-'0')
		d.i++
		digits++
	}
	if digits == 0 || digits > maxDigits {
		return 0, false
	}
	// A fraction or an exponent: encoding/json's arithmetic decides.
	if d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		return 0, false
	}
	return n, true
}

// stringArray reads an array of plain strings ([] too).
func (d *decoder) stringArray() ([]string, bool) {
	if !d.byte('[') {
		return nil, false
	}
	list := []string{}
	if d.byte(']') {
		return list, true
	}
	for {
		s, ok := d.plainString()
		if !ok {
			return nil, false
		}
		list = append(list, string(s))
		if d.byte(']') {
			return list, true
		}
		if !d.byte(',') {
			return nil, false
		}
	}
}
