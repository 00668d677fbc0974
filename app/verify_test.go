package app_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/keys"
	"github.com/miniauth/miniauth/app/tokens/tokentest"
	"github.com/miniauth/miniauth/ent/session"
)

const verifyPath = "/api/auth/verify"

// sessionOf is the id of the only session of a user.
func sessionOf(t *testing.T, env *apptest.Env, userID int) int {
	t.Helper()
	id, err := env.Server.DB.Read.Session.Query().Where(session.UserID(userID)).OnlyID(context.Background())
	if err != nil {
		t.Fatalf("session of user %d: %v", userID, err)
	}
	return id
}

// expectVerified fails unless r is verify's 200: empty body, the ids in
// headers, nothing about the user beyond them.
func expectVerified(t *testing.T, r *apptest.Response, userID, sessionID int) {
	t.Helper()
	if r.Status != http.StatusOK || len(r.Body) != 0 {
		t.Fatalf("verify: %d %q, want 200 with an empty body", r.Status, r.Body)
	}
	if got := r.Header.Get("X-Miniauth-User-Id"); got != strconv.Itoa(userID) {
		t.Errorf("X-Miniauth-User-Id = %q, want %d", got, userID)
	}
	if got := r.Header.Get("X-Miniauth-Session-Id"); got != strconv.Itoa(sessionID) {
		t.Errorf("X-Miniauth-Session-Id = %q, want %d", got, sessionID)
	}
	for k := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-miniauth-") && k != "X-Miniauth-User-Id" && k != "X-Miniauth-Session-Id" && k != "X-Miniauth-Roles" {
			t.Errorf("verify answered an extra header %s", k)
		}
	}
}

func verify(t *testing.T, env *apptest.Env, method, token string) *apptest.Response {
	t.Helper()
	return env.Do(t, apptest.Request{Method: method, Path: verifyPath, Token: token})
}

// TestVerify: a live token passes with any method; every kind of dead,
// bad or misplaced token is refused with the contract's 401.
func TestVerify(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, map[string]string{"MINIAUTH_JWT_SECRET": testJWTSecret})
		alice := env.Login(t, "o_verify_alice")
		sid := sessionOf(t, env, alice.UserID())
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			expectVerified(t, verify(t, env, m, alice.AccessToken), alice.UserID(), sid)
		}
		// Another path spelling Fiber routes here.
		expectVerified(t, env.Do(t, apptest.Request{Method: "GET", Path: "/API/Auth/Verify/", Token: alice.AccessToken}), alice.UserID(), sid)

		ks, err := keys.Derive([]byte(testJWTSecret))
		if err != nil {
			t.Fatal(err)
		}
		expired := tokentest.Forge{Key: ks.UserToken, Sub: strconv.Itoa(alice.UserID()), SID: sid}.Claims()
		expired["exp"] = time.Now().Add(-time.Minute).Unix()
		forgedLive := tokentest.Forge{Sub: strconv.Itoa(alice.UserID()), SID: sid}.Claims()
		refused := map[string]apptest.Request{
			"no token":      {},
			"garbage":       {Header: map[string]string{"Authorization": "Bearer not.a.token"}},
			"basic scheme":  {Header: map[string]string{"Authorization": "Basic " + alice.AccessToken}},
			"bare token":    {Header: map[string]string{"Authorization": alice.AccessToken}},
			"refresh token": {Token: alice.RefreshToken},
			"expired":       {Token: tokentest.Sign(t, jwt.SigningMethodHS256, ks.UserToken, expired, nil)},
			"wrong key":     {Token: tokentest.Sign(t, jwt.SigningMethodHS256, []byte(testJWTSecret), forgedLive, nil)},
			// Only the Authorization header is read: a token in the query
			// string ends up in logs, one in a cookie invites CSRF.
			"query":  {Path: verifyPath + "?access_token=" + alice.AccessToken + "&token=" + alice.AccessToken},
			"cookie": {Header: map[string]string{"Cookie": "access_token=" + alice.AccessToken + "; token=" + alice.AccessToken + "; jwt=" + alice.AccessToken}},
		}
		for name, req := range refused {
			for _, m := range []string{"GET", "POST"} {
				req.Method = m
				if req.Path == "" {
					req.Path = verifyPath
				}
				r := env.Do(t, req)
				t.Run(name+"/"+m, func(t *testing.T) {
					expectUnauthorized(t, r)
					if r.Header.Get("X-Miniauth-User-Id") != "" || r.Header.Get("X-Miniauth-Session-Id") != "" {
						t.Errorf("a refusal carries the user's ids: %v", r.Header)
					}
				})
			}
		}

		// Revocations take effect at once.
		bob := env.Login(t, "o_verify_bob")
		carol := env.Login(t, "o_verify_carol")
		dave := env.Login(t, "o_verify_dave")
		if r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/logout", Token: alice.AccessToken}); r.Status != http.StatusNoContent {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
		expectUnauthorized(t, verify(t, env, "GET", alice.AccessToken))
		if err := env.Server.Profiles.SetDisabled(context.Background(), bob.UserID(), true); err != nil {
			t.Fatal(err)
		}
		expectUnauthorized(t, verify(t, env, "GET", bob.AccessToken))
		if r := env.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me", Token: carol.AccessToken}); r.Status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		expectUnauthorized(t, verify(t, env, "GET", carol.AccessToken))
		// A bystander is untouched.
		expectVerified(t, verify(t, env, "GET", dave.AccessToken), dave.UserID(), sessionOf(t, env, dave.UserID()))
	})
}

