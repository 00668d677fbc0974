package miniprogram_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/miniauth/miniauth/handlers"
)

// The kit's types against the server they describe: a code, a user field or
// a reason the server gains without its type in index.d.ts fails here.

// stringConsts are the string constants declared in a Go file whose names
// start with prefix ("" for all), by value.
func stringConsts(t *testing.T, file, prefix string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			v := spec.(*ast.ValueSpec)
			for i, name := range v.Names {
				if !strings.HasPrefix(name.Name, prefix) || i >= len(v.Values) {
					continue
				}
				if lit, ok := v.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, _ := strconv.Unquote(lit.Value)
					out = append(out, s)
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no string constants %s* in %s: the test no longer finds them", prefix, file)
	}
	return out
}

// dtsBlock is the text of a declaration in index.d.ts, from its header to
// the end pattern.
func dtsBlock(t *testing.T, header, end string) string {
	t.Helper()
	dts, err := os.ReadFile("miniauth/index.d.ts")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)` + regexp.QuoteMeta(header) + `(.*?)` + end).FindSubmatch(dts)
	if m == nil {
		t.Fatalf("index.d.ts has no %q", header)
	}
	return string(m[1])
}

// jsonFields are the JSON names of a struct's fields.
func jsonFields(typ reflect.Type) []string {
	var out []string
	for i := 0; i < typ.NumField(); i++ {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

func TestTypesCoverEveryServerErrorCode(t *testing.T) {
	union := dtsBlock(t, "export type ServerErrorCode =", ";")
	codes := stringConsts(t, "../app/problem/problem.go", "")
	for _, code := range codes {
		if !strings.Contains(union, "'"+code+"'") {
			t.Errorf("index.d.ts: ServerErrorCode lacks %q (app/problem, handlers/respond.go)", code)
		}
		if handlers.Status(code) == 500 && code != "internal" {
			t.Errorf("%q has no status in handlers/respond.go", code)
		}
	}
	// And nothing the server never sends.
	for _, m := range regexp.MustCompile(`'([a-z_]+)'`).FindAllStringSubmatch(union, -1) {
		found := false
		for _, c := range codes {
			found = found || c == m[1]
		}
		if !found {
			t.Errorf("index.d.ts: ServerErrorCode has %q, which app/problem does not define", m[1])
		}
	}
}

// Every code in the kit README's error tables is typed.
func TestTypesCoverTheReadmeErrorTables(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Errors\n")
	if !ok {
		t.Fatal("miniprogram/README.md has no ## Errors section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	typed := dtsBlock(t, "export type KitErrorCode =", ";") + dtsBlock(t, "export type ServerErrorCode =", ";")
	rows := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(section, -1)
	if len(rows) < 15 {
		t.Fatalf("found %d rows in the README's error tables: the pattern no longer matches", len(rows))
	}
	for _, r := range rows {
		if !strings.Contains(typed, "'"+r[1]+"'") {
			t.Errorf("miniprogram/README.md lists the error %q, index.d.ts does not type it", r[1])
		}
	}
}

func TestTypesDeclareTheUserAndSession(t *testing.T) {
	user := dtsBlock(t, "export interface User {", `\n\}`)
	for _, f := range jsonFields(reflect.TypeOf(handlers.UserJSON{})) {
		if !regexp.MustCompile(`(?m)^  ` + f + `\??:`).MatchString(user) {
			t.Errorf("index.d.ts: User lacks %s (handlers.UserJSON)", f)
		}
	}
	// The session's JSON type is unexported: read its tags from the source.
	src, err := os.ReadFile("../handlers/sessions.go")
	if err != nil {
		t.Fatal(err)
	}
	body := regexp.MustCompile(`(?s)type deviceSessionJSON struct \{(.*?)\n\}`).FindSubmatch(src)
	if body == nil {
		t.Fatal("handlers/sessions.go: deviceSessionJSON not found")
	}
	session := dtsBlock(t, "export interface Session {", `\n\}`)
	for _, m := range regexp.MustCompile(`json:"([a-z_]+)`).FindAllSubmatch(body[1], -1) {
		if !regexp.MustCompile(`(?m)^  ` + string(m[1]) + `\??:`).MatchString(session) {
			t.Errorf("index.d.ts: Session lacks %s (handlers/sessions.go)", m[1])
		}
	}
}

func TestTypesListEveryPhoneOfferReason(t *testing.T) {
	union := dtsBlock(t, "export type PhoneOfferReason =", ";")
	for _, r := range stringConsts(t, "../app/profiles/phonecost.go", "Offer") {
		if !strings.Contains(union, "'"+r+"'") {
			t.Errorf("index.d.ts: PhoneOfferReason lacks %q (app/profiles/phonecost.go)", r)
		}
	}
}

// The typed example uses every export and every client method, so tsc
// checks each against a real call.
func TestTypedExampleUsesEverything(t *testing.T) {
	var all strings.Builder
	for _, f := range []string{"typed-example/app.ts", "typed-example/pages/index/index.ts", "typed-example/pages/weblogin/weblogin.ts"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	src := all.String()
	for _, name := range clientMethods(t) {
		if name == "baseURL" {
			name = "auth.baseURL"
		}
		if !regexp.MustCompile(`\.` + regexp.QuoteMeta(strings.TrimPrefix(name, "auth.")) + `\b`).MatchString(src) {
			t.Errorf("the typed example never uses %s", name)
		}
	}
	js, err := os.ReadFile("miniauth/index.js")
	if err != nil {
		t.Fatal(err)
	}
	exports := regexp.MustCompile(`(?s)module\.exports = \{(.*?)\};`).FindSubmatch(js)
	if exports == nil {
		t.Fatal("index.js: module.exports not found")
	}
	for _, e := range regexp.MustCompile(`(\w+):`).FindAllSubmatch(exports[1], -1) {
		if !regexp.MustCompile(`\b` + string(e[1]) + `\b`).MatchString(src) {
			t.Errorf("the typed example never uses the export %s", e[1])
		}
	}
	for _, o := range kitOptions(t) {
		if !regexp.MustCompile(`\b` + o + `\b`).MatchString(src) {
			t.Errorf("the typed example never sets the option %s", o)
		}
	}
}
