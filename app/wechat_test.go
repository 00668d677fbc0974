package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/avatars/avatartest"
	"github.com/miniauth/miniauth/app/wechat"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/ent/user"
)

// The WeChat end-to-end tests: phone binding, avatars, decryption, through
// the real server and a simulated WeChat (the API's are in api_test.go).

// --- phone number ---------------------------------------------------------

func bindPhone(t *testing.T, env *apptest.Env, token, code string) *apptest.Response {
	t.Helper()
	return env.Do(t, apptest.Request{Method: "POST", Path: "/api/me/phone", Token: token, Body: map[string]any{"code": code}})
}

// expectUser fails unless r is a 200 user object without any WeChat
// identifier in it.
func expectUser(t *testing.T, r *apptest.Response, absent ...string) map[string]any {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("got %d, want 200: %s", r.Status, r.Body)
	}
	for _, a := range append(absent, "openid", "unionid", "session_key") {
		if bytes.Contains(bytes.ToLower(r.Body), []byte(strings.ToLower(a))) {
			t.Fatalf("response contains %q: %s", a, r.Body)
		}
	}
	return r.JSON(t)
}

func TestPhoneBindingsShareOneAccessToken(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		id := wechatsim.Identity{OpenID: "o_phone_user", UnionID: "u_phone_user"}
		g := env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(id)})
		if n := env.WeChat.Calls(wechatsim.PathStableToken); n != 0 {
			t.Fatalf("login fetched an access token (%d calls): code2Session must not need one", n)
		}
		for i := range 5 {
			phone := fmt.Sprintf("1380013800%d", i)
			code := env.WeChat.NewPhoneCode(phone, "86")
			u := expectUser(t, bindPhone(t, env, g.AccessToken, code), id.OpenID, id.UnionID)
			if u["phone"] != phone {
				t.Fatalf("phone = %v, want %s", u["phone"], phone)
			}
			if got := env.WeChat.PhoneCodeOpenID(code); got != id.OpenID {
				t.Fatalf("getuserphonenumber got openid %q, want the user's", got)
			}
		}
		if n := env.WeChat.Calls(wechatsim.PathStableToken); n > 1 {
			t.Fatalf("five bindings cost %d stable_token calls, want at most 1", n)
		}
		u := expectUser(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}))
		if u["phone"] != "13800138004" {
			t.Fatalf("GET /api/me phone = %v", u["phone"])
		}
		row := env.Server.DB.Read.User.Query().Where(user.ID(g.UserID())).OnlyX(context.Background())
		if row.PhoneCountryCode != "86" {
			t.Fatalf("country code stored = %q", row.PhoneCountryCode)
		}

		// A foreign number, countryCode sent as a string this time.
		env.WeChat.CountryCodeAsString = true
		expectUser(t, bindPhone(t, env, g.AccessToken, env.WeChat.NewPhoneCode("5551234567", "1")))
		row = env.Server.DB.Read.User.Query().Where(user.ID(g.UserID())).OnlyX(context.Background())
		if row.Phone != "5551234567" || row.PhoneCountryCode != "1" {
			t.Fatalf("stored %q / %q", row.Phone, row.PhoneCountryCode)
		}
	})
}

func TestConcurrentPhoneBindingsFetchOneToken(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		const n = 8
		grants := make([]*apptest.Grant, n)
		for i := range grants {
			grants[i] = env.Login(t, fmt.Sprintf("o_concurrent_%d", i))
		}
		// A slow token endpoint makes every request arrive while the one
		// fetch is in flight.
		env.WeChat.Fail(wechatsim.PathStableToken, wechatsim.Failure{Delay: 300 * time.Millisecond})
		var wg sync.WaitGroup
		results := make([]*apptest.Response, n)
		for i := range n {
			wg.Go(func() {
				results[i] = bindPhone(t, env, grants[i].AccessToken, env.WeChat.NewPhoneCode(fmt.Sprintf("1390000000%d", i), "86"))
			})
		}
		wg.Wait()
		for i, r := range results {
			if r.Status != http.StatusOK {
				t.Fatalf("binding %d: %d %s", i, r.Status, r.Body)
			}
		}
		if calls := env.WeChat.Calls(wechatsim.PathStableToken); calls != 1 {
			t.Fatalf("%d concurrent bindings cost %d stable_token calls, want 1", n, calls)
		}
	})
}

