package handlers

import "testing"

// The body cap must cover every request-target Fiber routes to Verify
// (case-insensitive, trailing slash ignored) and no other route.
func TestIsVerifyPath(t *testing.T) {
	for uri, want := range map[string]bool{
		"/api/auth/verify":                         true,
		"/api/auth/verify/":                        true,
		"/API/Auth/VERIFY":                         true,
		"/api/auth/verify?x=1":                     true,
		"/api/auth/verify/?x=/y":                   true,
		"http://proxy.example/api/auth/verify":     true,
		"https://proxy.example/api/auth/verify?a=": true,
		"/api/auth/verify/x":                       false,
		"/api/auth/verifyx":                        false,
		"/api/auth/login":                          false,
		"/api/me":                                  false,
		"/x?/api/auth/verify":                      false,
		"http://api/auth/verify":                   false,
		"":                                         false,
		"*":                                        false,
	} {
		if got := isVerifyPath([]byte(uri)); got != want {
			t.Errorf("isVerifyPath(%q) = %v, want %v", uri, got, want)
		}
	}
}
