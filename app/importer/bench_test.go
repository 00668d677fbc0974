package importer_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/importer"
	"github.com/miniauth/miniauth/app/importer/importtest"
)

// BenchmarkImportLeanCloud imports b.N LeanCloud users into a new SQLite
// database (bench/importbench runs the binary on a million).
func BenchmarkImportLeanCloud(b *testing.B) {
	var buf bytes.Buffer
	e, err := importtest.LeanCloud(&buf, b.N, false)
	if err != nil {
		b.Fatal(err)
	}
	// From a file, as the command reads it.
	path := filepath.Join(b.TempDir(), "_User.0.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	buf = bytes.Buffer{}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	db := apptest.OpenDB(b, filepath.Join(b.TempDir(), "bench.db"))
	runtime.GC()
	b.ResetTimer()
	c, err := importer.Run(context.Background(), db, f, importer.Options{From: "leancloud", Apps: []string{apptest.AppID},
		DisabledField: importtest.DisabledField})
	if err != nil {
		b.Fatal(err)
	}
	if c.Summary() != e.Summary() {
		b.Fatalf("%s, want %s", c.Summary(), e.Summary())
	}
}
