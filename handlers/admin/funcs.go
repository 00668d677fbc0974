package admin

import (
	"html/template"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/miniauth/miniauth/app/avatars"
	"github.com/miniauth/miniauth/app/profiles"
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
			"detail":  func(d string) string { return detailLabel(l, d) },
			"expired": func(t time.Time) bool { return !t.After(now()) },
			"avatar":  SafeAvatarURL,
			"initial": initial,
			"num":     l.Num,
			"roles":   func(stored string) []string { return profiles.SplitRoles(stored) },
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

// Audit details, as the handlers and commands write them (in English,
// for the log); detailLabel says them in the panel's language.
var (
	detailSession = regexp.MustCompile(`^session (\d+)$`)
	detailRole    = regexp.MustCompile(`^role (operator|viewer)$`)
	detailRequest = regexp.MustCompile(`^((?:GET|HEAD|POST|PUT|PATCH|DELETE) /\S*)$`)
)

// detailLabel is an audit entry's detail in words. A detail it does not
// know (from a newer version) shows as written.
func detailLabel(l *i18n.Lang, d string) string {
	if m := detailSession.FindStringSubmatch(d); m != nil {
		n, _ := strconv.Atoi(m[1])
		return l.T("detail.session", n)
	}
	if m := detailRole.FindStringSubmatch(d); m != nil {
		return l.T("detail.role", l.T("role."+m[1]))
	}
	if m := detailRequest.FindStringSubmatch(d); m != nil {
		return l.T("detail.request", m[1])
	}
	if q, ok := strings.CutPrefix(d, "q="); ok {
		return l.T("detail.search", q)
	}
	switch d {
	case "removal":
		return l.T("detail.totp_removal")
	case "no second factor":
		return l.T("detail.no_second_factor")
	case "all users":
		return l.T("detail.all_users")
	}
	return d
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
