package avatars

import (
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxURL is the longest avatar_url, in characters.
const MaxURL = 1024

// localURL is the one accepted form of this server's own avatar URLs:
// no percent-encoding, no dot segments, no query or fragment, nothing a
// browser would resolve to another path of this origin (an admin's
// browser fetches it while signed in to the panel).
var localURL = regexp.MustCompile(`^/uploads/avatars/[A-Za-z0-9_-]{1,128}\.(png|jpg|webp)$`)

// IsLocalURL reports whether s is exactly /uploads/avatars/<name>.<ext>.
func IsLocalURL(s string) bool { return localURL.MatchString(s) }

// CheckURL says what is wrong with an avatar_url, or "" when it is
// acceptable: an absolute https URL, or exactly
// /uploads/avatars/<name>.<png|jpg|webp>. The API validates with it and
// the admin panel renders only what it accepts (DisplayURL), so the two
// cannot drift apart. Whether a local file belongs to the user is checked
// against the database (profiles.Service.CheckOwnAvatar).
func CheckURL(s string) string {
	if utf8.RuneCountInString(s) > MaxURL {
		return "must be at most 1024 characters"
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, badURLRune) {
		return "must not contain spaces, backslashes or control characters"
	}
	if strings.HasPrefix(s, "/") {
		if !IsLocalURL(s) {
			return "must be an absolute https URL or exactly /uploads/avatars/<name>.<png|jpg|webp>"
		}
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "must be an absolute https URL or exactly /uploads/avatars/<name>.<png|jpg|webp>"
	}
	return ""
}

// badURLRune finds spaces, backslashes, control characters and invisible
// formatting (bidirectional overrides) in a URL.
func badURLRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) || r == '\\'
}

// DisplayURL is the URL to put in an <img src>, or "" when a stored
// avatar_url is not acceptable by CheckURL (stored values are user input,
// and older versions accepted more).
func DisplayURL(raw string) string {
	if raw == "" || CheckURL(raw) != "" {
		return ""
	}
	if IsLocalURL(raw) {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.String()
}
