package miniprogram_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestTypedExample needs Node.js with typescript and miniprogram-api-typings
// installed in the tests' node directory, beside the JWKS test's jose
// (app/verifiers_test.go): NodeDirEnv names it, default
// <user cache dir>/miniauth-test/node. .ci/run installs both there, pinned
// (TypeScriptVersion, TypingsVersion), and sets RequireNodeEnv, which makes
// a missing one a failure instead of a skip.
const (
	NodeDirEnv        = "MINIAUTH_TEST_NODE_DIR"
	TypeScriptVersion = "5.9.3"
	TypingsVersion    = "5.2.3"
	// JoseVersion is app/verifiers_test.go's, installed in the same directory.
	JoseVersion = "6.2.18"
)

// clientMethods are the names of the client object createClient returns,
// read from index.js.
func clientMethods(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("miniauth/index.js")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	i := strings.LastIndex(s, "\n  return {\n")
	j := strings.Index(s[i:], "\n  };\n")
	if i < 0 || j < 0 {
		t.Fatal("index.js: the client object (`  return {` … `  };`) not found")
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^    (\w+):`).FindAllStringSubmatch(s[i:i+j], -1) {
		names = append(names, m[1])
	}
	if len(names) < 10 {
		t.Fatalf("found %d client methods in index.js: the pattern no longer matches", len(names))
	}
	sort.Strings(names)
	return names
}

// The types declare everything the kit exports and every method of the
// client, so a method added to index.js without its type fails here.
func TestTypesDeclareEveryExport(t *testing.T) {
	dts, err := os.ReadFile("miniauth/index.d.ts")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("miniauth/index.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)module\.exports = \{(.*?)\};`).FindSubmatch(src)
	if m == nil {
		t.Fatal("index.js: module.exports not found")
	}
	for _, e := range regexp.MustCompile(`(\w+):`).FindAllSubmatch(m[1], -1) {
		if !regexp.MustCompile(`export declare (const|function) ` + string(e[1]) + `\b`).Match(dts) {
			t.Errorf("index.d.ts does not declare the export %s", e[1])
		}
	}
	client := regexp.MustCompile(`(?s)export interface Client \{(.*?)\n\}`).FindSubmatch(dts)
	if client == nil {
		t.Fatal("index.d.ts has no `export interface Client`")
	}
	for _, name := range clientMethods(t) {
		if !regexp.MustCompile(`(?m)^  (readonly )?` + name + `[(<:]`).Match(client[1]) {
			t.Errorf("index.d.ts: Client does not declare %s", name)
		}
	}
	// The options createClient reads.
	opts := regexp.MustCompile(`(?s)export interface ClientOptions \{(.*?)\n\}`).FindSubmatch(dts)
	if opts == nil {
		t.Fatal("index.d.ts has no `export interface ClientOptions`")
	}
	for _, o := range kitOptions(t) {
		if !regexp.MustCompile(`(?m)^  ` + o + `\??:`).Match(opts[1]) {
			t.Errorf("index.d.ts: ClientOptions does not declare %s", o)
		}
	}
	// Every code the kit raises is in KitErrorCode.
	kit := regexp.MustCompile(`(?s)export type KitErrorCode =(.*?);`).FindSubmatch(dts)
	if kit == nil {
		t.Fatal("index.d.ts has no KitErrorCode")
	}
	for _, c := range regexp.MustCompile(`MiniauthError\('([a-z_]+)'`).FindAllSubmatch(src, -1) {
		if !strings.Contains(string(kit[1]), "'"+string(c[1])+"'") {
			t.Errorf("index.d.ts: KitErrorCode lacks %s", c[1])
		}
	}
}

// kitOptions are the createClient options index.js reads (config.X).
func kitOptions(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("miniauth/index.js")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`config\.(\w+)|'(on[A-Z]\w+)'`).FindAllStringSubmatch(string(src), -1) {
		name := m[1] + m[2]
		seen[name] = true
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	if len(out) < 4 {
		t.Fatalf("found options %v in index.js: the pattern no longer matches", out)
	}
	return out
}

