package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestArchitectureIsTrue keeps ARCHITECTURE.md's map true of the code:
// it names every command miniauth has and no command it lacks, and every
// package under app/.
func TestArchitectureIsTrue(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	m := regexp.MustCompile(`(?s)app/cli\s+commands: (.*?)\n\s*│?\s*import and export use`).FindStringSubmatch(doc)
	if m == nil {
		t.Fatal(`ARCHITECTURE.md: no "app/cli  commands: …" line in the map`)
	}
	// The names, commas between them, asides in parentheses.
	names := regexp.MustCompile(`\([^)]*\)`).ReplaceAllString(strings.ReplaceAll(m[1], "│", " "), "")
	listed := map[string]bool{}
	for _, w := range strings.Split(names, ",") {
		if w = strings.Trim(w, " \t\n;."); w != "" {
			listed[w] = true
		}
	}
	have := map[string]bool{}
	for _, c := range commands {
		have[c.name] = true
		if !listed[c.name] {
			t.Errorf("ARCHITECTURE.md does not list the command %q", c.name)
		}
	}
	for name := range listed {
		if !have[name] {
			t.Errorf("ARCHITECTURE.md lists a command %q that does not exist", name)
		}
	}

	root := filepath.Join("..")
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || d.Name() == "testdata" || path == root {
			return err
		}
		srcs, _ := filepath.Glob(filepath.Join(path, "*.go"))
		hasCode := false
		for _, f := range srcs {
			hasCode = hasCode || !strings.HasSuffix(f, "_test.go")
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if hasCode && !strings.Contains(doc, filepath.Base(rel)) {
			t.Errorf("ARCHITECTURE.md does not mention the package app/%s", rel)
		}
		return nil
	})
}
