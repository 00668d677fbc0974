package importer

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/miniauth/miniauth/app/avatars"
)

// maxNickname is the longest nickname in characters, as PUT /api/me.
const maxNickname = 64

// cleanNickname removes control characters (C0, C1) and the
// bidirectional overrides PUT /api/me refuses, trims, and cuts to 64
// characters: a nickname is kept, cleaned, rather than dropped
// (IMPORT.md decision 4).
func cleanNickname(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxNickname {
		s = strings.TrimSpace(string([]rune(s)[:maxNickname]))
	}
	return s
}

// pickAvatar returns the first candidate that is an absolute https URL
// of at most 1024 characters that the API itself would accept, and
// whether a non-empty candidate was dropped (avatar_not_https). Files are
// not copied: the URL keeps pointing where it did.
func pickAvatar(candidates ...string) (url string, dropped bool) {
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if strings.HasPrefix(c, "https://") && avatars.CheckURL(c) == "" {
			return c, false
		}
		dropped = true
	}
	return "", dropped
}

// cleanGender is 0, 1 or 2; anything else is 0 (unknown).
func cleanGender(g int) int {
	if g < 0 || g > 2 {
		return 0
	}
	return g
}

var (
	phoneNoise    = strings.NewReplacer(" ", "", "-", "", "(", "", ")", "", "\u00a0", "")
	mainlandPhone = regexp.MustCompile(`^(?:\+86|0086|86)?(1[0-9]{10})$`)
	e164Phone     = regexp.MustCompile(`^\+[1-9][0-9]{4,14}$`)
	plainPhone    = regexp.MustCompile(`^[0-9]{3,20}$`)
)

// cleanPhone normalises a verified number: a mainland number as its 11
// digits (WeChat's purePhoneNumber) with country code 86, any other
// number in E.164 with its "+", as miniauth stores them. ok is false for
// something that is no phone number at all.
func cleanPhone(s string) (phone, countryCode string, ok bool) {
	s = phoneNoise.Replace(strings.TrimSpace(s))
	if s == "" {
		return "", "", false
	}
	if m := mainlandPhone.FindStringSubmatch(s); m != nil {
		return m[1], "86", true
	}
	if strings.HasPrefix(s, "00") && e164Phone.MatchString("+"+s[2:]) {
		return "+" + s[2:], "", true
	}
	if e164Phone.MatchString(s) || plainPhone.MatchString(s) {
		return s, "", true
	}
	return "", "", false
}
