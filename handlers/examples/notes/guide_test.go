package notes_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// GuideWalkEnv, set to 1, runs TestGuideWalk.
const GuideWalkEnv = "MINIAUTH_GUIDE_WALK"

// TestGuideWalk follows ARCHITECTURE.md's "Add your own API" in a copy of
// the repository: it writes the guide's files exactly as shown, adds its
// edge to ent/schema/user.go, runs `go generate ./ent` and the guide's
// test. So the Ent half of the guide, which this package cannot ship (see
// the package comment), is compiled and run too. It runs only with
// GuideWalkEnv=1 (as in CI), and never under -short.
func TestGuideWalk(t *testing.T) {
	// The walk regenerates ent and builds the server in a copy of the
	// repository: a minute on a small machine, so a laptop's go test ./...
	// runs it only when asked; CI (.ci/run) always asks.
	if testing.Short() || os.Getenv(GuideWalkEnv) != "1" {
		t.Skipf("not walking the guide (a minute: it regenerates ent and builds the server in a copy); set %s=1 to run it, as .ci/run does", GuideWalkEnv)
	}
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not found: cannot list the repository's files to copy")
	}
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile(filepath.Join(root, "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}

	// A clean copy: the files git knows of, as they are now.
	list := exec.Command(gitBin, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	list.Dir = root
	out, err := list.Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): cannot list the repository's files to copy", err)
	}
	dst := t.TempDir()
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		b, err := os.ReadFile(filepath.Join(root, name))
		if os.IsNotExist(err) {
			continue // deleted in the work tree
		}
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dst, name), b)
	}

	// Step 1 to 4: the guide's files, and its line in user.go.
	files := regexp.MustCompile("(?s)<!-- guide-file: (\\S+) -->\n```go\n(.*?)```").FindAllSubmatch(guide, -1)
	if len(files) != 4 {
		t.Fatalf("ARCHITECTURE.md has %d guide files, want 4 (schema, handlers, main.go, test)", len(files))
	}
	for _, f := range files {
		writeFile(t, filepath.Join(dst, string(f[1])), f[2])
	}
	edge := regexp.MustCompile("(?s)<!-- guide-edge -->\n```go\n(.*?)```").FindSubmatch(guide)
	if edge == nil {
		t.Fatal("ARCHITECTURE.md has no guide-edge block")
	}
	userGo := filepath.Join(dst, "ent", "schema", "user.go")
	b, err := os.ReadFile(userGo)
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "\t\tedge.To(\"sessions\", Session.Type).Annotations(entsql.OnDelete(entsql.Cascade)),\n"
	if strings.Count(string(b), anchor) != 1 {
		t.Fatalf("ent/schema/user.go no longer has the sessions edge the guide says to add after")
	}
	writeFile(t, userGo, []byte(strings.Replace(string(b), anchor, anchor+string(edge[1]), 1)))

	// The guide's commands.
	for _, args := range [][]string{
		{"generate", "./ent"},
		{"vet", ".", "./handlers/notes/"},
		{"test", "-count=1", "./handlers/notes/"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dst
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
