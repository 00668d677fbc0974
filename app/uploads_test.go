package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/avatars/avatartest"
	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/ent/upload"
)

// uploadAvatar uploads an image as the user's avatar and returns its URL.
func uploadAvatar(t *testing.T, env *apptest.Env, token string, image []byte) string {
	t.Helper()
	return env.UploadAvatar(t, token, image)
}

func avatarDirOf(env *apptest.Env) string { return filepath.Join(env.DataDir, "uploads", "avatars") }

func putAvatar(t *testing.T, env *apptest.Env, token, url string) *apptest.Response {
	return env.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: token, Body: map[string]any{"avatar_url": url}})
}

// TestAvatarFilesBelongToTheirUploader: a user may show only a /uploads/
// file they uploaded (PUT and login, 100 attempts at once); an upload the
// user stops showing is erased; closing the account erases every file the
// user uploaded, whatever avatar_url says.
func TestAvatarFilesBelongToTheirUploader(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		alice, bob := env.Login(t, "o_uploader_alice"), env.Login(t, "o_uploader_bob")
		first := uploadAvatar(t, env, alice.AccessToken, avatartest.PNG(t, 1))

		// Bob cannot show Alice's file, nor a file no one uploaded.
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				url := first
				if i%2 == 1 {
					url = "/uploads/avatars/" + strings.Repeat("0", 32) + ".png"
				}
				r := putAvatar(t, env, bob.AccessToken, url)
				if r.Status != 400 || r.ErrorCode() != "validation_failed" || errorFields(t, r)["avatar_url"] == "" {
					t.Errorf("Bob set avatar_url %s: %d %s", url, r.Status, r.Body)
				}
			})
		}
		wg.Wait()
		r := env.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: map[string]any{
			"code": env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_uploader_bob"}), "avatar_url": first}})
		apptest.Expect(t, r, 400, "validation_failed")
		if u := me(t, env, bob.AccessToken).JSON(t); u["avatar_url"] != "" {
			t.Fatalf("Bob's avatar_url became %v", u["avatar_url"])
		}

		// Alice can, at login and with PUT.
		g := env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_uploader_alice"}), "avatar_url": first})
		if g.User["avatar_url"] != first {
			t.Fatalf("Alice's login with her own file: avatar_url %v", g.User["avatar_url"])
		}
		if r := putAvatar(t, env, alice.AccessToken, first); r.Status != 200 {
			t.Fatalf("Alice set her own file: %d %s", r.Status, r.Body)
		}

		// An upload Alice no longer shows is erased at once.
		if r := putAvatar(t, env, alice.AccessToken, "https://example.com/alice.png"); r.Status != 200 {
			t.Fatalf("put https: %d %s", r.Status, r.Body)
		}
		apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: first}), 404, "not_found")

		// Closing the account erases her current upload and one she
		// uploaded but does not show (left by a crash after the commit).
		current := uploadAvatar(t, env, alice.AccessToken, avatartest.JPEG(t, 2))
		hidden := strings.Repeat("ab", 16) + ".png"
		if err := os.WriteFile(filepath.Join(avatarDirOf(env), hidden), avatartest.PNG(t, 3), 0o600); err != nil {
			t.Fatal(err)
		}
		env.Server.DB.Write.Upload.Create().SetName(hidden).SetUserID(alice.UserID()).ExecX(context.Background())
		if r := putAvatar(t, env, alice.AccessToken, "https://example.com/alice2.png"); r.Status != 200 {
			t.Fatalf("put https: %d %s", r.Status, r.Body)
		}
		bobs := uploadAvatar(t, env, bob.AccessToken, avatartest.PNG(t, 4))
		if r := env.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me", Token: alice.AccessToken}); r.Status != 204 {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		for _, url := range []string{current, "/uploads/avatars/" + hidden} {
			apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: url}), 404, "not_found")
		}
		if files := avatartest.Files(t, avatarDirOf(env)); len(files) != 1 || "/uploads/avatars/"+files[0] != bobs {
			t.Fatalf("files left: %v, want only Bob's %s", files, bobs)
		}
		if n := env.Server.DB.Read.Upload.Query().CountX(context.Background()); n != 1 {
			t.Fatalf("%d upload records, want Bob's only", n)
		}
	})
}

