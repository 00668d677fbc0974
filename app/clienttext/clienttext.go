// Package clienttext makes text a client sent (a user agent, a client
// name, an admin's name typed into a form) fit to store and to show:
// valid UTF-8, as PostgreSQL requires (SQLite would hand the bytes back to
// JSON encoders that mangle them), and without the characters that
// change how the rest displays: C0 and C1 controls (PostgreSQL refuses
// NUL), line and paragraph separators, and bidirectional controls (an
// "op\u202e" would show as "op" and not be found by a search for "op").
package clienttext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Clean is s as valid UTF-8 without display-changing characters.
func Clean(s string) string {
	if utf8.ValidString(s) && strings.IndexFunc(s, invisible) < 0 {
		return s // the usual case: no copy
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if invisible(r) {
			return -1
		}
		return r
	}, s)
}

// Clip is Clean(s) cut to at most n characters.
func Clip(s string, n int) string {
	s = Clean(s)
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n])
	}
	return s
}

func invisible(r rune) bool {
	switch {
	case unicode.IsControl(r): // C0, DEL, C1
		return true
	case r == '\u2028' || r == '\u2029': // line and paragraph separators
		return true
	case r == '\u061c' || r == '\u200e' || r == '\u200f': // bidi marks
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069': // bidi embeddings, overrides, isolates
		return true
	}
	return false
}
