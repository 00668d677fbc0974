package app

import (
	"testing"

	"github.com/gofiber/fiber/v2"
)

// A team's prefix must be a fixed path under /api/, outside miniauth's own.
func TestRoutesPrefixCheck(t *testing.T) {
	register := func(fiber.Router, *Server) {}
	for prefix, ok := range map[string]bool{
		"/api/notes":      true,
		"/api/shop/v1":    true,
		"/api/meals":      true, // shares a string prefix with /api/me only
		"/api/authors":    true,
		"":                false,
		"/api":            false,
		"/api/":           false,
		"/notes":          false,
		"/api/notes/":     false,
		"/api/notes/:id":  false,
		"/api/me":         false,
		"/api/ME/things":  false,
		"/api/auth":       false,
		"/api/auth/extra": false,
		"/api/wechat/pay": false,
	} {
		err := Routes{Prefix: prefix, Register: register}.check()
		if (err == nil) != ok {
			t.Errorf("prefix %q: error %v, want ok=%v", prefix, err, ok)
		}
	}
	if err := (Routes{Prefix: "/api/notes"}).check(); err == nil {
		t.Error("a nil Register was accepted")
	}
}
