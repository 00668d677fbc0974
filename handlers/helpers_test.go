package handlers_test

import (
	"bytes"
	"compress/gzip"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
)

// The JSON API's end-to-end tests run the real server (app/apptest) on
// both databases. These are the short names they use for apptest's
// checks (app/helpers_test.go has the same for app's tests).

const testJWTSecret = apptest.JWTSecret

const loginPath = "/api/auth/login"

// sqliteOnly is for tests that never reach the database's write path, or
// only check what does not depend on it.
var sqliteOnly = apptest.Backends()[0]

var (
	start              = apptest.Start
	fragments          = apptest.Fragments
	errorFields        = apptest.ErrorFields
	expectUnauthorized = apptest.ExpectUnauthorized
	grantOf            = apptest.GrantOf
)

func startOn(t *testing.T, b apptest.Backend, env map[string]string) *apptest.Env {
	t.Helper()
	return apptest.StartOn(t, b, env)
}

func me(t *testing.T, env *apptest.Env, token string) *apptest.Response {
	t.Helper()
	return env.Me(t, token)
}

func refresh(t *testing.T, env *apptest.Env, token string) *apptest.Response {
	t.Helper()
	return env.Refresh(t, token)
}

func userCount(t *testing.T, env *apptest.Env) int {
	t.Helper()
	return env.UserCount(t)
}

// post is a goroutine-safe request (apptest.Do may call t.Fatal).
func post(env *apptest.Env, path string, body any) (int, []byte, error) {
	return env.Post(path, body)
}

func uploadAvatar(t *testing.T, env *apptest.Env, token string, image []byte) string {
	t.Helper()
	return env.UploadAvatar(t, token, image)
}

func accessLogIP(t *testing.T, env *apptest.Env, requestID, method, path string, status int) string {
	t.Helper()
	return env.AccessLogIP(t, requestID, method, path, status)
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