func storedToken(t *testing.T, env *apptest.Env) string {
	t.Helper()
	store := &wechat.DBTokenStore{DB: env.Server.DB, Keys: env.Server.Keys}
	v, _, err := store.LoadToken(context.Background(), wechat.TokenName(apptest.AppID))
	if err != nil {
		t.Fatalf("stored token: %v", err)
	}
	return v
}

func TestInvalidatedTokenIsReplaced(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		g := env.Login(t, "o_invalidated")
		expectUser(t, bindPhone(t, env, g.AccessToken, env.WeChat.NewPhoneCode("13800000001", "86")))
		first := storedToken(t, env)

		env.WeChat.InvalidateToken() // e.g. someone force-refreshed it
		u := expectUser(t, bindPhone(t, env, g.AccessToken, env.WeChat.NewPhoneCode("13800000002", "86")))
		if u["phone"] != "13800000002" {
			t.Fatalf("phone = %v", u["phone"])
		}
		if n := env.WeChat.Calls(wechatsim.PathStableToken); n != 2 {
			t.Fatalf("stable_token calls = %d, want 2", n)
		}
		if n := env.WeChat.Calls(wechatsim.PathPhoneNumber); n != 3 {
			t.Fatalf("getuserphonenumber calls = %d, want 3 (one retried)", n)
		}
		if second := storedToken(t, env); second == first {
			t.Fatal("the database still holds the invalidated token")
		}
		if env.WeChat.ForceRefreshes() != 0 {
			t.Fatal("miniauth asked for force_refresh")
		}
	})
}

func TestRestartReusesStoredToken(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		o := apptest.Options{DataDir: t.TempDir(), DatabaseURL: b.URL(t), WeChat: apptest.NewWeChat(t)}
		env := start(t, o)
		g := env.Login(t, "o_restart")
		expectUser(t, bindPhone(t, env, g.AccessToken, env.WeChat.NewPhoneCode("13800000001", "86")))
		env.Stop()

		env = start(t, o)
		expectUser(t, bindPhone(t, env, g.AccessToken, env.WeChat.NewPhoneCode("13800000002", "86")))
		if n := env.WeChat.Calls(wechatsim.PathStableToken); n != 1 {
			t.Fatalf("stable_token calls = %d after a restart, want 1 (the stored token)", n)
		}
	})
}

