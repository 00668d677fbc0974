package admin

import (
	"html/template"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/miniauth/miniauth/app/avatars"
	"github.com/miniauth/miniauth/handlers/admin/i18n"
)

func (h *Handler) loc() *time.Location { return orLocal(h.Location) }

func orLocal(loc *time.Location) *time.Location {
	if loc != nil {
		return loc
	}
	return time.Local
}

// Funcs are the template functions of the panel's views in one
// language; times show in loc (the server's zone when nil), with the zone.
func Funcs(loc *time.Location) func(lang string) template.FuncMap {
	loc = orLocal(loc)
	return func(code string) template.FuncMap {
		l := i18n.Get(code)
		if l == nil {
			l = i18n.All()[0]
		}
		now := time.Now
		return template.FuncMap{
			"t": l.T,
			"time": func(t time.Time) string {
				if t.IsZero() {
					return "—"
				}
				return l.Time(t, loc)
			},
			"timep": func(t *time.Time) string {
				if t == nil || t.IsZero() {
					return "—"
				}
				return l.Time(*t, loc)
			},
			"gender":  func(g int) string { return genderLabel(l, g) },
			"reason":  func(code string) string { return reasonLabel(l, code) },
			"action":  func(a string) string { return actionLabel(l, a) },
			"expired": func(t time.Time) bool { return !t.After(now()) },
			"avatar":  SafeAvatarURL,
			"initial": initial,
			"num":     l.Num,
			// deref hands an optional id (*int) to functions that print
			// it, such as t: fmt prints a pointer as an address.
			"deref": func(p *int) int {
				if p == nil {
					return 0
				}
				return *p
			},
		}
	}
}

func genderLabel(l *i18n.Lang, g int) string {
	switch g {
	case 1, 2:
		return l.T("gender." + strconv.Itoa(g))
	}
	return l.T("gender.0")
}

// reasonLabel is a session's revoke reason in words; an unknown code
// (from a newer version) shows as "ended" rather than raw.
func reasonLabel(l *i18n.Lang, code string) string {
	if l.Has("reason." + code) {
		return l.T("reason." + code)
	}
	return l.T("reason.other")
}

func actionLabel(l *i18n.Lang, action string) string {
	if l.Has("action." + action) {
		return l.T("action." + action)
	}
	return action
}

// SafeAvatarURL is the URL to show as an image, or "" when the stored
// avatar_url is not one the API accepts (avatars.CheckURL): a stored
// avatar URL is user input.
func SafeAvatarURL(raw string) string { return avatars.DisplayURL(raw) }

func initial(nickname string) string {
	r, _ := utf8.DecodeRuneInString(strings.TrimSpace(nickname))
	if r == utf8.RuneError || !unicode.IsPrint(r) {
		return "?"
	}
	return string(unicode.ToUpper(r))
}
