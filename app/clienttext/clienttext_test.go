package clienttext

import "testing"

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"Mozilla/5.0 (iPhone) MicroMessenger/8.0": "Mozilla/5.0 (iPhone) MicroMessenger/8.0",
		"微信 客户端":                                  "微信 客户端",
		"bad\xff\xfeutf8":                         "bad\uFFFDutf8",
		"a\x00b\tc\nd\x1be\x7ff\u0085g":           "abcdefg",
		"line\u2028para\u2029":                    "linepara",
		"op\u202e\u2066\u2069\u200e\u200f\u061c":  "op",
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClipCountsCharacters(t *testing.T) {
	for in, want := range map[string]string{
		"abcdefghij-long": "abcdefghij",
		"一二三四五六七八九十百":     "一二三四五六七八九十",
		"short":           "short",
		"\u202eabc\xff":   "abc\uFFFD",
	} {
		if got := Clip(in, 10); got != want {
			t.Errorf("Clip(%q, 10) = %q, want %q", in, got, want)
		}
	}
}