func TestPhoneBindingFailures(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		// WeChat's deadline is short here, so the timeout case does not
		// wait out the real 5 s.
		env := startOn(t, b, map[string]string{"MINIAUTH_WECHAT_TIMEOUT": "400ms"})
		g := env.Login(t, "o_phone_failures")
		sim := env.WeChat
		used := sim.NewPhoneCode("13800000009", "86")
		expectUser(t, bindPhone(t, env, g.AccessToken, used))
		// Clear the phone so that every refusal below can be seen to
		// leave it alone.
		env.Server.DB.Write.User.UpdateOneID(g.UserID()).SetPhone("").ExecX(context.Background())
		// A write behind the service's back must tell the session cache.
		env.Server.Sessions.Cache.ForgetUser(g.UserID())

		fresh := func() string { return sim.NewPhoneCode("13800000000", "86") }
		cases := []struct {
			name   string
			script func()
			code   func() string
			status int
			err    string
		}{
			{"watermark of another app", func() { sim.WatermarkAppID = "wx_someone_else" }, fresh, 502, "wechat_unavailable"},
			{"40029 invalid code", func() { sim.Fail(wechatsim.PathPhoneNumber, wechatsim.Failure{ErrCode: 40029}) }, fresh, 401, "invalid_code"},
			{"unknown code", nil, func() string { return "no-such-phone-code" }, 401, "invalid_code"},
			{"code already used", nil, func() string { return used }, 401, "invalid_code"},
			{"-1 system busy", func() { sim.Fail(wechatsim.PathPhoneNumber, wechatsim.Failure{ErrCode: -1}) }, fresh, 502, "wechat_unavailable"},
			{"HTTP 500", func() { sim.Fail(wechatsim.PathPhoneNumber, wechatsim.Failure{Status: 500, Body: "oops"}) }, fresh, 502, "wechat_unavailable"},
			{"timeout", func() {
				sim.Fail(wechatsim.PathPhoneNumber, wechatsim.Failure{Delay: 2 * time.Second})
			}, fresh, 502, "wechat_unavailable"},
			{"45011 rate limit", func() { sim.Fail(wechatsim.PathPhoneNumber, wechatsim.Failure{ErrCode: 45011}) }, fresh, 429, "rate_limited"},
			{"token endpoint down", func() {
				sim.InvalidateToken()
				for range wechat.TokenAttempts {
					sim.Fail(wechatsim.PathStableToken, wechatsim.Failure{ErrCode: -1})
				}
			}, fresh, 502, "wechat_unavailable"},
		}
		for _, c := range cases {
			before := sim.Calls(wechatsim.PathPhoneNumber)
			sim.WatermarkAppID = ""
			if c.script != nil {
				c.script()
			}
			r := bindPhone(t, env, g.AccessToken, c.code())
			if r.Status != c.status || r.ErrorCode() != c.err {
				t.Fatalf("%s: got %d %s, want %d %s", c.name, r.Status, r.Body, c.status, c.err)
			}
			if c.status == 429 && r.Header.Get("Retry-After") == "" {
				t.Fatalf("%s: no Retry-After", c.name)
			}
			if calls := sim.Calls(wechatsim.PathPhoneNumber) - before; c.name == "-1 system busy" && calls != 1 {
				t.Fatalf("a single-use phone code was sent %d times", calls)
			}
		}
		sim.WatermarkAppID = ""
		u := expectUser(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}))
		if u["phone"] != "" {
			t.Fatalf("a refused binding stored a phone: %v", u["phone"])
		}

		// Bad requests never reach WeChat.
		before := sim.Calls(wechatsim.PathPhoneNumber)
		for _, c := range []struct {
			req    apptest.Request
			status int
			err    string
		}{
			{apptest.Request{Body: map[string]any{}}, 400, "invalid_request"},
			{apptest.Request{Body: map[string]any{"code": ""}}, 400, "validation_failed"},
			{apptest.Request{Body: map[string]any{"code": 86}}, 400, "validation_failed"},
			{apptest.Request{Body: map[string]any{"code": strings.Repeat("x", 600)}}, 400, "validation_failed"},
			{apptest.Request{Body: map[string]any{"code": "c", "openid": "o_someone_else"}}, 400, "invalid_request"},
			{apptest.Request{Body: "code=abc", Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 400, "invalid_request"},
			{apptest.Request{Body: map[string]any{"code": fresh()}, Token: "-"}, 401, "unauthorized"},
		} {
			c.req.Method, c.req.Path = "POST", "/api/me/phone"
			if c.req.Token == "" {
				c.req.Token = g.AccessToken
			} else {
				c.req.Token = ""
			}
			apptest.Expect(t, env.Do(t, c.req), c.status, c.err)
		}
		if n := sim.Calls(wechatsim.PathPhoneNumber); n != before {
			t.Fatalf("bad requests reached WeChat %d times", n-before)
		}
	})
}

// --- avatars --------------------------------------------------------------

// multipartBody is what wx.uploadFile sends: one file part (and maybe
// form fields), with the file name and part type the client chose.
func multipartBody(t testing.TB, field, filename, partType string, data []byte) ([]byte, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("purpose", "avatar")
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, field, filename))
	h.Set("Content-Type", partType)
	w, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

func postAvatar(t *testing.T, env *apptest.Env, token, filename, partType string, data []byte) *apptest.Response {
	t.Helper()
	body, ct := multipartBody(t, "file", filename, partType, data)
	return env.Do(t, apptest.Request{Method: "POST", Path: "/api/me/avatar", Token: token, Body: body, Header: map[string]string{"Content-Type": ct}})
}

