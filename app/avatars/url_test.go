package avatars

import (
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	ok := []string{
		"https://example.com/a.png",
		"https://thirdwx.qlogo.cn/mmopen/vi_32/abc%2Fdef/132",
		"/uploads/avatars/0123456789abcdef0123456789abcdef.png",
		"/uploads/avatars/legacy_name-1.jpg",
		"/uploads/avatars/x.webp",
	}
	bad := []string{
		"/uploads/%2e%2e/admin/users.csv",
		"/uploads/avatars/%2e%2e/%2e%2e/admin/users.csv",
		"/uploads/avatars/a%2fb.png",
		"/uploads/avatars/../../admin/users.csv",
		"/uploads/avatars/./a.png",
		"/uploads/avatars/a.png?download=1",
		"/uploads/avatars/a.png#x",
		"/uploads/avatars/a.png/",
		"/uploads/avatars//a.png",
		"/uploads/avatars/a.PNG",
		"/uploads/avatars/a.gif",
		"/uploads/avatars/a.png.csv",
		"/uploads/avatars/.png",
		"/uploads/a.png",
		"/uploads/avatars/a b.png",
		"/uploads/avatars/a\\b.png",
		"/admin/users.csv",
		"//evil.example/a.png",
		"http://example.com/a.png",
		"javascript:alert(1)",
		"https:/example.com/a.png",
		"https://u:p@example.com/a.png",
		"https://example.com/\u202ea.png",
		"https://example.com/" + strings.Repeat("a", MaxURL),
		"a.png",
	}
	for _, s := range ok {
		if msg := CheckURL(s); msg != "" {
			t.Errorf("CheckURL(%q) = %q, want accepted", s, msg)
		}
		if DisplayURL(s) != s {
			t.Errorf("DisplayURL(%q) = %q", s, DisplayURL(s))
		}
	}
	for _, s := range bad {
		if CheckURL(s) == "" {
			t.Errorf("CheckURL(%q) accepted it", s)
		}
		if got := DisplayURL(s); got != "" {
			t.Errorf("DisplayURL(%q) = %q, want nothing rendered", s, got)
		}
	}
}
