package views

import (
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"strings"
)

// Shared are the files every page set includes.
var shared = []string{"layout.html", "partials.html"}

// Set is the parsed pages; it implements fiber.Views.
type Set struct {
	funcs template.FuncMap
	pages map[string]*template.Template
}

// New parses every page with the given template functions.
func New(funcs template.FuncMap) (*Set, error) {
	s := &Set{funcs: funcs}
	return s, s.Load()
}

// Load parses the templates (fiber.Views).
func (s *Set) Load() error {
	names, err := fs.Glob(FS, "*.html")
	if err != nil {
		return err
	}
	pages := map[string]*template.Template{}
	for _, name := range names {
		if isShared(name) {
			continue
		}
		t, err := template.New(name).Funcs(s.funcs).ParseFS(FS, append([]string{name}, shared...)...)
		if err != nil {
			return fmt.Errorf("parse view %s: %w", name, err)
		}
		pages[strings.TrimSuffix(name, ".html")] = t
	}
	s.pages = pages
	return nil
}

func isShared(name string) bool {
	for _, s := range shared {
		if s == name {
			return true
		}
	}
	return false
}

// Render writes page name inside the layout (fiber.Views). Layout
// arguments are ignored: every page has the one layout.
func (s *Set) Render(w io.Writer, name string, data any, _ ...string) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("no view %q", name)
	}
	return t.ExecuteTemplate(w, "layout", data)
}

// Has reports whether a page exists.
func (s *Set) Has(name string) bool { _, ok := s.pages[name]; return ok }
