package app_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/avatars/avatartest"
)

// RequireNginxEnv makes a missing nginx a failure instead of a skip (CI).
const RequireNginxEnv = "MINIAUTH_REQUIRE_NGINX"

// readmeNginxConfig is the forward-auth configuration docs/backend.md
// shows: the nginx block after the marker. The test runs exactly that
// text, so the docs cannot drift from what is tested.
func readmeNginxConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "backend.md"))
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- nginx-forward-auth -->\n```nginx\n"
	s := string(b)
	i := strings.Index(s, marker)
	if i < 0 {
		t.Fatalf("docs/backend.md has no %q block", marker)
	}
	s = s[i+len(marker):]
	j := strings.Index(s, "```")
	if j < 0 {
		t.Fatal("docs/backend.md: the nginx block is not closed")
	}
	return s[:j]
}

// replaceOnce swaps the one occurrence of old; a page that no longer
// has it exactly once fails the test rather than running something else.
func replaceOnce(t *testing.T, conf, old, new string) string {
	t.Helper()
	if n := strings.Count(conf, old); n != 1 {
		t.Fatalf("docs/backend.md nginx block: %q occurs %d times, want once", old, n)
	}
	return strings.Replace(conf, old, new, 1)
}

// freePort is a loopback port nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// nginxProxy is a running nginx and a client that trusts its certificate.
type nginxProxy struct {
	URL    string // https://127.0.0.1:port
	Client *http.Client
}

// selfSignedCert writes a certificate for api.example.com and 127.0.0.1
// and its key into dir, and returns their paths and a pool trusting it.
func selfSignedCert(t *testing.T, dir string) (certPath, keyPath string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "api.example.com"},
		DNSNames:     []string{"api.example.com"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certPath, keyPath, pool
}

// startNginx runs nginx in the foreground with the block of
// docs/backend.md, inside the http {} of a minimal nginx.conf, as the
// page says to. Only these are changed, each exactly once, so the test
// runs what a reader copies:
//   - the upstream addresses → the test's miniauth and backend;
//   - "listen 443 ssl;" → a free loopback port, still with ssl;
//   - the Let's Encrypt certificate and key paths → a self-signed pair.
func startNginx(t *testing.T, miniauthAddr, shopAddr string) *nginxProxy {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr == nil {
			bin, err = "/usr/sbin/nginx", nil
		}
	}
	if err != nil {
		if os.Getenv(RequireNginxEnv) == "1" {
			t.Fatalf("nginx not found and %s=1: install nginx (Debian: apt-get install nginx)", RequireNginxEnv)
		}
		t.Skipf("nginx not found: skipping the forward-auth test through nginx (set %s=1 to make this a failure)", RequireNginxEnv)
	}
	dir := t.TempDir()
	certPath, keyPath, pool := selfSignedCert(t, dir)
	addr := freePort(t)
	conf := readmeNginxConfig(t)
	// --- the substitutions (and nothing else) ---
	conf = replaceOnce(t, conf, "server 127.0.0.1:8080;", "server "+miniauthAddr+";")
	conf = replaceOnce(t, conf, "server 127.0.0.1:9000;", "server "+shopAddr+";")
	conf = replaceOnce(t, conf, "listen 443 ssl;", "listen "+addr+" ssl;")
	conf = replaceOnce(t, conf, "/etc/letsencrypt/live/api.example.com/fullchain.pem", certPath)
	conf = replaceOnce(t, conf, "/etc/letsencrypt/live/api.example.com/privkey.pem", keyPath)
	// ---

	user := ""
	if os.Getuid() == 0 {
		// Workers otherwise drop to nobody, who cannot use the temp dir.
		user = "user root;\n"
	}
	full := fmt.Sprintf(`%sdaemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 256; }
http {
    access_log %[2]s/access.log;
    client_body_temp_path %[2]s/client_body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
%[3]s
}
`, user, dir, conf)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(full), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt) // fast shutdown
		<-exited
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx.conf:\n%s\nnginx error.log:\n%s", full, log)
		}
	})
	// Ready when it accepts connections; a bad config exits instead.
	apptest.Eventually(t, 10*time.Second, "nginx accepting connections on "+addr, func() (bool, string) {
		select {
		case err := <-exited:
			exited <- err
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %v\n%s\n%s", err, out.String(), log)
		default:
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
	client := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "api.example.com"},
			MaxIdleConnsPerHost: 100},
		// Redirects are answers to check, not to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &nginxProxy{URL: "https://" + addr, Client: client}
}