// The kit's page documents every method and option that exists.
func TestReadmeCoversEveryMethodAndOption(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append(clientMethods(t), kitOptions(t)...) {
		if !regexp.MustCompile("`" + name + `[(\x60 :]`).Match(readme) {
			t.Errorf("miniprogram/README.md does not document `%s`", name)
		}
	}
	for _, topic := range []string{"wx.onNeedPrivacyAuthorization", "隐私保护指引", "构建 npm", "index.d.ts", "onSignedOut", "onUserDisabled", "uploadFile"} {
		if !strings.Contains(string(readme), topic) {
			t.Errorf("miniprogram/README.md does not mention %s", topic)
		}
	}
}

// package.json is what WeChat DevTools' 构建 npm reads: the miniprogram
// field names the directory it copies (the package itself), main the entry.
func TestPackageJSON(t *testing.T) {
	b, err := os.ReadFile("miniauth/package.json")
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Name, Version, Main, Types, Miniprogram string
		Files                                   []string
		Dependencies                            map[string]string
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	if pkg.Name == "" || pkg.Version == "" {
		t.Errorf("package.json: name %q, version %q", pkg.Name, pkg.Version)
	}
	if pkg.Miniprogram == "" {
		t.Fatal("package.json has no miniprogram field: 构建 npm would bundle main instead of copying the kit")
	}
	for _, f := range []string{pkg.Main, pkg.Types} {
		if _, err := os.Stat(filepath.Join("miniauth", pkg.Miniprogram, f)); err != nil {
			t.Errorf("package.json names %s, not found under the miniprogram directory: %v", f, err)
		}
	}
	if pkg.Main != "index.js" || pkg.Types != "index.d.ts" {
		t.Errorf("package.json main %q types %q, want index.js and index.d.ts", pkg.Main, pkg.Types)
	}
	if len(pkg.Dependencies) != 0 {
		t.Errorf("package.json has dependencies %v: the kit has none", pkg.Dependencies)
	}
	for _, want := range []string{"index.js", "index.d.ts"} {
		found := false
		for _, f := range pkg.Files {
			found = found || f == want
		}
		if !found {
			t.Errorf("package.json files %v lack %s", pkg.Files, want)
		}
	}
}

// TestTypedExample compiles typed-example/ with the kit's index.d.ts, as a
// TypeScript mini program would (the kit copied in beside it), with
// `tsc --noEmit --strict`.
func TestTypedExample(t *testing.T) {
	nodeDir := os.Getenv(NodeDirEnv)
	if nodeDir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		nodeDir = filepath.Join(cache, "miniauth-test", "node")
	}
	modules, _ := filepath.Abs(filepath.Join(nodeDir, "node_modules"))
	tsc := filepath.Join(modules, "typescript", "bin", "tsc")
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node (Node.js >= 20) on PATH")
	}
	if _, err := os.Stat(tsc); err != nil {
		missing = append(missing, "typescript in "+modules)
	}
	if _, err := os.Stat(filepath.Join(modules, "miniprogram-api-typings", "package.json")); err != nil {
		missing = append(missing, "miniprogram-api-typings in "+modules)
	}
	if len(missing) > 0 {
		// jose too: npm removes from the directory what an install does not name.
		msg := fmt.Sprintf("the typed example is not checked: missing %s (npm install --no-save --prefix %s jose@%s typescript@%s miniprogram-api-typings@%s, as .ci/run does; %s names another directory)",
			strings.Join(missing, ", "), nodeDir, JoseVersion, TypeScriptVersion, TypingsVersion, NodeDirEnv)
		if os.Getenv(RequireNodeEnv) == "1" {
			t.Fatalf("%s, and %s=1", msg, RequireNodeEnv)
		}
		t.Skipf("%s: skipping (set %s=1 to make this a failure)", msg, RequireNodeEnv)
	}
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-r", "typed-example/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if out, err := exec.Command("cp", "-r", "miniauth", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cmd := exec.Command(node, tsc, "-p", dir, "--noEmit", "--strict", "--listFilesOnly")
	list, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tsc --listFilesOnly: %v\n%s", err, list)
	}
	for _, f := range []string{"app.ts", "index.ts", "index.d.ts"} {
		if !strings.Contains(string(list), f) {
			t.Errorf("tsc would not check %s:\n%s", f, list)
		}
	}
	out, err := exec.Command(node, tsc, "-p", dir, "--noEmit", "--strict").CombinedOutput()
	if err != nil {
		t.Fatalf("tsc --noEmit --strict over the typed example: %v\n%s", err, out)
	}
	t.Logf("tsc --noEmit --strict passed in %s", time.Since(start).Round(time.Millisecond))
}