// TestAvatarSweep: at start-up (and then periodically) files no one uses
// are removed: temporary and unrecorded files a crash left, and uploads no
// longer shown. A file from before uploads were recorded that a user shows
// is recorded as theirs; recent files (maybe still committing) and files
// that are not avatars stay.
func TestAvatarSweep(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		o := apptest.Options{DataDir: t.TempDir(), DatabaseURL: b.URL(t)}
		env := start(t, o)
		ctx := context.Background()
		alice, bob := env.Login(t, "o_sweep_alice"), env.Login(t, "o_sweep_bob")
		shown := uploadAvatar(t, env, alice.AccessToken, avatartest.PNG(t, 1))
		dir := avatarDirOf(env)
		name := func(c string) string { return strings.Repeat(c, 32) + ".png" }
		env.Server.DB.Write.User.UpdateOneID(bob.UserID()).SetAvatarURL("/uploads/avatars/" + name("2")).ExecX(ctx)
		env.Server.DB.Write.Upload.Create().SetName(name("3")).SetUserID(alice.UserID()).ExecX(ctx)
		env.Stop()

		plant := func(n string, age time.Duration) {
			p := filepath.Join(dir, n)
			if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			when := time.Now().Add(-age)
			os.Chtimes(p, when, when)
		}
		old := 2 * profiles.AvatarSweepGrace
		plant(".upload-1234", old) // crash while writing
		plant(name("1"), old)      // crash before the commit
		plant(name("2"), old)      // before uploads were recorded, Bob shows it
		plant(name("3"), old)      // recorded, but its owner shows another
		plant(name("4"), 0)        // maybe an upload committing right now
		plant("notes.txt", old)    // not an avatar: not ours

		env = start(t, o)
		want := []string{filepath.Base(shown), name("2"), name("4"), "notes.txt"}
		slices.Sort(want)
		apptest.Eventually(t, 30*time.Second, "files after start-up", func() (bool, string) {
			files := avatartest.Files(t, dir)
			slices.Sort(files)
			return slices.Equal(files, want), fmt.Sprintf("%v, want %v", files, want)
		})
		rec, err := env.Server.DB.Read.Upload.Query().Where(upload.Name(name("2"))).Only(ctx)
		if err != nil || rec.UserID != bob.UserID() {
			t.Fatalf("the file Bob shows was not recorded as his: %v %v", rec, err)
		}
		if r := env.Do(t, apptest.Request{Method: "GET", Path: shown}); r.Status != 200 {
			t.Fatalf("the avatar in use: %d", r.Status)
		}

		// The periodic sweep is the same function: Bob moves on, and his
		// adopted file goes with the next one.
		if r := putAvatar(t, env, bob.AccessToken, "https://example.com/bob.png"); r.Status != 200 {
			t.Fatalf("put: %d %s", r.Status, r.Body)
		}
		if n, err := env.Server.Profiles.SweepAvatars(ctx, time.Now().Add(-profiles.AvatarSweepGrace)); err != nil || n != 0 {
			// releaseAvatar already removed it when Bob moved on.
			t.Fatalf("sweep: %d %v", n, err)
		}
		if files := avatartest.Files(t, dir); slices.Contains(files, name("2")) {
			t.Fatalf("Bob's former avatar is still stored: %v", files)
		}
	})
}

// TestAvatarReleaseRacesSettingItAgain: 100 requests at once switch a
// user's avatar between their upload and an https URL. Each switch away
// erases the upload, so later switches back are refused, but the user
// never ends up showing a file that is gone.
func TestAvatarReleaseRacesSettingItAgain(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		g := env.Login(t, "o_avatar_race")
		mine := uploadAvatar(t, env, g.AccessToken, avatartest.PNG(t, 9))
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				url := mine
				if i%2 == 1 {
					url = "https://example.com/elsewhere.png"
				}
				r := putAvatar(t, env, g.AccessToken, url)
				if r.Status != 200 && (url != mine || r.ErrorCode() != "validation_failed") {
					t.Errorf("PUT %s: %d %s", url, r.Status, r.Body)
				}
			})
		}
		wg.Wait()
		shown := me(t, env, g.AccessToken).JSON(t)["avatar_url"]
		r := env.Do(t, apptest.Request{Method: "GET", Path: mine})
		if shown == mine && r.Status != 200 {
			t.Fatalf("the user shows %s, which is gone (%d)", mine, r.Status)
		}
		if shown != mine && r.Status != 404 {
			t.Fatalf("the user shows %v; their former upload is still served (%d)", shown, r.Status)
		}
	})
}
