package i18n_test

import (
	"github.com/miniauth/miniauth/app/sessions"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/app/logins"
	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/handlers/admin/i18n"
	"github.com/miniauth/miniauth/views"
)

// TestCataloguesHaveTheSameKeys fails when a key is in one language's
// catalogue and not in the other's, or has an empty message.
func TestCataloguesHaveTheSameKeys(t *testing.T) {
	en, err := i18n.Catalogue(i18n.English)
	if err != nil {
		t.Fatal(err)
	}
	zh, err := i18n.Catalogue(i18n.Chinese)
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range []struct {
		name     string
		from, in map[string]string
	}{{"zh-CN", en, zh}, {"en", zh, en}} {
		var missing []string
		for k := range pair.from {
			if pair.in[k] == "" {
				missing = append(missing, k)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("catalogue %s lacks %d keys: %v", pair.name, len(missing), missing)
		}
	}
}

// usedKeys are the catalogue keys the templates and the handlers name
// literally, plus the ones they build from codes (actions, reasons…).
func usedKeys(t *testing.T) map[string]string {
	keys := map[string]string{}
	tmplKey := regexp.MustCompile(`\bt "([a-z0-9_.]+[a-z0-9_])"`)
	err := fs.WalkDir(views.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(views.FS, path)
		for _, m := range tmplKey.FindAllSubmatch(b, -1) {
			keys[string(m[1])] = "views/" + path
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	goKey := regexp.MustCompile(`"((?:error|login|otp|user|users|account|session|audit|dashboard|nav|detail)\.[a-z0-9_.]+[a-z0-9_])"`)
	files, _ := filepath.Glob("../*.go")
	files = slices.DeleteFunc(files, func(f string) bool { return strings.HasSuffix(f, "_test.go") })
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goKey.FindAllSubmatch(b, -1) {
			keys[string(m[1])] = f
		}
	}
	for _, a := range audit.Actions {
		keys["action."+a] = "audit.Actions"
	}
	for _, r := range []string{sessions.ReasonLogout, logins.ReasonRefreshReuse, profiles.ReasonDisabled,
		sessions.ReasonAdminRevoked, "account_deleted", "expired", "other"} {
		keys["reason."+r] = "revoke reasons"
	}
	for _, k := range []string{"gender.0", "gender.1", "gender.2", "role.operator", "role.viewer", "lang.name"} {
		keys[k] = "funcs"
	}
	for d := range 7 {
		keys["weekday."+strconv.Itoa(d)] = "LongDay"
	}
	for _, s := range []int{400, 403, 404, 429, 500, 503} {
		keys["error.title."+strconv.Itoa(s)] = "errorPage"
		keys["error."+strconv.Itoa(s)] = "errorPage"
	}
	return keys
}

// TestEveryKeyInUseIsTranslated fails when a template or handler names a
// key that a catalogue lacks.
func TestEveryKeyInUseIsTranslated(t *testing.T) {
	keys := usedKeys(t)
	if len(keys) < 100 {
		t.Fatalf("found only %d keys in use: the scan is broken", len(keys))
	}
	for _, l := range i18n.All() {
		for k, where := range keys {
			if !l.Has(k) {
				t.Errorf("%s: key %q (used in %s) is missing", l.Code, k, where)
			}
		}
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct{ cookie, accept, want string }{
		{"", "zh", i18n.Chinese},
		{"", "zh-CN", i18n.Chinese},
		{"", "zh-Hans", i18n.Chinese},
		{"", "zh-CN,zh;q=0.9,en;q=0.8", i18n.Chinese},
		{"", "fr-FR, zh;q=0.5", i18n.Chinese},
		{"", "en-US,en;q=0.9", i18n.English},
		{"", "fr", i18n.English},
		{"", "", i18n.English},
		{"", "!!garbage;;", i18n.English},
		{"en", "zh-CN", i18n.English},
		{"zh-CN", "en", i18n.Chinese},
		{"klingon", "zh", i18n.Chinese},
	} {
		if got := i18n.Match(tc.cookie, tc.accept).Code; got != tc.want {
			t.Errorf("cookie %q Accept-Language %q: %s, want %s", tc.cookie, tc.accept, got, tc.want)
		}
	}
}

func TestFormats(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	at := time.Date(2026, 11, 29, 6, 52, 0, 0, time.UTC)
	en, zh := i18n.Get(i18n.English), i18n.Get(i18n.Chinese)
	for _, tc := range []struct{ got, want string }{
		{en.Time(at, sh), "2026-11-29 14:52 CST"},
		{zh.Time(at, sh), "2026-11-29 14:52 CST"},
		{en.Time(at, time.FixedZone("", 8*3600)), "2026-11-29 14:52 UTC+8"},
		{en.Time(at, time.FixedZone("", 5*3600+1800)), "2026-11-29 12:22 UTC+5:30"},
		{en.Day(at), "Nov 29"},
		{zh.Day(at), "11月29日"},
		{zh.LongDay(at), "11月29日 周日"},
		{en.Num(1234567), "1,234,567"},
		{zh.T("pager.page_of", "1", "3"), "第 1 页，共 3 页"},
		{en.T("no.such.key"), "no.such.key"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestChineseHasNoEnglishLeftOver fails when a Chinese message keeps an
// English word: a translation left half done. Names stay as they are
// (OpenID, UnionID, TOTP, CSV…), and so do command lines.
func TestChineseHasNoEnglishLeftOver(t *testing.T) {
	zh, err := i18n.Catalogue(i18n.Chinese)
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`(?i)\b(OpenID|UnionID|TOTP|CSV|IP|ID|URL|miniauth|Google Authenticator|Microsoft Authenticator|AppID|CST|UTC)\b`)
	command := regexp.MustCompile("miniauth [a-z][a-z -]*(--[a-z-]+ %s)?")
	verbs := regexp.MustCompile(`%[a-z]`)
	paths := regexp.MustCompile(`/[a-z0-9/_.-]+`)
	word := regexp.MustCompile(`[A-Za-z]{2,}`)
	for k, v := range zh {
		// Role names are identifiers the team's services match on: the
		// example stays as typed.
		if k == "lang.name" || k == "user.roles_placeholder" {
			continue
		}
		rest := verbs.ReplaceAllString(names.ReplaceAllString(paths.ReplaceAllString(command.ReplaceAllString(v, ""), ""), ""), "")
		if w := word.FindString(rest); w != "" {
			t.Errorf("zh-CN %s = %q keeps the English %q", k, v, w)
		}
	}
}

// TestNoKeyTwice fails when a catalogue names a key twice: JSON keeps the
// last one silently, so a merge can undo a translation unseen.
func TestNoKeyTwice(t *testing.T) {
	files, err := filepath.Glob("locales/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no catalogues: %v", err)
	}
	key := regexp.MustCompile(`(?m)^\s*"([^"]+)"\s*:`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, m := range key.FindAllStringSubmatch(string(b), -1) {
			if seen[m[1]] {
				t.Errorf("%s names %q twice", f, m[1])
			}
			seen[m[1]] = true
		}
	}
}