// announceBody sends the headers of a multipart upload of size bytes and
// the body's first bytes, and reads the answer without sending the rest: a
// server that refuses on the Content-Length answers at once.
func announceBody(t *testing.T, env *apptest.Env, token string, size int) (int, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(env.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /api/me/avatar HTTP/1.1\r\nHost: miniauth\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: %d\r\n\r\n--xyz\r\n", token, size)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a %d-byte upload: %v", size, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func avatarDir(env *apptest.Env) string { return filepath.Join(env.DataDir, "uploads", "avatars") }

// avatarFiles lists every file in the avatar directory, temporary ones
// included.
func avatarFiles(t *testing.T, env *apptest.Env) []string { return avatartest.Files(t, avatarDir(env)) }

var avatarURL = regexp.MustCompile(`^/uploads/avatars/[0-9a-f]{32}\.(png|jpg|webp)$`)

func TestAvatarUploadAndServe(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		id := wechatsim.Identity{OpenID: "o_avatar", UnionID: "u_avatar"}
		g := env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(id)})
		var previous []string
		for _, c := range []struct {
			name, filename, partType string
			data                     []byte
			ext, contentType         string
		}{
			// File names and part types lie on purpose: only the bytes count.
			{"png", "tmp_avatar.jpeg", "application/octet-stream", avatartest.PNG(t, 1), "png", "image/png"},
			{"jpeg", "wxfile://tmp_1234.png", "image/png", avatartest.JPEG(t, 2), "jpg", "image/jpeg"},
			{"webp", "avatar", "text/plain", avatartest.WebP(), "webp", "image/webp"},
		} {
			u := expectUser(t, postAvatar(t, env, g.AccessToken, c.filename, c.partType, c.data), id.OpenID, id.UnionID)
			url, _ := u["avatar_url"].(string)
			if !avatarURL.MatchString(url) || !strings.HasSuffix(url, "."+c.ext) {
				t.Fatalf("%s: avatar_url %q", c.name, url)
			}
			r := env.Do(t, apptest.Request{Method: "GET", Path: url})
			if r.Status != 200 || !bytes.Equal(r.Body, c.data) {
				t.Fatalf("%s: GET %s: %d, %d bytes (sent %d)", c.name, url, r.Status, len(r.Body), len(c.data))
			}
			if got := r.Header.Get("Content-Type"); got != c.contentType {
				t.Fatalf("%s: Content-Type %q", c.name, got)
			}
			if r.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(r.Header.Get("Cache-Control"), "max-age=31536000") {
				t.Fatalf("%s: headers %v", c.name, r.Header)
			}
			// The replaced avatar is gone: one file, the current one.
			files := avatarFiles(t, env)
			if len(files) != 1 || "/uploads/avatars/"+files[0] != url {
				t.Fatalf("%s: files in the avatar dir: %v, want only %s", c.name, files, url)
			}
			for _, old := range previous {
				apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: old}), 404, "not_found")
			}
			previous = append(previous, url)
			me := expectUser(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}))
			if me["avatar_url"] != url {
				t.Fatalf("GET /api/me avatar_url = %v", me["avatar_url"])
			}
		}

		// Account deletion takes the file along.
		r := env.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me", Token: g.AccessToken})
		if r.Status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		if files := avatarFiles(t, env); len(files) != 0 {
			t.Fatalf("files left after account deletion: %v", files)
		}
	})
}

// TestServedAvatarsCarryNoMetadata: a phone photo's EXIF (GPS position
// included), XMP, comments and text chunks never reach the served file,
// and the image itself is served byte for byte as encoded.
func TestServedAvatarsCarryNoMetadata(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		g := env.Login(t, "o_avatar_metadata")
		jpegTagged, jpegPlain := avatartest.JPEGWithMetadata(t, 7)
		pngTagged, pngPlain := avatartest.PNGWithMetadata(t, 8)
		webpTagged, webpPlain := avatartest.WebPWithMetadata()
		for _, c := range []struct {
			name          string
			tagged, plain []byte
		}{{"jpeg", jpegTagged, jpegPlain}, {"png", pngTagged, pngPlain}, {"webp", webpTagged, webpPlain}} {
			url := expectUser(t, postAvatar(t, env, g.AccessToken, "photo", "image/jpeg", c.tagged))["avatar_url"].(string)
			r := env.Do(t, apptest.Request{Method: "GET", Path: url})
			if r.Status != 200 || !bytes.Equal(r.Body, c.plain) {
				t.Fatalf("%s: GET %s: %d, %d bytes; want the %d bytes without metadata", c.name, url, r.Status, len(r.Body), len(c.plain))
			}
			if bytes.Contains(r.Body, avatartest.GPSLatitude) || bytes.Contains(r.Body, []byte(avatartest.SecretText)) {
				t.Fatalf("%s: the served file holds the photo's metadata", c.name)
			}
		}
	})
}

