package tokens

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// claimsOf is the JSON payload of a signed token.
func claimsOf(t testing.TB, tok string) []byte {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signedClaims are payloads exactly as miniauth signs them.
func signedClaims(t testing.TB) [][]byte {
	s := &Signer{Kind: Access, Key: []byte("user-key-0123456789abcdef-0123456789abcdef"), TTL: time.Hour}
	var out [][]byte
	for _, x := range []Extra{{}, {App: "wx0123456789abcdef"}, {App: "wx1", Roles: []string{"staff", "beta"}}} {
		tok, _, err := s.SignWith(42, 7, NewSessionNonce(), x)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, claimsOf(t, tok))
	}
	return out
}

// standard decodes as encoding/json alone would.
func standard(b []byte) (AccessClaims, error) {
	type plain AccessClaims
	var c AccessClaims
	err := json.Unmarshal(b, (*plain)(&c))
	return c, err
}

// The claims miniauth signs take the fast path: if the signer's output
// changed shape (a new claim, an escape), this fails instead of every
// request quietly going back to reflection.
func TestSignedClaimsTakeTheFastPath(t *testing.T) {
	for _, b := range signedClaims(t) {
		var fast AccessClaims
		if !decodeAccess(b, &fast) {
			t.Fatalf("fast path refused miniauth's own claims %s", b)
		}
		want, err := standard(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Errorf("claims %s:\nfast     %+v\nstandard %+v", b, fast, want)
		}
	}
}

// Whatever the input, UnmarshalJSON agrees with encoding/json: the same
// claims or an error in both.
func TestClaimsDecodeAsEncodingJSON(t *testing.T) {
	for _, b := range claimCorpus(t) {
		checkSameDecode(t, b)
	}
}

func checkSameDecode(t *testing.T, b []byte) {
	t.Helper()
	want, wantErr := standard(b)
	var got AccessClaims
	gotErr := json.Unmarshal(b, &got)
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, encoding/json says %v", b, gotErr, wantErr)
	}
	if gotErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\ngot      %+v\nstandard %+v", b, got, want)
	}
}

func claimCorpus(t testing.TB) [][]byte {
	corpus := signedClaims(t)
	for _, s := range []string{
		`{}`, ` { } `, `{"sub":"1"}`,
		`{"iss":"miniauth","sub":"42","aud":["miniauth-api"],"exp":1800000000,"iat":1700000000,"jti":"j","sid":7,"sno":"n","typ":"access","roles":[]}`,
		`{ "sub" : "42" , "sid" : 7 , "aud" : "miniauth-api" , "roles" : [ "a" , "b" ] }`,
		`{"aud":[]}`, `{"aud":null}`, `{"roles":null}`, `{"sid":null}`, `{"exp":null}`,
		`{"exp":1.5}`, `{"exp":17e8}`, `{"exp":1E9}`, `{"exp":-1}`, `{"sid":-7}`, `{"sid":7.0}`,
		`{"exp":1234567890123456789}`, `{"sid":99999999999999999999}`, `{"exp":0}`,
		`{"sub":"\u0034\u0032"}`, `{"sub":"a\"b"}`, `{"app":"微信"}`, `{"app":"\xff"}`,
		`{"SUB":"42"}`, `{"Sub":"42","sub":"43"}`, `{"sub":"1","sub":"2"}`,
		`{"sub":42}`, `{"sid":"7"}`, `{"roles":"a"}`, `{"roles":[1]}`, `{"aud":[1]}`,
		`{"aud":["a",null]}`, `{"extra":{"x":[1,2]}}`, `{"sub":"1","extra":true}`,
		`{"exp":true}`, `[]`, `"x"`, `null`, `{"sub":"1"} `, `{"sub":"1"`, `{"sub":"1",}`,
		`{"nbf":1700000000,"iat":1700000001}`, "{\"sub\":\"1\"\n}",
	} {
		corpus = append(corpus, []byte(s))
	}
	return corpus
}

// FuzzAccessClaims runs the corpus with go test, and looks further with
// go test -fuzz=FuzzAccessClaims ./app/tokens.
func FuzzAccessClaims(f *testing.F) {
	for _, b := range claimCorpus(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkSameDecode(t, b) })
}

func BenchmarkAccessClaimsDecode(b *testing.B) {
	payload := signedClaims(b)[2]
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			var c AccessClaims
			if err := json.Unmarshal(payload, &c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			if _, err := standard(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
}
