package handlers

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/logins"
	"github.com/miniauth/miniauth/app/problem"
)

// MaxJSONBody is the largest JSON request body, before and after any
// Content-Encoding is undone.
const MaxJSONBody = 1 << 20

// Body is a JSON object request body whose fields are read one by one, so
// that unknown fields, nulls and wrong types each get a precise error.
type Body struct {
	fields map[string]json.RawMessage
	bad    map[string]string
}

// ReadBody reads the request as one JSON object whose keys must all be in
// known. It answers invalid_request for a wrong content type, malformed
// JSON or an unknown field, and request_too_large past MaxJSONBody.
func ReadBody(c *fiber.Ctx, known ...string) (*Body, error) {
	ct := strings.ToLower(strings.TrimSpace(strings.SplitN(c.Get(fiber.HeaderContentType), ";", 2)[0]))
	if ct != fiber.MIMEApplicationJSON {
		return nil, problem.New(problem.InvalidRequest, "Content-Type must be application/json")
	}
	raw, err := rawBody(c)
	if err != nil {
		return nil, err
	}
	return parseBody(raw, known...)
}

// parseBody is ReadBody's decoding, apart from HTTP.
func parseBody(raw []byte, known ...string) (*Body, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil {
		return nil, problem.New(problem.InvalidRequest, "body must be a JSON object")
	}
	if fields == nil {
		return nil, problem.New(problem.InvalidRequest, "body must be a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, problem.New(problem.InvalidRequest, "body must be a single JSON object")
	}
	allowed := map[string]bool{}
	for _, k := range known {
		allowed[k] = true
	}
	for k := range fields {
		if !allowed[k] {
			return nil, problem.New(problem.InvalidRequest, "unknown field %q", truncateField(k))
		}
	}
	return &Body{fields: fields, bad: map[string]string{}}, nil
}

func truncateField(k string) string {
	if len(k) > 64 {
		return k[:64] + "…"
	}
	return k
}

// rawBody returns the body with any gzip encoding undone, never inflating
// past MaxJSONBody (Fiber would inflate a gzip bomb without bound).
func rawBody(c *fiber.Ctx) ([]byte, error) {
	raw := c.Request().Body()
	if len(raw) > MaxJSONBody {
		return nil, problem.New(problem.RequestTooLarge, "request body is larger than 1 MiB")
	}
	switch enc := strings.ToLower(strings.TrimSpace(c.Get(fiber.HeaderContentEncoding))); enc {
	case "", "identity":
		return raw, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, problem.New(problem.InvalidRequest, "body is not valid gzip")
		}
		out, err := io.ReadAll(io.LimitReader(zr, MaxJSONBody+1))
		if err != nil {
			return nil, problem.New(problem.InvalidRequest, "body is not valid gzip")
		}
		if len(out) > MaxJSONBody {
			return nil, problem.New(problem.RequestTooLarge, "decompressed request body is larger than 1 MiB")
		}
		return out, nil
	default:
		return nil, problem.New(problem.InvalidRequest, "Content-Encoding %q is not supported", truncateField(enc))
	}
}

// Has reports whether the field was sent.
func (b *Body) Has(name string) bool {
	_, ok := b.fields[name]
	return ok
}

func (b *Body) present(name string) (json.RawMessage, bool) {
	v, ok := b.fields[name]
	if !ok {
		return nil, false
	}
	if string(bytes.TrimSpace(v)) == "null" {
		b.bad[name] = "must not be null"
		return nil, false
	}
	return v, true
}

// String reads an optional string field.
func (b *Body) String(name string) *string {
	v, ok := b.present(name)
	if !ok {
		return nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		b.bad[name] = "must be a string"
		return nil
	}
	return &s
}

// Int reads an optional integer field.
func (b *Body) Int(name string) *int {
	v, ok := b.present(name)
	if !ok {
		return nil
	}
	// json.Number would also take a quoted number ("1"): refuse strings.
	var n json.Number
	if v = bytes.TrimSpace(v); len(v) == 0 || v[0] == '"' || json.Unmarshal(v, &n) != nil {
		b.bad[name] = "must be an integer"
		return nil
	}
	i, err := n.Int64()
	if err != nil || i < -1<<31 || i > 1<<31-1 {
		b.bad[name] = "must be an integer"
		return nil
	}
	out := int(i)
	return &out
}

// RequiredString reads a string field that must be present and non-empty.
func (b *Body) RequiredString(name string) (string, error) {
	if !b.Has(name) {
		return "", problem.New(problem.InvalidRequest, "missing field %q", name)
	}
	s := b.String(name)
	if s != nil && *s == "" {
		b.bad[name] = "must not be empty"
	}
	if s == nil {
		return "", nil
	}
	return *s, nil
}

// requiredCode reads a required WeChat code (wx.login's or the phone
// button's), held to the domain's limit (logins.CheckCode).
func (b *Body) requiredCode(name string) (string, error) {
	code, err := b.RequiredString(name)
	if err == nil {
		b.check(name, logins.CheckCode(code))
	}
	return code, err
}

// check marks the field bad with msg, unless msg is "" (a domain check
// passed) or the field is already bad.
func (b *Body) check(name, msg string) {
	if _, dup := b.bad[name]; msg != "" && !dup {
		b.bad[name] = msg
	}
}

// Err is validation_failed naming every bad field, merged with extra
// (further domain checks), or nil.
func (b *Body) Err(extra map[string]string) error {
	for k, v := range extra {
		if _, dup := b.bad[k]; !dup {
			b.bad[k] = v
		}
	}
	if len(b.bad) == 0 {
		return nil
	}
	return problem.Invalid(b.bad)
}
