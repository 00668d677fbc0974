package sessions_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mutation is a statement shape that changes users or sessions: Ent's
// update and delete builders on User and Session, and raw SQL doing the
// same.
var (
	mutatingCall = regexp.MustCompile(`^(User|Session)\.(Update|UpdateOne|UpdateOneID|Delete|DeleteOne|DeleteOneID)$`)
	mutatingSQL  = regexp.MustCompile(`(?i)\b(UPDATE\s+(users|sessions)\b|DELETE\s+FROM\s+(users|sessions)\b)`)
)

// undeclared are the places allowed to change users or sessions outside a
// function handed *sessions.Changes, each with the reason no cached
// session can be left answering the old state. A new write path is not
// here: it must run in sessions.Service.Write and declare what it changes.
var undeclared = map[string]string{
	"logins/identities.go:returningLoginSQL":   "the statement of a returning login, inside login's write, which declares UserChanged for a returning user",
	"logins/identities.go:attachUnionID":       "runs inside login's write (above)",
	"logins/phonelogin.go:PhoneLogin":          "the extra step of login's write, which declares UserChanged for a returning user (a new user has nothing cached)",
	"sessions/purge.go:PurgeEnded":             "deletes only sessions that ended or expired: none can be live in a cache",
	"database/identities.go:legacySessionsSQL": "a migration step, before the server answers",
}

// TestEveryWriteDeclaresItsChanges fails when code under app/ or
// handlers/ changes users or sessions outside a write that declares the
// change (sessions.Service.Write and its Changes), unless listed above
// with its reason. The cache coherence of every instance rests on this.
func TestEveryWriteDeclaresItsChanges(t *testing.T) {
	found := 0
	used := map[string]bool{}
	for _, root := range []string{"..", "../../handlers"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			rel, _ := filepath.Rel("..", path)
			file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
			if err != nil {
				return err
			}
			for _, site := range mutations(file) {
				found++
				where := filepath.ToSlash(rel) + ":" + site.owner
				if site.declares {
					continue
				}
				used[where] = true
				if _, ok := undeclared[where]; !ok {
					t.Errorf("%s changes users or sessions without declaring it: run it in sessions.Service.Write and declare the change on its *Changes (or list it in undeclared with the reason it is safe)", where)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for where := range undeclared {
		if !used[where] {
			t.Errorf("undeclared lists %s, which no longer changes users or sessions: take it off", where)
		}
	}
	if found < 20 {
		t.Fatalf("found only %d mutation sites: the scan is broken", found)
	}
}

type mutationSite struct {
	owner    string // the enclosing function (or package-level name)
	declares bool   // an enclosing function takes *Changes
}

// mutations lists the user and session mutations in a file with what
// encloses them.
func mutations(file *ast.File) []mutationSite {
	var out []mutationSite
	var stack []ast.Node
	owner := func() (string, bool) {
		name, declares := "", false
		for _, n := range stack {
			var ft *ast.FuncType
			switch f := n.(type) {
			case *ast.FuncDecl:
				name, ft = f.Name.Name, f.Type
			case *ast.FuncLit:
				ft = f.Type
			case *ast.ValueSpec:
				if name == "" && len(f.Names) > 0 {
					name = f.Names[0].Name
				}
			}
			if ft != nil && ft.Params != nil {
				for _, p := range ft.Params.List {
					if star, ok := p.Type.(*ast.StarExpr); ok {
						if id, ok := star.X.(*ast.Ident); ok && id.Name == "Changes" {
							declares = true
						}
						if sel, ok := star.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "Changes" {
							declares = true
						}
					}
				}
			}
		}
		return name, declares
	}
	ast.Inspect(file, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		stack = append(stack, n)
		switch x := n.(type) {
		case *ast.SelectorExpr:
			if inner, ok := x.X.(*ast.SelectorExpr); ok && mutatingCall.MatchString(inner.Sel.Name+"."+x.Sel.Name) {
				name, declares := owner()
				out = append(out, mutationSite{owner: name, declares: declares})
			}
		case *ast.BasicLit:
			if x.Kind == token.STRING && mutatingSQL.MatchString(x.Value) {
				name, declares := owner()
				out = append(out, mutationSite{owner: name, declares: declares})
			}
		}
		return true
	})
	return out
}