func TestAvatarUploadsRefused(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		g := env.Login(t, "o_avatar_refused")
		do := func(body []byte, ct string) *apptest.Response {
			return env.Do(t, apptest.Request{Method: "POST", Path: "/api/me/avatar", Token: g.AccessToken, Body: body, Header: map[string]string{"Content-Type": ct}})
		}

		r := postAvatar(t, env, g.AccessToken, "avatar.png", "image/png", []byte("this is text, not a PNG\n"))
		apptest.Expect(t, r, 400, "validation_failed")
		if !bytes.Contains(r.Body, []byte(`"file"`)) {
			t.Fatalf("fields do not name the file: %s", r.Body)
		}
		if got := errorFields(t, r)["file"]; got != "must be a PNG, JPEG or WebP image" {
			t.Errorf("fields.file = %q", got)
		}
		r = postAvatar(t, env, g.AccessToken, "bomb.png", "image/png", avatartest.PNGHeader(20000, 20000))
		apptest.Expect(t, r, 400, "validation_failed")
		if got := errorFields(t, r)["file"]; !strings.Contains(got, "pixels") {
			t.Errorf("fields.file = %q, want the pixel limit", got)
		}
		apptest.Expect(t, postAvatar(t, env, g.AccessToken, "x.png", "image/png", nil), 400, "validation_failed")

		// A 3 MiB photo, sent whole as a client would: a clean JSON 413,
		// refused from its Content-Length (the connection closes gracefully,
		// so the client gets the answer instead of a reset).
		body, ct := multipartBody(t, "file", "big.jpg", "image/jpeg", append(avatartest.JPEG(t, 3), make([]byte, 3<<20)...))
		apptest.Expect(t, do(body, ct), 413, "request_too_large")
		// Just over 2 MiB: refused too.
		body, ct = multipartBody(t, "file", "big.png", "image/png", append(avatartest.PNG(t, 3), make([]byte, 2<<20)...))
		apptest.Expect(t, do(body, ct), 413, "request_too_large")
		// Past the transport's limit: refused on the Content-Length, before
		// the body is read or any handler runs.
		status, respBody := announceBody(t, env, g.AccessToken, 64<<20)
		if status != 413 || !bytes.Contains(respBody, []byte(`"request_too_large"`)) {
			t.Fatalf("64 MiB upload: %d %s", status, respBody)
		}

		body, ct = multipartBody(t, "avatar", "a.png", "image/png", avatartest.PNG(t, 4))
		apptest.Expect(t, do(body, ct), 400, "invalid_request")
		apptest.Expect(t, do([]byte(`{"file":"x"}`), "application/json"), 400, "invalid_request")
		apptest.Expect(t, do(avatartest.PNG(t, 4), "image/png"), 400, "invalid_request")
		apptest.Expect(t, do([]byte("--x\r\nbroken"), "multipart/form-data; boundary=x"), 400, "invalid_request")
		body, ct = multipartBody(t, "file", "a.png", "image/png", avatartest.PNG(t, 5))
		r = env.Do(t, apptest.Request{Method: "POST", Path: "/api/me/avatar", Body: body, Header: map[string]string{"Content-Type": ct}})
		apptest.Expect(t, r, 401, "unauthorized")

		if files := avatarFiles(t, env); len(files) != 0 {
			t.Fatalf("refused uploads left files: %v", files)
		}
		me := expectUser(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}))
		if me["avatar_url"] != "" {
			t.Fatalf("a refused upload set avatar_url %v", me["avatar_url"])
		}
	})
}

func TestAvatarDatabaseFailureLeavesNoFile(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		// The user is gone by the time the update runs.
		_, err := env.Server.Profiles.UploadAvatar(context.Background(), 987654321, 0, bytes.NewReader(avatartest.PNG(t, 1)))
		if err == nil {
			t.Fatal("upload for a missing user succeeded")
		}
		if files := avatarFiles(t, env); len(files) != 0 {
			t.Fatalf("files left after a failed update: %v", files)
		}
	})
}

func TestAvatarFileShownOnlyByItsUploader(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		alice, bob := env.Login(t, "o_alice"), env.Login(t, "o_bob")
		first := expectUser(t, postAvatar(t, env, alice.AccessToken, "a.png", "image/png", avatartest.PNG(t, 1)))["avatar_url"].(string)
		// Bob cannot point his profile at Alice's file (and so cannot keep
		// it alive after she replaces it or leaves).
		r := env.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: bob.AccessToken, Body: map[string]any{"avatar_url": first}})
		apptest.Expect(t, r, 400, "validation_failed")
		if !bytes.Contains(r.Body, []byte(`"avatar_url"`)) {
			t.Fatalf("fields do not name avatar_url: %s", r.Body)
		}
		expectUser(t, postAvatar(t, env, alice.AccessToken, "b.png", "image/png", avatartest.PNG(t, 2)))
		apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: first}), 404, "not_found")
		if r := env.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me", Token: alice.AccessToken}); r.Status != 204 {
			t.Fatalf("delete: %d", r.Status)
		}
		if files := avatarFiles(t, env); len(files) != 0 {
			t.Fatalf("files left after Alice left: %v", files)
		}
	})
}