// shopSeen is what the business backend received.
type shopSeen struct {
	Method        string   `json:"method"`
	Path          string   `json:"path"`
	UserIDs       []string `json:"user_ids"`
	SessionIDs    []string `json:"session_ids"`
	Underscored   []string `json:"underscored"`
	Authorization string   `json:"authorization"`
	ContentType   string   `json:"content_type"`
	Body          []byte   `json:"body"`
}

// startShop is a team's own backend: it echoes what it received.
func startShop(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(shopSeen{
			Method:        r.Method,
			Path:          r.URL.Path,
			UserIDs:       r.Header.Values("X-Miniauth-User-Id"),
			SessionIDs:    r.Header.Values("X-Miniauth-Session-Id"),
			Underscored:   r.Header.Values("X_Miniauth_User_Id"),
			Authorization: r.Header.Get("Authorization"),
			ContentType:   r.Header.Get("Content-Type"),
			Body:          body,
		})
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// proxied sends a request to nginx and reads the whole answer.
func proxied(t *testing.T, p *nginxProxy, method, path, token string, header http.Header, body []byte) *apptest.Response {
	t.Helper()
	r, err := tryProxied(p, method, path, token, header, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func tryProxied(p *nginxProxy, method, path, token string, header http.Header, body []byte) (*apptest.Response, error) {
	req, err := http.NewRequest(method, p.URL+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs // as given: no canonical spelling forced
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := p.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s through nginx: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

func shopAnswer(t *testing.T, r *apptest.Response) shopSeen {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("through nginx to the shop: %d %s", r.Status, r.Body)
	}
	var s shopSeen
	if err := json.Unmarshal(r.Body, &s); err != nil {
		t.Fatalf("shop answer: %v\n%s", err, r.Body)
	}
	return s
}

// Credentials of the admin the panel tests sign in as.
const panelAdmin, panelPassword = "ops", "correct horse battery staple"

// disableInPanel disables a user the way an operator does: sign in to the
// admin panel, open the user's page, post its disable form.
func disableInPanel(t *testing.T, env *apptest.Env, userID int) {
	t.Helper()
	if _, err := admins.New(env.Server.DB, env.Server.Keys).Create(context.Background(), panelAdmin, panelPassword); err != nil {
		t.Fatalf("create admin: %v", err)
	}
	panelDisable(t, env.URL, userID)
}

// panelDisable signs in to the panel at base as panelAdmin (who must
// exist) and posts the user page's disable form.
func panelDisable(t *testing.T, base string, userID int) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.PostForm(base+"/admin/login", url.Values{"username": {panelAdmin}, "password": {panelPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("admin sign-in: %d", resp.StatusCode)
	}
	page := fmt.Sprintf("%s/admin/users/%d", base, userID)
	resp, err = browser.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp, err = browser.PostForm(page+"/disable", url.Values{"csrf": {apptest.CSRF(t, body)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", resp.StatusCode)
	}
}

// expectProxy401 fails unless nginx refused with the contract's 401.
func expectProxy401(t *testing.T, r *apptest.Response) {
	t.Helper()
	expectUnauthorized(t, r)
	if strings.Contains(string(r.Body), `"user_ids"`) {
		t.Errorf("the refused request reached the backend: %s", r.Body)
	}
}

// TestNginxForwardAuth runs the nginx configuration of docs/backend.md in front of
// miniauth and a business backend: one domain, over TLS.
func TestNginxForwardAuth(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		// As the page says to set it: nginx's address as miniauth sees it.
		env := startOn(t, b, map[string]string{"MINIAUTH_TRUSTED_PROXIES": "127.0.0.1"})
		shop, hits := startShop(t)
		base := startNginx(t, strings.TrimPrefix(env.URL, "http://"), strings.TrimPrefix(shop.URL, "http://"))

		// miniauth itself through nginx: log in, read the profile.
		alice := env.Login(t, "o_nginx_alice")
		if r := proxied(t, base, "GET", "/api/me", alice.AccessToken, nil, nil); r.Status != 200 || !strings.Contains(string(r.Body), fmt.Sprintf(`"id":%d`, alice.UserID())) {
			t.Fatalf("/api/me through nginx: %d %s", r.Status, r.Body)
		}
		// miniauth's own 401 through nginx: one challenge, as miniauth sent it.
		expectUnauthorized(t, proxied(t, base, "GET", "/api/me", "", nil, nil))
		expectUnauthorized(t, proxied(t, base, "GET", "/api/me", "not.a.token", nil, nil))
		// The check is for nginx's own use only.
		if r := proxied(t, base, "GET", "/api/auth/verify", alice.AccessToken, nil, nil); r.Status != http.StatusNotFound {
			t.Errorf("/api/auth/verify from outside: %d, want nginx's 404", r.Status)
		}

		// The client's address reaches miniauth's log, not nginx's: the
		// client (on loopback, itself "a proxy" here) names 203.0.113.7.
		r := proxied(t, base, "GET", "/api/me", alice.AccessToken, http.Header{"X-Forwarded-For": {"203.0.113.7"}}, nil)
		rid := r.Header.Get("X-Request-Id")
		if r.Status != http.StatusOK || rid == "" {
			t.Fatalf("/api/me with X-Forwarded-For: %d (request id %q) %s", r.Status, rid, r.Body)
		}
		apptest.Eventually(t, 10*time.Second, "the access log line of "+rid, func() (bool, string) {
			for _, line := range strings.Split(env.Logs.String(), "\n") {
				if strings.Contains(line, `"request_id":"`+rid+`"`) {
					return strings.Contains(line, `"ip":"203.0.113.7"`), line
				}
			}
			return false, "no line yet"
		})

		// An avatar, uploaded and shown through the same domain.
		var form bytes.Buffer
		mw := multipart.NewWriter(&form)
		fw, _ := mw.CreateFormFile("file", "avatar")
		fw.Write(avatartest.PNG(t, 7))
		mw.Close()
		r = proxied(t, base, "POST", "/api/me/avatar", alice.AccessToken, http.Header{"Content-Type": {mw.FormDataContentType()}}, form.Bytes())
		avatarURL, _ := r.JSON(t)["avatar_url"].(string)
		if r.Status != http.StatusOK || !strings.HasPrefix(avatarURL, "/uploads/avatars/") {
			t.Fatalf("avatar upload through nginx: %d %s", r.Status, r.Body)
		}
		direct := env.Do(t, apptest.Request{Method: "GET", Path: avatarURL})
		if r := proxied(t, base, "GET", avatarURL, "", nil, nil); r.Status != http.StatusOK || direct.Status != http.StatusOK ||
			len(r.Body) == 0 || !bytes.Equal(r.Body, direct.Body) || !strings.HasPrefix(r.Header.Get("Content-Type"), "image/") {
			t.Errorf("%s through nginx: %d %q, %d bytes (miniauth itself: %d, %d bytes)", avatarURL, r.Status, r.Header.Get("Content-Type"), len(r.Body), direct.Status, len(direct.Body))
		}

		// The admin panel: its sign-in page, and its redirect to it.
		if r := proxied(t, base, "GET", "/admin/login", "", nil, nil); r.Status != http.StatusOK ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.Body), `name="password"`) {
			t.Errorf("/admin/login through nginx: %d %q %.200s", r.Status, r.Header.Get("Content-Type"), r.Body)
		}
		if r := proxied(t, base, "GET", "/admin/", "", nil, nil); r.Status/100 != 3 || !strings.Contains(r.Header.Get("Location"), "/admin/login") {
			t.Errorf("/admin/ through nginx, signed out: %d, Location %q; want a redirect to the sign-in page", r.Status, r.Header.Get("Location"))
		}

		// Health checks.
		for _, path := range []string{"/healthz", "/readyz"} {
			direct := env.Do(t, apptest.Request{Method: "GET", Path: path})
			if r := proxied(t, base, "GET", path, "", nil, nil); r.Status != http.StatusOK || !bytes.Equal(r.Body, direct.Body) {
				t.Errorf("%s through nginx: %d %s (miniauth itself: %d %s)", path, r.Status, r.Body, direct.Status, direct.Body)
			}
		}

		// No token, a bad one, one in the query string: refused by nginx,
		// the backend never sees the request.
		expectProxy401(t, proxied(t, base, "GET", "/shop/orders", "", nil, nil))
		expectProxy401(t, proxied(t, base, "GET", "/shop/orders", "not.a.token", nil, nil))
		expectProxy401(t, proxied(t, base, "GET", "/shop/orders?access_token="+alice.AccessToken, "", nil, nil))
		expectProxy401(t, proxied(t, base, "POST", "/shop/orders", "", http.Header{"X-Miniauth-User-Id": {"1"}}, []byte(`{"item":1}`)))
		if n := hits.Load(); n != 0 {
			t.Fatalf("the backend was reached %d times without a valid token", n)
		}

		// A good token: the backend sees the user and session, not the token.
		sid := strconv.Itoa(sessionOf(t, env, alice.UserID()))
		uid := strconv.Itoa(alice.UserID())
		seen := shopAnswer(t, proxied(t, base, "GET", "/shop/orders?page=2", alice.AccessToken, nil, nil))
		if seen.Path != "/shop/orders" || len(seen.UserIDs) != 1 || seen.UserIDs[0] != uid || len(seen.SessionIDs) != 1 || seen.SessionIDs[0] != sid {
			t.Errorf("backend saw %+v, want user %s session %s", seen, uid, sid)
		}
		if seen.Authorization != "" {
			t.Errorf("the backend received the access token: %q", seen.Authorization)
		}

		// Client-sent identity headers are replaced, in every spelling.
		spoof := http.Header{
			"X-Miniauth-User-Id":    {"999999", "42"},
			"x-miniauth-user-id":    {"31337"},
			"X-Miniauth-Session-Id": {"1"},
			"X_Miniauth_User_Id":    {"777"},
		}
		seen = shopAnswer(t, proxied(t, base, "GET", "/shop/orders", alice.AccessToken, spoof, nil))
		if len(seen.UserIDs) != 1 || seen.UserIDs[0] != uid || len(seen.SessionIDs) != 1 || seen.SessionIDs[0] != sid || len(seen.Underscored) != 0 {
			t.Errorf("with spoofed headers the backend saw %+v, want only user %s session %s", seen, uid, sid)
		}

		// A POST body reaches the backend byte for byte.
		body := make([]byte, 256<<10)
		rand.Read(body)
		seen = shopAnswer(t, proxied(t, base, "POST", "/shop/orders", alice.AccessToken, http.Header{"Content-Type": {"application/octet-stream"}}, body))
		if seen.Method != "POST" || !bytes.Equal(seen.Body, body) || seen.ContentType != "application/octet-stream" || seen.UserIDs[0] != uid {
			t.Errorf("POST through nginx: method %s, %d bytes (equal %v), type %q, user %v", seen.Method, len(seen.Body), bytes.Equal(seen.Body, body), seen.ContentType, seen.UserIDs)
		}

		// Logout (through nginx) ends access to the backend at once.
		if r := proxied(t, base, "POST", "/api/auth/logout", alice.AccessToken, nil, nil); r.Status != http.StatusNoContent {
			t.Fatalf("logout through nginx: %d %s", r.Status, r.Body)
		}
		expectProxy401(t, proxied(t, base, "GET", "/shop/orders", alice.AccessToken, nil, nil))

		// An admin disabling the user ends it at once too.
		bob := env.Login(t, "o_nginx_bob")
		shopAnswer(t, proxied(t, base, "GET", "/shop/orders", bob.AccessToken, nil, nil))
		disableInPanel(t, env, bob.UserID())
		expectProxy401(t, proxied(t, base, "GET", "/shop/orders", bob.AccessToken, nil, nil))

		// Many requests at once, live and revoked tokens mixed: each gets
		// its own answer.
		carol := env.Login(t, "o_nginx_carol")
		carolID := strconv.Itoa(carol.UserID())
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				token, live := carol.AccessToken, i%2 == 0
				if !live {
					token = bob.AccessToken
				}
				r, err := tryProxied(base, "POST", "/shop/orders", token, http.Header{"X-Miniauth-User-Id": {"1"}}, []byte(`{"n":`+strconv.Itoa(i)+`}`))
				if err != nil {
					t.Error(err)
					return
				}
				switch {
				case live && (r.Status != 200 || !strings.Contains(string(r.Body), `"user_ids":["`+carolID+`"]`)):
					t.Errorf("live token: %d %s", r.Status, r.Body)
				case !live && (r.Status != http.StatusUnauthorized || strings.Contains(string(r.Body), "user_ids")):
					t.Errorf("disabled user's token: %d %s", r.Status, r.Body)
				}
			}()
		}
		wg.Wait()
	})
}
