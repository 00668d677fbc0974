package profiles

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/miniauth/miniauth/app/avatars"
)

// Limits of the profile fields, in characters.
const (
	MaxNickname  = 64
	MaxAvatarURL = avatars.MaxURL
)

// Profile is a partial profile update: nil fields are left alone.
type Profile struct {
	Nickname  *string
	AvatarURL *string
	Gender    *int

	review *reviewFlag // the nickname's content check asks for review
}

// Empty reports whether the update changes nothing.
func (p Profile) Empty() bool { return p.Nickname == nil && p.AvatarURL == nil && p.Gender == nil }

// Validate normalises the profile (trims the nickname) and returns a
// message per invalid field, or nil.
func (p *Profile) Validate() map[string]string {
	bad := map[string]string{}
	if p.Nickname != nil {
		n := strings.TrimSpace(*p.Nickname)
		switch {
		case !utf8.ValidString(n):
			bad["nickname"] = "must be valid UTF-8"
		case n == "":
			bad["nickname"] = "must not be empty"
		case utf8.RuneCountInString(n) > MaxNickname:
			bad["nickname"] = "must be at most 64 characters"
		case hasControl(n):
			bad["nickname"] = "must not contain control characters"
		}
		p.Nickname = &n
	}
	if p.AvatarURL != nil {
		if msg := avatars.CheckURL(*p.AvatarURL); msg != "" {
			bad["avatar_url"] = msg
		}
	}
	if p.Gender != nil && (*p.Gender < 0 || *p.Gender > 2) {
		bad["gender"] = "must be 0 (unknown), 1 (male) or 2 (female)"
	}
	if len(bad) == 0 {
		return nil
	}
	return bad
}

// hasControl finds control characters and the bidirectional overrides
// that can make a nickname display as something else. Zero-width joiners
// stay allowed: emoji sequences need them.
func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) {
			return true
		}
	}
	return false
}