// TestVerifyConcurrent fires live and revoked tokens at verify at once:
// each gets its own answer.
func TestVerifyConcurrent(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		const users = 10
		type login struct {
			token     string
			user, sid int
			loggedOut bool
		}
		var logins []login
		for i := range users {
			g := env.Login(t, fmt.Sprintf("o_verify_many_%d", i))
			l := login{token: g.AccessToken, user: g.UserID(), sid: sessionOf(t, env, g.UserID()), loggedOut: i%2 == 1}
			if l.loggedOut {
				if r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/logout", Token: g.AccessToken}); r.Status != http.StatusNoContent {
					t.Fatalf("logout: %d", r.Status)
				}
			}
			logins = append(logins, l)
		}
		var wg sync.WaitGroup
		errs := make(chan string, 100)
		for i := range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l := logins[i%users]
				req, _ := http.NewRequest("GET", env.URL+verifyPath, nil)
				req.Header.Set("Authorization", "Bearer "+l.token)
				resp, err := env.HTTP.Do(req)
				if err != nil {
					errs <- err.Error()
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case l.loggedOut && resp.StatusCode != http.StatusUnauthorized:
					errs <- fmt.Sprintf("logged-out user %d: %d", l.user, resp.StatusCode)
				case !l.loggedOut && (resp.StatusCode != http.StatusOK || len(body) != 0 ||
					resp.Header.Get("X-Miniauth-User-Id") != strconv.Itoa(l.user) ||
					resp.Header.Get("X-Miniauth-Session-Id") != strconv.Itoa(l.sid)):
					errs <- fmt.Sprintf("user %d: %d %q user %q session %q", l.user, resp.StatusCode, body,
						resp.Header.Get("X-Miniauth-User-Id"), resp.Header.Get("X-Miniauth-Session-Id"))
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
	})
}

