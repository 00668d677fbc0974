package admin

import (
	"html/template"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/miniauth/miniauth/app/avatars"
)

func (h *Handler) loc() *time.Location { return orLocal(h.Location) }

func orLocal(loc *time.Location) *time.Location {
	if loc != nil {
		return loc
	}
	return time.Local
}

// Funcs are the template functions of the panel's views; times show in
// loc (the server's zone when nil).
func Funcs(loc *time.Location) template.FuncMap {
	loc = orLocal(loc)
	return template.FuncMap{
		"time": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.In(loc).Format("2006-01-02 15:04")
		},
		"timep": func(t *time.Time) string {
			if t == nil || t.IsZero() {
				return "—"
			}
			return t.In(loc).Format("2006-01-02 15:04")
		},
		"gender":  genderLabel,
		"avatar":  SafeAvatarURL,
		"initial": initial,
		"num":     thousands,
	}
}

func genderLabel(g int) string {
	switch g {
	case 1:
		return "Male"
	case 2:
		return "Female"
	}
	return "Unknown"
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

func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
