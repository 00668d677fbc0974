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

// Set is the parsed pages, once per language; it implements fiber.Views.
type Set struct {
	funcs func(lang string) template.FuncMap
	langs []string
	pages map[string]map[string]*template.Template // lang → page → template
}

// Localized is page data that says which language to render in.
type Localized interface{ Language() string }

// New parses every page once per language, with that language's template
// functions (its "t" translates, its "time" formats…). The first language
// is the fallback.
func New(funcs func(lang string) template.FuncMap, langs ...string) (*Set, error) {
	if len(langs) == 0 {
		return nil, fmt.Errorf("views: no language")
	}
	s := &Set{funcs: funcs, langs: langs}
	return s, s.Load()
}

// Load parses the templates (fiber.Views).
func (s *Set) Load() error {
	names, err := fs.Glob(FS, "*.html")
	if err != nil {
		return err
	}
	all := map[string]map[string]*template.Template{}
	for _, lang := range s.langs {
		pages := map[string]*template.Template{}
		for _, name := range names {
			if isShared(name) {
				continue
			}
			t, err := template.New(name).Funcs(s.funcs(lang)).ParseFS(FS, append([]string{name}, shared...)...)
			if err != nil {
				return fmt.Errorf("parse view %s: %w", name, err)
			}
			pages[strings.TrimSuffix(name, ".html")] = t
		}
		all[lang] = pages
	}
	s.pages = all
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

// Render writes page name inside the layout, in the language the data
// asks for (fiber.Views). Layout arguments are ignored: every page has
// the one layout.
func (s *Set) Render(w io.Writer, name string, data any, _ ...string) error {
	pages := s.pages[s.langs[0]]
	if l, ok := data.(Localized); ok {
		if p, ok := s.pages[l.Language()]; ok {
			pages = p
		}
	}
	t, ok := pages[name]
	if !ok {
		return fmt.Errorf("no view %q", name)
	}
	return t.ExecuteTemplate(w, "layout", data)
}

// Has reports whether a page exists.
func (s *Set) Has(name string) bool { _, ok := s.pages[s.langs[0]][name]; return ok }

// Names lists the pages.
func (s *Set) Names() []string {
	var out []string
	for name := range s.pages[s.langs[0]] {
		out = append(out, name)
	}
	return out
}