func TestAvatarPathsAreChecked(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		g := env.Login(t, "o_paths")
		url := expectUser(t, postAvatar(t, env, g.AccessToken, "a.png", "image/png", avatartest.PNG(t, 1)))["avatar_url"].(string)
		name := strings.TrimPrefix(url, "/uploads/avatars/")
		// A file next to the avatars that must never be served.
		os.WriteFile(filepath.Join(avatarDir(env), "notes.txt"), []byte("secret notes"), 0o600)
		if r := env.Do(t, apptest.Request{Method: "GET", Path: url}); r.Status != 200 {
			t.Fatalf("GET %s: %d", url, r.Status)
		}
		for _, p := range []string{
			"/uploads/avatars/..%2f..%2fminiauth.db",
			"/uploads/avatars/..%2F..%2Fjwt_secret",
			"/uploads/avatars/%2e%2e/%2e%2e/miniauth.db",
			"/uploads/avatars/notes.txt",
			"/uploads/avatars/" + strings.ToUpper(name),
			"/uploads/avatars/" + strings.Repeat("0", 32) + ".png",
			"/uploads/avatars/" + name + "%00.png",
			"/uploads/avatars/",
			"/uploads/miniauth.db",
		} {
			r := env.Do(t, apptest.Request{Method: "GET", Path: p})
			if r.Status != 404 || bytes.Contains(r.Body, []byte("SQLite")) || bytes.Contains(r.Body, []byte("secret notes")) {
				t.Fatalf("GET %s: %d %q", p, r.Status, r.Body)
			}
		}
	})
}

// --- decrypt --------------------------------------------------------------

// The official WXBizDataCrypt demo data (WECHAT.md §1.5).
const (
	officialAppID      = "wx4f4bc4dec97d474b"
	officialSessionKey = "tiihtNczf5v6AKRyjwEUhQ=="
	officialIV         = "r7BXXKkLb8qrSNn05n0qiA=="
	officialData       = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew=="
)

func decrypt(t *testing.T, env *apptest.Env, token, data, iv string) *apptest.Response {
	t.Helper()
	return env.Do(t, apptest.Request{Method: "POST", Path: "/api/wechat/decrypt", Token: token, Body: map[string]any{"encrypted_data": data, "iv": iv}})
}

// startOfficialApp runs miniauth as the mini program of the official test
// vector, so that its data's watermark is ours.
func startOfficialApp(t *testing.T, b apptest.Backend) *apptest.Env {
	t.Helper()
	sim := wechatsim.New(officialAppID, apptest.Secret)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return start(t, apptest.Options{
		DatabaseURL: b.URL(t),
		WeChat:      &apptest.WeChat{Server: sim, HTTP: srv},
		Env:         map[string]string{"MINIAUTH_WECHAT_APPID": officialAppID},
	})
}