// rawRequest writes head (and whatever part of a body follows it) on a
// new connection and reads the answer. The deadline only keeps a broken
// server from hanging the test.
func rawRequest(t *testing.T, env *apptest.Env, head string) *apptest.Response {
	t.Helper()
	r, err := tryRawRequest(env, head)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func tryRawRequest(env *apptest.Env, head string) (*apptest.Response, error) {
	conn, err := net.Dial("tcp", strings.TrimPrefix(env.URL, "http://"))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, fmt.Errorf("no answer: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// TestVerifyReadsNoBody: verify answers a request that announces a body
// with the JSON 413 before the body arrives (the client here never sends
// the rest; a server that waited for it would time out instead), so a
// hostile client cannot make it buffer megabytes. The cap is verify's
// alone: other routes still take their bodies.
func TestVerifyReadsNoBody(t *testing.T) {
	t.Parallel()
	env := startOn(t, sqliteOnly, nil)
	g := env.Login(t, "o_verify_body")
	auth := "Authorization: Bearer " + g.AccessToken + "\r\n"
	for _, path := range []string{verifyPath, "/API/AUTH/VERIFY", verifyPath + "/", verifyPath + "?x=1"} {
		for _, framing := range []string{"Content-Length: 1048576\r\n\r\n{\"a\":\"", "Transfer-Encoding: chunked\r\n\r\n100000\r\n{\"a\":\""} {
			r := rawRequest(t, env, "POST "+path+" HTTP/1.1\r\nHost: miniauth\r\n"+auth+framing)
			apptest.Expect(t, r, http.StatusRequestEntityTooLarge, "request_too_large")
		}
	}
	// Without a body (what proxies send), and with an empty one.
	for _, framing := range []string{"", "Content-Length: 0\r\n"} {
		r := rawRequest(t, env, "POST "+verifyPath+" HTTP/1.1\r\nHost: miniauth\r\nConnection: close\r\n"+auth+framing+"\r\n")
		expectVerified(t, r, g.UserID(), sessionOf(t, env, g.UserID()))
	}
	// A route that reads a body still gets a big one.
	big := `{"nickname":"padded"}` + strings.Repeat(" ", 512<<10)
	r := rawRequest(t, env, fmt.Sprintf("PUT /api/me HTTP/1.1\r\nHost: miniauth\r\nConnection: close\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s", auth, len(big), big))
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"nickname":"padded"`) {
		t.Fatalf("PUT /api/me with a 512 KiB body: %d %s", r.Status, r.Body)
	}
}

// TestVerifyBodyCapConcurrent: many clients announcing bodies at once all
// get the 413, and live requests mixed in still pass.
func TestVerifyBodyCapConcurrent(t *testing.T) {
	t.Parallel()
	env := startOn(t, sqliteOnly, nil)
	g := env.Login(t, "o_verify_body_many")
	sid := sessionOf(t, env, g.UserID())
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			head := "POST " + verifyPath + " HTTP/1.1\r\nHost: miniauth\r\nConnection: close\r\nAuthorization: Bearer " + g.AccessToken + "\r\n"
			if i%2 == 0 {
				r, err := tryRawRequest(env, head+"Content-Length: 4194304\r\n\r\nxyz")
				if err != nil {
					t.Error(err)
					return
				}
				if r.Status != http.StatusRequestEntityTooLarge || r.ErrorCode() != "request_too_large" {
					t.Errorf("with a body: %d %s", r.Status, r.Body)
				}
				return
			}
			r, err := tryRawRequest(env, head+"\r\n")
			if err != nil {
				t.Error(err)
				return
			}
			if r.Status != http.StatusOK || r.Header.Get("X-Miniauth-Session-Id") != strconv.Itoa(sid) {
				t.Errorf("without a body: %d %s", r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
}

// nginx's auth_request repeats the client's method, whatever its name:
// verify answers WebDAV's and made-up ones like GET (Fiber alone answers
// them 400, which nginx turns into a 500), and the access log keeps the
// real name.
func TestVerifyAnswersAnyMethodName(t *testing.T) {
	t.Parallel()
	env := start(t, apptest.Options{})
	alice := env.Login(t, "o_verify_webdav")
	sid := sessionOf(t, env, alice.UserID())
	methods := []string{"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH",
		"MKCALENDAR", "ACL", "BIND", "X-MADE-UP"}
	for _, m := range methods {
		expectVerified(t, verify(t, env, m, alice.AccessToken), alice.UserID(), sid)
		expectUnauthorized(t, verify(t, env, m, ""))
		r := env.Do(t, apptest.Request{Method: m, Path: "/API/auth/verify/", Token: alice.AccessToken})
		expectVerified(t, r, alice.UserID(), sid)
	}
	if !strings.Contains(env.Logs.String(), `"method":"PROPFIND"`) {
		t.Error("the access log does not show the method the client sent")
	}
	// Elsewhere an unknown method is still refused, and is never a 500.
	if r := env.Do(t, apptest.Request{Method: "PROPFIND", Path: "/api/me", Token: alice.AccessToken}); r.Status >= 500 || r.Status == 200 {
		t.Errorf("PROPFIND /api/me: %d %s", r.Status, r.Body)
	}
}
