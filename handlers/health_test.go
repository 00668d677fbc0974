package handlers_test

// GET /healthz and the API's unknown URLs.

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		r := env.Do(t, apptest.Request{Method: "GET", Path: "/healthz"})
		if r.Status != http.StatusOK || string(bytes.TrimSpace(r.Body)) != `{"status":"ok"}` {
			t.Fatalf("healthz: %d %s", r.Status, r.Body)
		}
		// Unknown URLs are 404 in the contract's shape, also under /api
		// (the bearer check is mounted on its groups only).
		for _, p := range []string{"/nope", "/api/nope", "/api/auth/nope"} {
			apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: p}), http.StatusNotFound, "not_found")
		}
	})
}
