package handlers

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/problem"
)

var known = []string{"code", "nickname", "gender"}

func TestParseBody(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		ok   bool
	}{
		{"object", `{"code":"abc","gender":1}`, true},
		{"empty object", `{}`, true},
		{"surrounding whitespace", " \n\t{\"code\":\"a\"}\r\n ", true},
		{"null field value", `{"code":null}`, true}, // refused later, per field
		{"empty", ``, false},
		{"whitespace only", `   `, false},
		{"null", `null`, false},
		{"array", `[]`, false},
		{"string", `"x"`, false},
		{"number", `1`, false},
		{"truncated", `{"code":"a"`, false},
		{"trailing comma", `{"code":"a",}`, false},
		{"single quotes", `{'code':'a'}`, false},
		{"two objects", `{}{}`, false},
		{"object then garbage", `{} x`, false},
		{"object then null", `{} null`, false},
		{"unknown field", `{"code":"a","admin":true}`, false},
		{"field differing in case", `{"Code":"a"}`, false},
		{"nested unknown", `{"code":{"x":1}}`, true}, // a wrong type, refused per field
		{"BOM", "\ufeff{}", false},
	}
	for _, c := range cases {
		b, err := parseBody([]byte(c.raw), known...)
		if c.ok {
			if err != nil || b == nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if problem.CodeOf(err) != problem.InvalidRequest {
			t.Errorf("%s: code %s, want invalid_request", c.name, problem.CodeOf(err))
		}
	}
	_, err := parseBody([]byte(`{"`+strings.Repeat("k", 10000)+`":1}`), known...)
	if p, _ := problem.As(err); p == nil || len(p.Message) > 200 {
		t.Errorf("a huge unknown field name must be refused with a short message: %v", err)
	}
}

func TestBodyFields(t *testing.T) {
	parse := func(raw string) *Body {
		t.Helper()
		b, err := parseBody([]byte(raw), "s", "n")
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		return b
	}
	strs := []struct {
		raw  string
		want *string
		bad  bool
	}{
		{`{}`, nil, false},
		{`{"s":"x"}`, ptr("x"), false},
		{`{"s":""}`, ptr(""), false},
		{`{"s":"\u00e9\ud83d\ude00"}`, ptr("é😀"), false},
		{`{"s":null}`, nil, true},
		{`{"s":1}`, nil, true},
		{`{"s":true}`, nil, true},
		{`{"s":["x"]}`, nil, true},
		{`{"s":{"x":1}}`, nil, true},
	}
	for _, c := range strs {
		b := parse(c.raw)
		got := b.String("s")
		if (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
			t.Errorf("String(%s) = %v, want %v", c.raw, deref(got), deref(c.want))
		}
		if bad := b.Err(nil) != nil; bad != c.bad {
			t.Errorf("String(%s): bad = %v, want %v", c.raw, bad, c.bad)
		}
	}
	ints := []struct {
		raw  string
		want *int
		bad  bool
	}{
		{`{}`, nil, false},
		{`{"n":0}`, iptr(0), false},
		{`{"n":2}`, iptr(2), false},
		{`{"n":-7}`, iptr(-7), false},
		{`{"n":2147483647}`, iptr(2147483647), false},
		{`{"n":2147483648}`, nil, true},
		{`{"n":-2147483649}`, nil, true},
		{`{"n":99999999999999999999999}`, nil, true},
		{`{"n":1.5}`, nil, true},
		{`{"n":1.0}`, nil, true},
		{`{"n":1e2}`, nil, true},
		{`{"n":"1"}`, nil, true},
		{`{"n":" 1"}`, nil, true},
		{`{"n":""}`, nil, true},
		{`{"n":true}`, nil, true},
		{`{"n":null}`, nil, true},
		{`{"n":[1]}`, nil, true},
	}
	for _, c := range ints {
		b := parse(c.raw)
		got := b.Int("n")
		if (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
			t.Errorf("Int(%s) = %v, want %v", c.raw, ideref(got), ideref(c.want))
		}
		err := b.Err(nil)
		if bad := err != nil; bad != c.bad {
			t.Errorf("Int(%s): bad = %v, want %v", c.raw, bad, c.bad)
		}
		if err != nil {
			if p, _ := problem.As(err); p.Code != problem.ValidationFailed || p.Fields["n"] == "" {
				t.Errorf("Int(%s): error %+v must be validation_failed naming n", c.raw, p)
			}
		}
	}

	b := parse(`{}`)
	if _, err := b.RequiredString("s"); problem.CodeOf(err) != problem.InvalidRequest {
		t.Errorf("missing required field: %v", err)
	}
	for _, raw := range []string{`{"s":""}`, `{"s":null}`, `{"s":3}`} {
		b := parse(raw)
		if _, err := b.RequiredString("s"); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if p, _ := problem.As(b.Err(nil)); p == nil || p.Fields["s"] == "" {
			t.Errorf("RequiredString(%s) must mark s invalid", raw)
		}
	}
	b = parse(`{"s":"v"}`)
	if s, err := b.RequiredString("s"); err != nil || s != "v" || b.Err(nil) != nil {
		t.Errorf("RequiredString: %q %v %v", s, err, b.Err(nil))
	}
	// Domain checks merge in; a field's first complaint wins.
	b = parse(`{"s":1}`)
	b.String("s")
	p, _ := problem.As(b.Err(map[string]string{"s": "other", "n": "too big"}))
	if p == nil || p.Fields["s"] != "must be a string" || p.Fields["n"] != "too big" {
		t.Errorf("merged fields: %+v", p)
	}
}

