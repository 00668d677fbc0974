package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// AxeVersion is the axe-core release the accessibility check runs.
const AxeVersion = "4.11.0"

// AxeEnv names axe.min.js to use instead of installing axe-core from npm.
const AxeEnv = "MINIAUTH_AXE_JS"

// axeSource is axe-core's browser script: from AxeEnv, from a cached npm
// install, or installed now with npm into the user's cache directory.
// Without npm the check skips, unless the browser test is required.
func axeSource(t *testing.T) string {
	t.Helper()
	path := os.Getenv(AxeEnv)
	if path == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir := filepath.Join(cache, "miniauth-tests", "axe-core-"+AxeVersion)
		path = filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
		if _, err := os.Stat(path); err != nil {
			npm, err := exec.LookPath("npm")
			if err == nil {
				out, ierr := exec.Command(npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", dir, "axe-core@"+AxeVersion).CombinedOutput()
				if ierr != nil {
					err = fmt.Errorf("%v: %s", ierr, out)
				}
			}
			if err != nil {
				msg := fmt.Sprintf("axe-core %s not available (npm install axe-core, or set %s): %v", AxeVersion, AxeEnv, err)
				if os.Getenv(RequireBrowserEnv) == "1" {
					t.Fatal(msg)
				}
				t.Skip(msg)
			}
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	return string(b)
}

// axeViolation is one rule a page breaks, with where.
type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
}

// axeRunJS runs the WCAG 2.1 A and AA rules on the page and answers the
// serious and critical violations.
const axeRunJS = `(async () => {
  const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
  if (!r.passes.length) throw new Error('axe-core checked nothing');
  return JSON.stringify(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => ({
    id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))})));
})()`

// checkAccessible fails the test for every serious or critical axe-core
// violation on the page the browser shows.
func checkAccessible(t *testing.T, ctx context.Context, axe, where string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axe+";true")); err != nil {
		t.Fatalf("%s: load axe-core: %v", where, err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](axeRunJS, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: run axe-core: %v", where, err)
	}
	var found []axeViolation
	if err := json.Unmarshal([]byte(raw), &found); err != nil {
		t.Fatalf("%s: axe-core answer: %v", where, err)
	}
	for _, v := range found {
		t.Errorf("%s: %s (%s): %s at %s", where, v.ID, v.Impact, v.Help, strings.Join(v.Targets, " | "))
	}
}