func TestDecryptOfficialVector(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOfficialApp(t, b)
		id := wechatsim.Identity{OpenID: "oGZUI0egBJY1zhBYw2KhdUfwVJJE", SessionKey: officialSessionKey}
		g := env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(id)})

		r := decrypt(t, env, g.AccessToken, officialData, officialIV)
		if r.Status != 200 {
			t.Fatalf("decrypt: %d %s", r.Status, r.Body)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("Content-Type %q", ct)
		}
		m := r.JSON(t)
		wm, _ := m["watermark"].(map[string]any)
		if m["openId"] != "oGZUI0egBJY1zhBYw2KhdUfwVJJE" || m["nickName"] != "Band" || wm["appid"] != officialAppID {
			t.Fatalf("decrypted: %s", r.Body)
		}

		raw, _ := base64.StdEncoding.DecodeString(officialData)
		raw[37] ^= 0x20
		tampered := base64.StdEncoding.EncodeToString(raw)
		otherApp, otherIV, err := wechatsim.EncryptData(officialSessionKey, "wx_another_app_id", map[string]any{"openGId": "g1"})
		if err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string][2]string{
			"tampered ciphertext":     {tampered, officialIV},
			"bad iv":                  {officialData, base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))},
			"short iv":                {officialData, "r7BXXKkLb8qrSNn0"},
			"iv not base64":           {officialData, "not base64 at all!!"},
			"data not base64":         {"%%%" + officialData, officialIV},
			"wrong appid watermark":   {otherApp, otherIV},
			"data with its last byte": {officialData[:len(officialData)-4], officialIV},
		} {
			r := decrypt(t, env, g.AccessToken, c[0], c[1])
			if r.Status != 400 || r.ErrorCode() != "session_key_stale" {
				t.Fatalf("%s: got %d %s, want 400 session_key_stale", name, r.Status, r.Body)
			}
		}

		// Data WeChat made for this app and this session decrypts…
		data, iv, err := wechatsim.EncryptData(officialSessionKey, officialAppID, map[string]any{"openGId": "g1"})
		if err != nil {
			t.Fatal(err)
		}
		if r := decrypt(t, env, g.AccessToken, data, iv); r.Status != 200 || r.JSON(t)["openGId"] != "g1" {
			t.Fatalf("own data: %d %s", r.Status, r.Body)
		}
		// …until the user logs in again, which replaces the session key.
		g2 := env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(wechatsim.Identity{OpenID: id.OpenID})})
		apptest.Expect(t, decrypt(t, env, g2.AccessToken, officialData, officialIV), 400, "session_key_stale")
		apptest.Expect(t, decrypt(t, env, g.AccessToken, officialData, officialIV), 400, "session_key_stale")

		// Malformed requests.
		for _, c := range []struct {
			body   any
			status int
			err    string
		}{
			{map[string]any{"iv": officialIV}, 400, "invalid_request"},
			{map[string]any{"encrypted_data": officialData}, 400, "invalid_request"},
			{map[string]any{"encrypted_data": officialData, "iv": officialIV, "session_key": officialSessionKey}, 400, "invalid_request"},
			{map[string]any{"encrypted_data": "", "iv": officialIV}, 400, "validation_failed"},
			{map[string]any{"encrypted_data": strings.Repeat("A", 70<<10), "iv": officialIV}, 400, "validation_failed"},
		} {
			r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/wechat/decrypt", Token: g2.AccessToken, Body: c.body})
			apptest.Expect(t, r, c.status, c.err)
		}
		apptest.Expect(t, decrypt(t, env, "", officialData, officialIV), 401, "unauthorized")
	})
}

func TestDecryptChecksOurAppID(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		// Our AppID is apptest.AppID: the official vector's watermark is not ours.
		env := startOn(t, b, nil)
		id := wechatsim.Identity{OpenID: "o_official_elsewhere", SessionKey: officialSessionKey}
		g := env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(id)})
		apptest.Expect(t, decrypt(t, env, g.AccessToken, officialData, officialIV), 400, "session_key_stale")
	})
}

// --- logs -----------------------------------------------------------------

func TestWeChatFlowsLogNoSecrets(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		sim := env.WeChat
		secrets := []string{apptest.Secret}
		remember := func(s ...string) []string { secrets = append(secrets, s...); return s }

		id := wechatsim.Identity{OpenID: "o_logs", UnionID: "u_logs"}
		loginCode := remember(sim.NewCode(id))[0]
		g := env.LoginWith(t, map[string]any{"code": loginCode})
		sessionKey := remember(sim.SessionKey(id.OpenID))[0]

		// Phone: success, an invalidated token, failures of every kind.
		expectUser(t, bindPhone(t, env, g.AccessToken, remember(sim.NewPhoneCode("13800000001", "86"))[0]))
		sim.InvalidateToken()
		expectUser(t, bindPhone(t, env, g.AccessToken, remember(sim.NewPhoneCode("13800000002", "86"))[0]))
		for _, f := range []wechatsim.Failure{{ErrCode: 40029}, {ErrCode: -1}, {ErrCode: 45011}, {ErrCode: 40001}, {Status: 502, Body: "<html>"}} {
			sim.Fail(wechatsim.PathPhoneNumber, f)
			bindPhone(t, env, g.AccessToken, remember(sim.NewPhoneCode("13800000003", "86"))[0])
		}
		bindPhone(t, env, g.AccessToken, remember("unknown-phone-code-xyz")[0])
		sim.WatermarkAppID = "wx_other"
		bindPhone(t, env, g.AccessToken, remember(sim.NewPhoneCode("13800000004", "86"))[0])
		sim.WatermarkAppID = ""
		sim.Fail(wechatsim.PathStableToken, wechatsim.Failure{ErrCode: 40164})
		sim.InvalidateToken()
		bindPhone(t, env, g.AccessToken, remember(sim.NewPhoneCode("13800000005", "86"))[0])

		// Login failures.
		sim.Fail(wechatsim.PathCode2Session, wechatsim.Failure{ErrCode: 40125})
		env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/login", Body: map[string]any{"code": remember("login-code-refused")[0]}})

		// Decrypt: good and bad.
		data, iv, _ := wechatsim.EncryptData(sessionKey, apptest.AppID, map[string]any{"stepInfoList": []any{}})
		remember(data)
		if r := decrypt(t, env, g.AccessToken, data, iv); r.Status != 200 {
			t.Fatalf("decrypt: %d %s", r.Status, r.Body)
		}
		decrypt(t, env, g.AccessToken, officialData, officialIV)

		// Avatars.
		expectUser(t, postAvatar(t, env, g.AccessToken, "a.png", "image/png", avatartest.PNG(t, 1)))
		postAvatar(t, env, g.AccessToken, "a.png", "image/png", []byte("text"))

		remember(sim.AccessTokens()...)
		remember(g.AccessToken, g.RefreshToken)
		if len(sim.AccessTokens()) < 2 {
			t.Fatalf("expected several access tokens, got %d", len(sim.AccessTokens()))
		}
		logs := env.Logs.String()
		if !strings.Contains(logs, "getuserphonenumber failed") || !strings.Contains(logs, "/api/me/phone") {
			t.Fatalf("the log misses the failures it should report:\n%s", logs)
		}
		for _, line := range strings.Split(logs, "\n") {
			for _, s := range secrets {
				if s != "" && strings.Contains(line, s) {
					t.Fatalf("log line contains a secret (%.6s…):\n%s", s, line)
				}
			}
		}
		// And nothing about the user that the log does not need.
		var parsed map[string]any
		for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
			if err := json.Unmarshal([]byte(line), &parsed); err != nil {
				t.Fatalf("log line is not JSON: %q", line)
			}
			if strings.Contains(line, "13800000001") {
				t.Fatalf("log line contains a phone number:\n%s", line)
			}
		}
	})
}

