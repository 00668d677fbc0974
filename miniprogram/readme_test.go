package miniprogram_test

import (
	"os"
	"regexp"
	"testing"
)

// Every error code the kit raises of its own is documented on its page
// (and in the API reference), so that a page author can handle each.
func TestReadmeListsEveryKitErrorCode(t *testing.T) {
	src, err := os.ReadFile("miniauth/index.js")
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{}
	for _, m := range regexp.MustCompile(`MiniauthError\('([a-z_]+)'`).FindAllStringSubmatch(string(src), -1) {
		codes[m[1]] = true
	}
	if !codes["logged_out"] || !codes["network_error"] {
		t.Fatalf("found codes %v: the pattern no longer matches index.js", codes)
	}
	for _, doc := range []string{"README.md", "../docs/api.md"} {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for code := range codes {
			if !regexp.MustCompile("`" + code + "`").Match(text) {
				t.Errorf("%s does not list the kit's error code %s", doc, code)
			}
		}
	}
}
