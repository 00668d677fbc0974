package importer

import "time"

// Reasons an entry is skipped (Entry.Skipped) or imported with something
// left off. They are IMPORT.md's, plus line_too_long.
const (
	InvalidJSON          = "invalid_json"
	NotAnObject          = "not_an_object"
	InvalidRecord        = "invalid_record"
	LineTooLong          = "line_too_long"
	NoMiniProgramOpenID  = "no_mini_program_openid"
	DuplicateOpenID      = "duplicate_openid"
	AccountClosed        = "account_closed"
	UnmappedApp          = "unmapped_app"
	AvatarNotHTTPS       = "avatar_not_https"
	PhoneConflict        = "phone_conflict"
	PhoneInvalid         = "phone_invalid"
	UnionIDConflict      = "unionid_conflict"
	OpenIDIgnored        = "openid_ignored"
	NotImportedFieldsSum = "not_imported"
)

// Identity is one (appid, openid) a user logs in with.
type Identity struct {
	AppID, OpenID string
	// Kind is the identity's door; "" is a mini program's.
	Kind    string
	UnionID string
	// CreatedAt and LastLoginAt come from a miniauth export; otherwise
	// CreatedAt is the user's and LastLoginAt is empty.
	CreatedAt   time.Time
	LastLoginAt *time.Time
}

// Candidate is one source entry as miniauth would store it. The first
// identity is the one the user counts as created with.
type Candidate struct {
	Pos        Pos
	SourceID   string
	Identities []Identity
	// UserOpenID is users.openid from a miniauth export ("" elsewhere:
	// the first identity's openid).
	UserOpenID       string
	UnionID          string
	Nickname         string
	AvatarURL        string
	Gender           int
	Phone            string
	PhoneCountryCode string
	Disabled         bool
	CreatedAt        time.Time
	// UpdatedAt, LastLoginAt and LoginCount come from a miniauth export;
	// a zero UpdatedAt means the import time.
	UpdatedAt   time.Time
	LastLoginAt *time.Time
	LoginCount  int
	RiskRank    *int
	RiskFlagged bool
	// notes are what was left off this entry (it is still imported).
	notes []Entry
}

// note records something left off c.
func (c *Candidate) note(reason, detail string) {
	c.notes = append(c.notes, Entry{Pos: c.Pos, SourceID: c.SourceID, Reason: reason, Detail: detail})
}

// Pos is where an entry is in the source: a line (JSON lines, CSV), or
// the position of a record in a JSON array; File names the member of a
// .tar.gz.
type Pos struct {
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Record int    `json:"record,omitempty"`
}

// Entry is one line of the report: an entry skipped, or imported with
// something left off.
type Entry struct {
	Pos
	SourceID string `json:"source_id,omitempty"`
	Reason   string `json:"reason"`
	Detail   string `json:"detail,omitempty"`
	Skipped  bool   `json:"skipped"`
}

// skip is an Entry that skips its record.
func skip(p Pos, sourceID, reason, detail string) *Entry {
	return &Entry{Pos: p, SourceID: sourceID, Reason: reason, Detail: detail, Skipped: true}
}

// NotImported counts what the sources hold that miniauth does not take,
// reported once as counts rather than per entry.
type NotImported struct {
	Passwords      int `json:"passwords"`
	Emails         int `json:"emails"`
	OtherProviders int `json:"other_providers"`
}