// POST /api/me/phone with a number another user has is account_conflict
// and changes nothing: that user could otherwise no longer log in with it.
// Many users binding one free number at once: exactly one gets it.
func TestPhoneBindingRefusesAnotherUsersNumber(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		owner := env.Login(t, "o_phone_owner")
		expectUser(t, bindPhone(t, env, owner.AccessToken, env.WeChat.NewPhoneCode("13900000001", "86")))
		other := env.Login(t, "o_phone_other")
		before := env.Server.DB.Read.User.Query().Where(user.ID(other.UserID())).OnlyX(context.Background())
		r := bindPhone(t, env, other.AccessToken, env.WeChat.NewPhoneCode("13900000001", "86"))
		apptest.Expect(t, r, http.StatusConflict, "account_conflict")
		after := env.Server.DB.Read.User.Query().Where(user.ID(other.UserID())).OnlyX(context.Background())
		if after.Phone != "" || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("refused binding changed the user: phone %q, updated_at %v → %v", after.Phone, before.UpdatedAt, after.UpdatedAt)
		}
		if u := expectUser(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: other.AccessToken})); u["phone"] != "" {
			t.Errorf("GET /api/me after a refused binding: phone %v", u["phone"])
		}
		// The owner still logs in with the number.
		r = env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/phone-login", Body: map[string]any{
			"code": env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_phone_owner"}), "phone_code": env.WeChat.NewPhoneCode("13900000001", "86")}})
		if r.Status != http.StatusOK {
			t.Fatalf("owner's phone login: %d %s", r.Status, r.Body)
		}
		// Rebinding one's own number is fine.
		expectUser(t, bindPhone(t, env, owner.AccessToken, env.WeChat.NewPhoneCode("13900000001", "86")))

		const n = 30
		grants := make([]*apptest.Grant, n)
		codes := make([]string, n)
		for i := range grants {
			grants[i] = env.Login(t, fmt.Sprintf("o_phone_flood_%d", i))
			codes[i] = env.WeChat.NewPhoneCode("13900000002", "86")
		}
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range grants {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = bindPhone(t, env, grants[i].AccessToken, codes[i]).Status
			}()
		}
		wg.Wait()
		won := 0
		for _, s := range statuses {
			switch s {
			case http.StatusOK:
				won++
			case http.StatusConflict:
			default:
				t.Errorf("binding in a flood: %d", s)
			}
		}
		if has, _ := env.Server.DB.Read.User.Query().Where(user.Phone("13900000002")).Count(context.Background()); won != 1 || has != 1 {
			t.Errorf("%d bindings succeeded, %d users have the number; want 1 and 1", won, has)
		}
	})
}
