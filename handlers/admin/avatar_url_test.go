package admin_test

import (
	"testing"

	"github.com/miniauth/miniauth/handlers/admin"
)

// TestSafeAvatarURLIsTheAPIRule: the panel renders exactly what the API
// accepts (avatars.CheckURL); a percent-encoded path would otherwise make
// the admin's signed-in browser fetch another page of the panel.
func TestSafeAvatarURLIsTheAPIRule(t *testing.T) {
	for raw, want := range map[string]string{
		"/uploads/%2e%2e/admin/users.csv":                        "",
		"/uploads/avatars/%2e%2e/%2e%2e/admin/users.csv":         "",
		"/uploads/avatars/a.png?x=/admin/users.csv":              "",
		"/uploads/admin.png":                                     "",
		"javascript:alert(1)":                                    "",
		"/uploads/avatars/0123456789abcdef0123456789abcdef.webp": "/uploads/avatars/0123456789abcdef0123456789abcdef.webp",
		"https://example.com/a.png":                              "https://example.com/a.png",
	} {
		if got := admin.SafeAvatarURL(raw); got != want {
			t.Errorf("SafeAvatarURL(%q) = %q, want %q", raw, got, want)
		}
	}
}
