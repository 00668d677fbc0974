// Package docs_test checks the documentation as a reader would follow it:
// every relative link and #anchor in README.md, ARCHITECTURE.md, docs/
// and miniprogram/ leads somewhere, and the configuration page lists every
// variable `miniauth --help` prints.
package docs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/miniauth/miniauth/app/config"
)

// root is the repository root, seen from this package's directory.
const root = ".."

// markdownFiles are the pages a reader can reach: the front page, the
// architecture map, every page under docs/ and the kit's pages.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md", "ARCHITECTURE.md"}
	for _, dir := range []string{"docs", "miniprogram"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), ".md") {
				rel, err := filepath.Rel(root, path)
				if err != nil {
					return err
				}
				files = append(files, rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(files)
	return files
}

var (
	fence      = regexp.MustCompile("(?ms)^ {0,3}(```|~~~).*?^ {0,3}(```|~~~)[^\\n]*$")
	inlineCode = regexp.MustCompile("`[^`\\n]*`")
	// [text](target) and ![alt](target); the target stops at a space (a title follows) or ")".
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)`)
	refLink    = regexp.MustCompile(`(?m)^ {0,3}\[[^\]]+\]:\s*(\S+)`)
	heading    = regexp.MustCompile(`(?m)^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
	htmlAnchor = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)
	mdLink     = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
)

// stripCode blanks fenced blocks and inline code, which hold examples, not
// links; line numbers stay right.
func stripCode(s string) string {
	return inlineCode.ReplaceAllString(stripFences(s), "``")
}

// stripFences blanks fenced blocks only: a heading's inline code is part
// of its anchor on GitHub ("`--dry-run`" gives "--dry-run").
func stripFences(s string) string {
	return fence.ReplaceAllStringFunc(s, func(m string) string {
		return strings.Repeat("\n", strings.Count(m, "\n"))
	})
}

// slug is GitHub's anchor for a heading: lower case, punctuation dropped,
// spaces turned into hyphens (letters of any script, digits, "-" and "_" stay).
func slug(text string) string {
	text = mdLink.ReplaceAllString(text, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors are the fragment names a page offers: its headings' slugs
// (a repeated one gets -1, -2, … as on GitHub) and explicit <a id>.
func anchors(text string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, m := range heading.FindAllStringSubmatch(stripFences(text), -1) {
		s := slug(m[2])
		if n := seen[s]; n > 0 {
			out[fmt.Sprintf("%s-%d", s, n)] = true
		} else {
			out[s] = true
		}
		seen[s]++
	}
	for _, m := range htmlAnchor.FindAllStringSubmatch(text, -1) {
		out[strings.ToLower(m[1])] = true
	}
	return out
}

// links are the link targets a page holds, outside code.
func links(text string) []string {
	text = stripCode(text)
	var out []string
	for _, m := range inlineLink.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	for _, m := range refLink.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// external reports whether a target leaves the repository (checked by
// nobody here: no network in tests).
func external(target string) bool {
	return regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`).MatchString(target)
}

func TestDocsLinksResolve(t *testing.T) {
	files := markdownFiles(t)
	pages := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		pages[filepath.ToSlash(f)] = string(b)
	}
	checked := 0
	for _, f := range files {
		from := filepath.ToSlash(f)
		for _, target := range links(pages[from]) {
			if target == "" || external(target) {
				continue
			}
			checked++
			path, frag, _ := strings.Cut(target, "#")
			dest := from
			if path != "" {
				if strings.HasPrefix(path, "/") {
					t.Errorf("%s: link %q is absolute; use a path relative to the page", from, target)
					continue
				}
				dest = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(from), path)))
				if strings.HasPrefix(dest, "../") {
					t.Errorf("%s: link %q leaves the repository", from, target)
					continue
				}
				if _, err := os.Stat(filepath.Join(root, dest)); err != nil {
					t.Errorf("%s: link %q points nowhere (%s does not exist)", from, target, dest)
					continue
				}
			}
			if frag == "" {
				continue
			}
			text, ok := pages[dest]
			if !ok {
				b, err := os.ReadFile(filepath.Join(root, dest))
				if err != nil || !strings.HasSuffix(dest, ".md") {
					t.Errorf("%s: link %q has an anchor into %s, which is not a Markdown page", from, target, dest)
					continue
				}
				text = string(b)
			}
			if !anchors(text)[strings.ToLower(frag)] {
				t.Errorf("%s: link %q: %s has no heading with anchor #%s", from, target, dest, frag)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d relative links found in %v: the link pattern no longer matches", checked, files)
	}
}

// The docs map on the front page reaches every page under docs/, so no
// topic is stranded where a newcomer cannot find it.
func TestReadmeMapsEveryDocsPage(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, l := range links(string(readme)) {
		path, _, _ := strings.Cut(l, "#")
		targets[filepath.ToSlash(filepath.Clean(path))] = true
	}
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no pages in docs/: %v", err)
	}
	for _, p := range pages {
		rel := "docs/" + filepath.Base(p)
		if !targets[rel] {
			t.Errorf("README.md does not link %s: add it to the docs map", rel)
		}
	}
}

// Every variable `miniauth --help` lists has a row on the configuration page.
func TestConfigurationPageListsEveryVariable(t *testing.T) {
	page, err := os.ReadFile(filepath.Join(root, "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	vars := regexp.MustCompile(`(?m)^\s+(MINIAUTH_[A-Z0-9_]+)`).FindAllStringSubmatch(config.Usage(), -1)
	if len(vars) < 10 {
		t.Fatalf("found %d variables in miniauth --help: the pattern no longer matches its output", len(vars))
	}
	for _, v := range vars {
		if !strings.Contains(string(page), "`"+v[1]+"`") {
			t.Errorf("docs/configuration.md does not document %s (listed by miniauth --help)", v[1])
		}
	}
}

// The checker itself: GitHub's slugs for headings this repository uses,
// and links inside code are not links.
func TestSlugAndLinkRules(t *testing.T) {
	for heading, want := range map[string]string{
		"WeChat data: avatar, phone number, encrypted data": "wechat-data-avatar-phone-number-encrypted-data",
		"Backups (SQLite)":                     "backups-sqlite",
		"Avatar upload: `POST /api/me/avatar`": "avatar-upload-post-apimeavatar",
		"What your backend may trust, and why it must hide behind the proxy": "what-your-backend-may-trust-and-why-it-must-hide-behind-the-proxy",
		"隐私保护指引 (privacy)":                                                   "隐私保护指引-privacy",
		"[Link](x.md) text":                                                  "link-text",
	} {
		if got := slug(heading); got != want {
			t.Errorf("slug(%q) = %q, want %q", heading, got, want)
		}
	}
	got := links("see [a](a.md#x) and `[b](b.md)`\n```\n[c](c.md)\n```\n[d]: d.md\n")
	if strings.Join(got, " ") != "a.md#x d.md" {
		t.Errorf("links = %q, want [a.md#x d.md]", got)
	}
	a := anchors("# Top\n## Same\n## Same\n```\n# not a heading\n```\n<a id=\"here\"></a>\n")
	for _, want := range []string{"top", "same", "same-1", "here"} {
		if !a[want] {
			t.Errorf("anchors lack %q: %v", want, a)
		}
	}
	if a["not-a-heading"] {
		t.Error("a heading inside a code fence counted as an anchor")
	}
}
