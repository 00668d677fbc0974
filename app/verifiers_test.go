package app_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/keys"
	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/app/tokens"
)

// Settings of the third-party verifier tests. Locally a missing tool
// skips them with a message; CI (.ci/run) installs the tools and sets the
// REQUIRE variables, which make a missing tool a failure.
const (
	// RequireNodeEnv: Node.js and jose (npm) must be there.
	RequireNodeEnv = "MINIAUTH_REQUIRE_NODE"
	// RequirePythonEnv: Python 3 with PyJWT and cryptography must be there.
	RequirePythonEnv = "MINIAUTH_REQUIRE_PYTHON"
	// NodeModulesEnv names a directory whose node_modules holds jose;
	// the default is the cache directory .ci/run installs it into.
	NodeModulesEnv = "MINIAUTH_TEST_NODE_DIR"
)

// joseVersion is the jose release the tests run (.ci/run installs it).
const joseVersion = "6.2.18"

// A verifier runs a script that reads JWKS_URL, ALG, ISSUER, AUDIENCE and
// TOKENS and prints a result per token.
type verifier struct {
	name string
	cmd  func(env []string) *exec.Cmd
}

type verdict struct {
	OK    bool     `json:"ok"`
	Kid   string   `json:"kid"`
	Sub   string   `json:"sub"`
	Roles []string `json:"roles"`
	Error string   `json:"error"`
}

func missing(t *testing.T, requireEnv, msg string) {
	t.Helper()
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("%s and %s=1", msg, requireEnv)
	}
	t.Skipf("%s: skipping (set %s=1 to make this a failure)", msg, requireEnv)
}

// joseVerifier is Node.js running testdata/verifiers/verify.mjs with jose.
func joseVerifier(t *testing.T) verifier {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, RequireNodeEnv, "node not found on PATH")
	}
	dir := os.Getenv(NodeModulesEnv)
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			missing(t, RequireNodeEnv, "no cache directory for jose")
		}
		dir = filepath.Join(cache, "miniauth-test", "node")
	}
	modules := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "jose", "package.json")); err != nil {
		missing(t, RequireNodeEnv, fmt.Sprintf("jose not installed in %s (install it with the other test packages, in one command as .ci/run does: an npm install into that directory removes the packages it does not name)", dir))
	}
	// The script beside a node_modules link, so that `import 'jose'`
	// finds the installed package.
	work := t.TempDir()
	script, err := os.ReadFile(filepath.Join("testdata", "verifiers", "verify.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "verify.mjs"), script, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(modules, filepath.Join(work, "node_modules")); err != nil {
		t.Fatal(err)
	}
	return verifier{name: "node jose", cmd: func(env []string) *exec.Cmd {
		cmd := exec.Command(node, filepath.Join(work, "verify.mjs"))
		cmd.Env = env
		return cmd
	}}
}

// pyjwtVerifier is Python 3 running testdata/verifiers/verify.py with
// PyJWT's PyJWKClient (Debian: python3-jwt, python3-cryptography).
func pyjwtVerifier(t *testing.T) verifier {
	t.Helper()
	var python string
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		path, err := exec.LookPath(p)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import jwt, cryptography; jwt.PyJWKClient").Run() == nil {
			python = path
			break
		}
	}
	if python == "" {
		missing(t, RequirePythonEnv, "no python3 with PyJWT and cryptography (apt-get install python3-jwt python3-cryptography)")
	}
	script, err := filepath.Abs(filepath.Join("testdata", "verifiers", "verify.py"))
	if err != nil {
		t.Fatal(err)
	}
	return verifier{name: "python PyJWT", cmd: func(env []string) *exec.Cmd {
		cmd := exec.Command(python, script)
		cmd.Env = env
		return cmd
	}}
}

// run asks the verifier about tokens, fetching the keys from jwksURL.
func (v verifier) run(t *testing.T, jwksURL, alg string, toks []string) []verdict {
	t.Helper()
	in, _ := json.Marshal(toks)
	env := append(os.Environ(), "JWKS_URL="+jwksURL, "ALG="+alg, "ISSUER="+tokens.Issuer,
		"AUDIENCE="+tokens.Access.Audience, "TOKENS="+string(in), "NO_COLOR=1")
	cmd := v.cmd(env)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			cmd.Process.Kill()
		case <-done:
		}
	}()
	out, err := cmd.Output()
	close(done)
	if err != nil {
		t.Fatalf("%s: %v\n%s", v.name, err, stderr.String())
	}
	var res []verdict
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(toks) {
		t.Fatalf("%s answered %q (%v)\n%s", v.name, out, err, stderr.String())
	}
	return res
}

