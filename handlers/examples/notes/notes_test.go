package notes_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app"
	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/handlers/examples/notes"
)

// start runs miniauth with the notes routes, as main.go would with
// cli.Main(notes.Routes()), on the backend's database.
func start(t *testing.T, b apptest.Backend) *apptest.Env {
	t.Helper()
	env := apptest.Start(t, apptest.Options{DatabaseURL: b.URL(t), Routes: []app.Routes{notes.Routes()}})
	if err := notes.CreateTable(context.Background(), env.Server.DB); err != nil {
		t.Fatal(err)
	}
	return env
}

func decode[T any](t *testing.T, r *apptest.Response, status int) T {
	t.Helper()
	var v T
	if r.Status != status {
		t.Fatalf("got %d, want %d: %s", r.Status, status, r.Body)
	}
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("%v: %s", err, r.Body)
	}
	return v
}

type list struct {
	Notes []notes.Note `json:"notes"`
}

// TestNotesBelongToTheirOwner: one user's notes are invisible to another,
// every route needs a live token, bad input gets the contract's errors.
func TestNotesBelongToTheirOwner(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := start(t, b)
		alice := env.Login(t, "o_notes_alice")
		bob := env.Login(t, "o_notes_bob")

		for _, r := range []apptest.Request{{Method: "GET", Path: "/api/notes"}, {Method: "POST", Path: "/api/notes", Body: map[string]any{"text": "x"}}, {Method: "GET", Path: "/api/notes/1"}} {
			apptest.Expect(t, env.Do(t, r), http.StatusUnauthorized, "unauthorized")
		}

		n := decode[notes.Note](t, env.Do(t, apptest.Request{Method: "POST", Path: "/api/notes", Token: alice.AccessToken, Body: map[string]any{"text": "buy milk"}}), http.StatusCreated)
		if n.ID <= 0 || n.Text != "buy milk" {
			t.Fatalf("created %+v", n)
		}
		path := fmt.Sprintf("/api/notes/%d", n.ID)
		if got := decode[notes.Note](t, env.Do(t, apptest.Request{Method: "GET", Path: path, Token: alice.AccessToken}), http.StatusOK); got != n {
			t.Errorf("alice reads %+v, want %+v", got, n)
		}
		if l := decode[list](t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/notes", Token: alice.AccessToken}), http.StatusOK); len(l.Notes) != 1 || l.Notes[0] != n {
			t.Errorf("alice's list: %+v", l.Notes)
		}

		// Bob cannot see, read or delete it: 404, as for a note that does
		// not exist.
		if l := decode[list](t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/notes", Token: bob.AccessToken}), http.StatusOK); len(l.Notes) != 0 {
			t.Errorf("bob's list shows %+v", l.Notes)
		}
		apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: path, Token: bob.AccessToken}), http.StatusNotFound, "not_found")
		apptest.Expect(t, env.Do(t, apptest.Request{Method: "DELETE", Path: path, Token: bob.AccessToken}), http.StatusNotFound, "not_found")
		if got := decode[notes.Note](t, env.Do(t, apptest.Request{Method: "GET", Path: path, Token: alice.AccessToken}), http.StatusOK); got != n {
			t.Errorf("after bob's delete alice reads %+v", got)
		}

		// Bad input.
		for _, c := range []struct {
			req    apptest.Request
			status int
			code   string
		}{
			{apptest.Request{Method: "POST", Body: map[string]any{}}, 400, "invalid_request"},
			{apptest.Request{Method: "POST", Body: map[string]any{"text": ""}}, 400, "validation_failed"},
			{apptest.Request{Method: "POST", Body: map[string]any{"text": strings.Repeat("字", notes.MaxText+1)}}, 400, "validation_failed"},
			{apptest.Request{Method: "POST", Body: map[string]any{"text": "x", "user_id": bob.UserID()}}, 400, "invalid_request"},
			{apptest.Request{Method: "POST", Body: `{"text":`}, 400, "invalid_request"},
			{apptest.Request{Method: "GET", Path: "/api/notes/abc"}, 404, "not_found"},
			{apptest.Request{Method: "GET", Path: "/api/notes/-1"}, 404, "not_found"},
			{apptest.Request{Method: "GET", Path: "/api/notes/99999999999999999999"}, 404, "not_found"},
		} {
			if c.req.Path == "" {
				c.req.Path = "/api/notes"
			}
			c.req.Token = alice.AccessToken
			apptest.Expect(t, env.Do(t, c.req), c.status, c.code)
		}

		// Deleting: the owner can, once.
		r := env.Do(t, apptest.Request{Method: "DELETE", Path: path, Token: alice.AccessToken})
		if r.Status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: path, Token: alice.AccessToken}), http.StatusNotFound, "not_found")

		// Logout ends access at once; closing the account erases the notes.
		env.Do(t, apptest.Request{Method: "POST", Path: "/api/notes", Token: bob.AccessToken, Body: map[string]any{"text": "bob's"}})
		if r := env.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me", Token: bob.AccessToken}); r.Status != http.StatusNoContent {
			t.Fatalf("close account: %d %s", r.Status, r.Body)
		}
		apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/notes", Token: bob.AccessToken}), http.StatusUnauthorized, "unauthorized")
		var left int
		if err := env.Server.DB.SQL.QueryRow("SELECT COUNT(*) FROM example_notes WHERE user_id = $1", bob.UserID()).Scan(&left); err != nil || left != 0 {
			t.Errorf("notes of a closed account: %d (%v)", left, err)
		}
	})
}

// TestNotesConcurrent: two users create 100 notes at once; each sees
// exactly their own.
func TestNotesConcurrent(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := start(t, b)
		users := []*apptest.Grant{env.Login(t, "o_notes_many_a"), env.Login(t, "o_notes_many_b")}
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := strings.NewReader(fmt.Sprintf(`{"text":"note %d"}`, i))
				req, _ := http.NewRequest("POST", env.URL+"/api/notes", body)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+users[i%2].AccessToken)
				resp, err := env.HTTP.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					t.Errorf("create %d: %d", i, resp.StatusCode)
				}
			}()
		}
		wg.Wait()
		for k, u := range users {
			l := decode[list](t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/notes", Token: u.AccessToken}), http.StatusOK)
			if len(l.Notes) != 50 {
				t.Errorf("user %d has %d notes, want 50", k, len(l.Notes))
			}
			for _, n := range l.Notes {
				var i int
				fmt.Sscanf(n.Text, "note %d", &i)
				if i%2 != k {
					t.Errorf("user %d sees %q, another user's", k, n.Text)
				}
			}
		}
	})
}