func ptr(s string) *string { return &s }
func iptr(n int) *int      { return &n }
func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}
func ideref(n *int) any {
	if n == nil {
		return nil
	}
	return *n
}

// readBodyApp is a Fiber app whose one route answers with the fields
// ReadBody decoded, or the contract error.
func readBodyApp() *fiber.App {
	app := fiber.New(fiber.Config{ErrorHandler: ErrorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)), nil), BodyLimit: 4 << 20})
	app.Post("/", func(c *fiber.Ctx) error {
		b, err := ReadBody(c, "code")
		if err != nil {
			return err
		}
		code, err := b.RequiredString("code")
		if err != nil {
			return err
		}
		return c.JSON(fiber.Map{"code_len": len(code)})
	})
	return app
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// object is a {"code":"aaa…"} body of exactly n bytes.
func object(n int) []byte {
	return []byte(`{"code":"` + strings.Repeat("a", n-len(`{"code":""}`)) + `"}`)
}

func TestReadBody(t *testing.T) {
	app := readBodyApp()
	cases := []struct {
		name     string
		body     []byte
		ctype    string
		encoding string
		status   int
		code     string
	}{
		{"json", object(100), "application/json", "", 200, ""},
		{"json with charset", object(100), "application/json; charset=utf-8", "", 200, ""},
		{"json type in capitals", object(100), "Application/JSON", "", 200, ""},
		{"exactly 1 MiB", object(MaxJSONBody), "application/json", "", 200, ""},
		{"1 MiB and a byte", object(MaxJSONBody + 1), "application/json", "", 413, "request_too_large"},
		{"no content type", object(100), "", "", 400, "invalid_request"},
		{"text/plain", object(100), "text/plain", "", 400, "invalid_request"},
		{"json-like type", object(100), "application/json-patch+json", "", 400, "invalid_request"},
		{"form", []byte("code=x"), "application/x-www-form-urlencoded", "", 400, "invalid_request"},
		{"identity encoding", object(100), "application/json", "identity", 200, ""},
		{"gzip", gz(t, object(100)), "application/json", "gzip", 200, ""},
		{"x-gzip", gz(t, object(100)), "application/json", "x-gzip", 200, ""},
		{"gzip inflating to exactly 1 MiB", gz(t, object(MaxJSONBody)), "application/json", "gzip", 200, ""},
		{"gzip inflating past 1 MiB", gz(t, object(MaxJSONBody+1)), "application/json", "gzip", 413, "request_too_large"},
		{"gzip bomb", gz(t, object(8<<20)), "application/json", "gzip", 413, "request_too_large"},
		{"gzip declared, plain sent", object(100), "application/json", "gzip", 400, "invalid_request"},
		{"truncated gzip", gz(t, object(1000))[:30], "application/json", "gzip", 400, "invalid_request"},
		{"deflate", object(100), "application/json", "deflate", 400, "invalid_request"},
		{"brotli", object(100), "application/json", "br", 400, "invalid_request"},
		{"stacked encodings", gz(t, gz(t, object(100))), "application/json", "gzip, gzip", 400, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/", bytes.NewReader(c.body))
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			if c.encoding != "" {
				req.Header.Set("Content-Encoding", c.encoding)
			}
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %.200s", resp.StatusCode, c.status, body)
			}
			var m struct {
				Error struct{ Code string } `json:"error"`
			}
			json.Unmarshal(body, &m)
			if m.Error.Code != c.code {
				t.Errorf("code %q, want %q: %.200s", m.Error.Code, c.code, body)
			}
		})
	}
}

// FuzzParseBody: any bytes give a *Body or invalid_request, never a panic;
// an accepted body is one JSON object with known keys only, and reading
// its fields gives values or validation_failed.
func FuzzParseBody(f *testing.F) {
	for _, s := range []string{
		`{"code":"abc","nickname":"😀","gender":1}`, `{}`, `null`, `[]`, `{"code":null}`, `{"gender":"1"}`,
		`{"gender":1e999}`, `{"gender":-0}`, `{"code":"a"} {}`, `{"x":1}`, `{"code":"\ud800"}`, "{\"code\":\"\xff\"}",
		`{"code":"a","code":"b"}`, `{"nickname":{"a":[1,2,{"b":null}]}}`, strings.Repeat("[", 10000), `{"gender":9223372036854775808}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := parseBody(raw, known...)
		if err != nil {
			if b != nil {
				t.Fatal("both a body and an error")
			}
			if p, ok := problem.As(err); !ok || p.Code != problem.InvalidRequest || Status(p.Code) != 400 {
				t.Fatalf("error %v is not invalid_request", err)
			}
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("accepted invalid JSON %q", raw)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			t.Fatalf("accepted something other than one object: %q", raw)
		}
		for k := range obj {
			if k != "code" && k != "nickname" && k != "gender" {
				t.Fatalf("accepted unknown key %q", k)
			}
		}
		b.String("code")
		b.String("nickname")
		if n := b.Int("gender"); n != nil {
			var want int64
			if err := json.Unmarshal(obj["gender"], &want); err != nil || int64(*n) != want {
				t.Fatalf("gender %d from %s", *n, obj["gender"])
			}
		}
		if err := b.Err(nil); err != nil {
			if p, _ := problem.As(err); p == nil || p.Code != problem.ValidationFailed || len(p.Fields) == 0 {
				t.Fatalf("field error %v is not validation_failed with fields", err)
			}
		}
	})
}