// Real verifiers of other languages (Node's jose, Python's PyJWT) need
// nothing but the JWKS URL: they verify fresh ES256 and EdDSA tokens,
// before and after a rotation made on instance A, tokens from instance B
// with keys fetched from A, read the roles claim, and refuse the
// algorithm-confusion forgeries.
func TestThirdPartyVerifiers(t *testing.T) {
	t.Parallel()
	verifiers := []func(*testing.T) verifier{joseVerifier, pyjwtVerifier}
	for _, alg := range asymmetricAlgs {
		t.Run(alg, func(t *testing.T) {
			apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
				dir, url := t.TempDir(), b.URL(t)
				vars := map[string]string{"MINIAUTH_JWT_ALG": alg, "MINIAUTH_JWT_SECRET": strings.Repeat("v", 40)}
				wx := apptest.NewWeChat(t)
				a := apptest.Start(t, apptest.Options{DataDir: dir, DatabaseURL: url, Env: vars, WeChat: wx})
				bEnv := apptest.Start(t, apptest.Options{DataDir: dir, DatabaseURL: url, Env: vars, WeChat: wx})
				g := a.Login(t, "o_verifiers")
				fromB := bEnv.Login(t, "o_verifiers_b")
				firstKid, _ := header(t, g.AccessToken)["kid"].(string)

				claims := claimsOf(t, g.AccessToken)
				set := fetchJWKS(t, a)
				der, _ := x509.MarshalPKIXPublicKey(set[0].publicKey(t))
				pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
				forged := []string{
					signHS256(t, pemKey, claims, map[string]any{"kid": firstKid}),
					unsigned(t, claims, map[string]any{"kid": firstKid}),
				}

				// Roles: set now, carried from the next refresh.
				if _, _, err := a.Server.Profiles.SetRoles(context.Background(), g.UserID(), profiles.RoleChange{Add: []string{"editor", "vip"}}); err != nil {
					t.Fatal(err)
				}
				refreshed := refreshGrant(t, a, g)

				// Rotate on A; B reads the keys again (as its poll does
				// within 10 s; TestRotationReachesEveryInstance moves the
				// clock for that) and signs with the new key.
				next, _, err := keys.Rotate(context.Background(), a.Server.DB, a.Server.Keys, alg, a.Server.Config.AccessTTL, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range []*apptest.Env{a, bEnv} {
					if err := e.Server.Ring.Refresh(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
				afterRotation := bEnv.Login(t, "o_verifiers_b")
				if kid := header(t, afterRotation.AccessToken)["kid"]; kid != next.Kid {
					t.Fatalf("B signs with %v after the rotation, want %s", kid, next.Kid)
				}

				for _, newVerifier := range verifiers {
					v := newVerifier(t)
					t.Run(v.name, func(t *testing.T) {
						toks := append([]string{g.AccessToken, fromB.AccessToken, refreshed.AccessToken, afterRotation.AccessToken}, forged...)
						// Keys from A: tokens of both instances, both keys.
						res := v.run(t, a.URL+"/.well-known/jwks.json", alg, toks)
						for i, want := range []struct {
							sub   int
							kid   string
							roles []string
						}{
							{g.UserID(), firstKid, []string{}},
							{fromB.UserID(), firstKid, []string{}},
							{g.UserID(), firstKid, []string{"editor", "vip"}},
							{afterRotation.UserID(), next.Kid, []string{}},
						} {
							r := res[i]
							if !r.OK || r.Sub != strconv.Itoa(want.sub) || r.Kid != want.kid || !slices.Equal(r.Roles, want.roles) {
								t.Errorf("token %d: %+v, want sub %d kid %s roles %v", i, r, want.sub, want.kid, want.roles)
							}
						}
						for i, r := range res[4:] {
							if r.OK {
								t.Errorf("forgery %d accepted: %+v", i, r)
							}
						}
						// Keys from B: the same answer.
						res = v.run(t, bEnv.URL+"/.well-known/jwks.json", alg, []string{g.AccessToken, afterRotation.AccessToken})
						if !res[0].OK || !res[1].OK {
							t.Errorf("with B's key set: %+v", res)
						}
					})
				}
			})
		})
	}
}
