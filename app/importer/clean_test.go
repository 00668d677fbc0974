package importer

import (
	"strings"
	"testing"
	"time"
)

func TestCleanNickname(t *testing.T) {
	for in, want := range map[string]string{
		"小明":                           "小明",
		"  张伟😀 ":                       "张伟😀",
		"a\x00b\x1fc\x7fd\u0085e":      "abcde",
		"李\u202e娜\u2066":               "李娜",
		"👨‍👩‍👧":                        "👨‍👩‍👧",
		"bad\xffutf8":                  "badutf8",
		strings.Repeat("长", 65):        strings.Repeat("长", 64),
		strings.Repeat("a", 63) + " b": strings.Repeat("a", 63),
		"":                             "",
	} {
		if got := cleanNickname(in); got != want {
			t.Errorf("cleanNickname(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCleanPhone(t *testing.T) {
	for _, c := range []struct{ in, phone, cc string }{
		{"+8613800138000", "13800138000", "86"},
		{"+86 138-0013-8000", "13800138000", "86"},
		{"008613800138000", "13800138000", "86"},
		{"8613800138000", "13800138000", "86"},
		{"13800138000", "13800138000", "86"},
		{"(0086) 138 0013 8000", "13800138000", "86"},
		{"+1 (415) 555-0100", "+14155550100", ""},
		{"00852 9123 4567", "+85291234567", ""},
		{"91234567", "91234567", ""},
	} {
		p, cc, ok := cleanPhone(c.in)
		if !ok || p != c.phone || cc != c.cc {
			t.Errorf("cleanPhone(%q) = %q %q %v, want %q %q", c.in, p, cc, ok, c.phone, c.cc)
		}
	}
	for _, bad := range []string{"", "  ", "not a phone", "+", "12", "+0123456"} {
		if p, _, ok := cleanPhone(bad); ok {
			t.Errorf("cleanPhone(%q) = %q, want none", bad, p)
		}
	}
}

func TestPickAvatar(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", 1024)
	for _, c := range []struct {
		in      []string
		want    string
		dropped bool
	}{
		{[]string{"https://thirdwx.qlogo.cn/a/132"}, "https://thirdwx.qlogo.cn/a/132", false},
		{[]string{"", "https://b.example/x.png"}, "https://b.example/x.png", false},
		{[]string{"http://a.example/x.png"}, "", true},
		{[]string{"cloud://env-id.7465-env/avatar.jpg", "https://b.example/x.png"}, "https://b.example/x.png", false},
		{[]string{long}, "", true},
		{[]string{"/uploads/avatars/abc.png"}, "", true},
		{[]string{"https://a.example/x y.png"}, "", true},
		{nil, "", false},
	} {
		got, dropped := pickAvatar(c.in...)
		if got != c.want || dropped != c.dropped {
			t.Errorf("pickAvatar(%q) = %q %v, want %q %v", c.in, got, dropped, c.want, c.dropped)
		}
	}
}

func TestTimes(t *testing.T) {
	if got, _ := objectIDTime("5f1a2b3c4d5e6f7a8b9c0d1e"); !got.Equal(time.Unix(0x5f1a2b3c, 0)) {
		t.Errorf("objectIDTime = %v", got)
	}
	if _, ok := objectIDTime("d8ab3c1e2f0a4b5c6d7e8f9a0b1c2d3e"); ok { // tencent's 32-character ids hold no time
		t.Error("a 32-character id gave a time")
	}
	for raw, want := range map[string]time.Time{
		`1600000000000`:                             time.UnixMilli(1600000000000),
		`1600000000`:                                time.Unix(1600000000, 0),
		`{"$date":"2020-09-13T12:26:40.000Z"}`:      time.Unix(1600000000, 0),
		`{"$date":1600000000000}`:                   time.UnixMilli(1600000000000),
		`{"$date":{"$numberLong":"1600000000000"}}`: time.UnixMilli(1600000000000),
	} {
		if got := mongoTime([]byte(raw)); !got.Equal(want) {
			t.Errorf("mongoTime(%s) = %v, want %v", raw, got, want)
		}
	}
}
