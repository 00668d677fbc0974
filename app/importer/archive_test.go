package importer_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/importer"
	"github.com/miniauth/miniauth/app/importer/importtest"
)

// LeanCloud's other shapes: the .tar.gz the console mails (every
// _User.*.jsonl in it, other classes ignored), a JSON array, and
// {"results":[…]}.
func TestImportLeanCloudArchiveAndArrays(t *testing.T) {
	t.Parallel()
	var src bytes.Buffer
	e, err := importtest.LeanCloud(&src, 100, true)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(src.String()), "\n")

	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	for _, m := range []struct{ name, body string }{
		{"export/_User.0.jsonl", strings.Join(lines[:60], "\n") + "\n"},
		{"export/Post.0.jsonl", `{"objectId":"p1","title":"not a user"}` + "\n"},
		{"export/_User.1.jsonl", strings.Join(lines[60:], "\n")},
	} {
		tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o600, Size: int64(len(m.body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(m.body))
	}
	tw.Close()
	gz.Close()

	// The arrays hold the valid records only: a broken element ends an
	// array.
	var valid []json.RawMessage
	imported := 0
	for i, l := range lines[1:] {
		p := e.People[i]
		if p.Fate == importtest.InvalidJSON {
			continue
		}
		if p.Fate == importtest.Imported {
			imported++
		}
		valid = append(valid, json.RawMessage(l))
	}
	array, _ := json.Marshal(valid)
	results, _ := json.Marshal(map[string]any{"results": valid, "count": len(valid)})
	arraySummary := func() string {
		return "imported " + itoa(imported) + ", already present 0, skipped " + itoa(len(valid)-imported)
	}

	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		for _, c := range []struct {
			name, want string
			file       []byte
		}{
			{"tar.gz", e.Summary(), tgz.Bytes()},
			{"array", arraySummary(), array},
			{"results", arraySummary(), append([]byte("\ufeff"), results...)},
		} {
			db := apptest.OpenDB(t, b.URL(t))
			got, err := importer.Run(context.Background(), db, bytes.NewReader(c.file),
				importer.Options{From: "leancloud", Apps: []string{apptest.AppID}, DisabledField: importtest.DisabledField})
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if got.Summary() != c.want {
				t.Errorf("%s: %s, want %s", c.name, got.Summary(), c.want)
			}
		}
	})
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// --provider names an authData platform of the app's own naming
// (loginWithAuthDataAndUnionId) that holds mini program openids.
func TestImportLeanCloudCustomProvider(t *testing.T) {
	t.Parallel()
	file := `{"objectId":"60a1b2c3d4e5f60718293a4b","authData":{"wxminiprogram1":{"openid":"o_custom","unionid":"u_custom"}},"nickName":"自定义"}` + "\n"
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		for _, c := range []struct{ provider, want string }{
			{"", "imported 0, already present 0, skipped 1"},
			{"wxminiprogram1", "imported 1, already present 0, skipped 0"},
		} {
			db := apptest.OpenDB(t, b.URL(t))
			got, err := importer.Run(context.Background(), db, strings.NewReader(file),
				importer.Options{From: "leancloud", Apps: []string{apptest.AppID}, Provider: c.provider})
			if err != nil {
				t.Fatal(err)
			}
			if got.Summary() != c.want {
				t.Errorf("--provider %q: %s, want %s", c.provider, got.Summary(), c.want)
			}
			if c.provider != "" {
				u, err := db.Read.User.Query().Only(context.Background())
				if err != nil || u.Unionid == nil || *u.Unionid != "u_custom" || u.Openid != "o_custom" || u.Nickname != "自定义" {
					t.Errorf("user %+v, %v", u, err)
				}
			}
		}
	})
}
