// Package importtest writes realistic exports of LeanCloud's _User and
// uniCloud's uni-id-users for tests and the import benchmark: Chinese and
// emoji nicknames, phones in every notation, disabled and closed
// accounts, unionids, duplicates and broken lines, in a fixed pattern
// whose outcome it knows.
package importtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Fates of an entry, as the import's report names them; Imported for a
// user that is created.
const (
	Imported            = "imported"
	DuplicateOpenID     = "duplicate_openid"
	InvalidJSON         = "invalid_json"
	NoMiniProgramOpenID = "no_mini_program_openid"
	AccountClosed       = "account_closed"
	UnmappedApp         = "unmapped_app"
)

// DisabledField is the LeanCloud column the exports mark disabled users
// with (import with --disabled-field blocked).
const DisabledField = "blocked"

// DCloudApp is the uni-app project of the uni-id export's users (import
// with --app DCloudApp=APPID); OtherDCloudApp is one the import is not
// told about.
const (
	DCloudApp      = "__UNI__A1B2C3D"
	OtherDCloudApp = "__UNI__E5F6A7B"
)

// Person is one entry of an export and what the import should make of
// it.
type Person struct {
	Line     int // 1-based line of the file
	SourceID string
	Fate     string
	OpenID   string // "" when the entry has no mini program openid
	// What the user should look like once imported.
	UnionID   string // "" when none, or when an earlier user has it
	Nickname  string
	AvatarURL string
	Gender    int
	Phone     string
	CreatedAt time.Time
	Disabled  bool
	// Notes are the report's reasons for what was left off.
	Notes []string
}

// Export is what was written.
type Export struct {
	// People are the entries in file order (only when asked to keep
	// them: a million would fill the memory).
	People []Person
	// Counts per fate, and of the notes per reason.
	Fates map[string]int
	Notes map[string]int
	// Records is every entry, broken lines included.
	Records int
}

// Imported people only.
func (e *Export) Imported() []Person {
	var out []Person
	for _, p := range e.People {
		if p.Fate == Imported {
			out = append(out, p)
		}
	}
	return out
}

// Skipped counts the entries that are not imported.
func (e *Export) Skipped() int { return e.Records - e.Fates[Imported] }

// Summary is the import's last line for this export into an empty
// database.
func (e *Export) Summary() string {
	return fmt.Sprintf("imported %d, already present 0, skipped %d", e.Fates[Imported], e.Skipped())
}

// nicknames are written in turn: what the source holds, and what miniauth
// keeps.
var nicknames = [][2]string{
	{"小明", "小明"},
	{"张伟😀", "张伟😀"},
	{"  🐼熊猫宝宝  ", "🐼熊猫宝宝"},
	{"Ana María", "Ana María"},
	{"bell\u0007 and\u0085tab\t", "bell andtab"},
	{"👨‍👩‍👧‍👦 一家人", "👨‍👩‍👧‍👦 一家人"},
	{strings.Repeat("长", 70), strings.Repeat("长", 64)},
	{"", ""},
	{"李\u202e娜", "李娜"},
}

// The pattern repeats every 50 entries; these positions are special.
const (
	posDuplicate    = 7  // the openid of the user before
	posBroken       = 13 // a line cut short
	posNoOpenID     = 19 // only another provider's id
	posDisabled     = 23 // disabled (LeanCloud's column; uni-id status 1–3)
	posClosed       = 29 // uni-id: status 4; LeanCloud: the legacy lc_weapp_union form
	posUnionDup     = 31 // the unionid of an earlier user
	posPhoneDup     = 37 // the phone of an earlier user
	posHTTPAvatar   = 41 // an http avatar, left off
	posUnverified   = 43 // a phone that was never verified
	posUnmapped     = 47 // uni-id: an openid of a project not mapped
	patternLen      = 50
	firstCreated    = 1546300800 // 2019-01-01
	createdInterval = 37         // seconds between sign-ups
)

// gen is the state both formats share.
type gen struct {
	w          *bufio.Writer
	keep       bool
	e          *Export
	line       int
	lastOpenID string
	lastUnion  string
	lastPhone  string
}

func newGen(w io.Writer, keep bool) *gen {
	return &gen{w: bufio.NewWriterSize(w, 1<<20), keep: keep,
		e: &Export{Fates: map[string]int{}, Notes: map[string]int{}}}
}

func (g *gen) write(v any, p Person) error {
	var b []byte
	if s, ok := v.(string); ok {
		b = []byte(s)
	} else {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return err
		}
	}
	g.line++
	g.w.Write(b)
	g.w.WriteByte('\n')
	if p.Fate == "" { // a header line
		return nil
	}
	p.Line = g.line
	g.e.Records++
	g.e.Fates[p.Fate]++
	if p.Fate == Imported {
		for _, n := range p.Notes {
			g.e.Notes[n]++
		}
		g.lastOpenID = p.OpenID
		if p.UnionID != "" {
			g.lastUnion = p.UnionID
		}
		if p.Phone != "" {
			g.lastPhone = p.Phone
		}
	}
	if g.keep {
		g.e.People = append(g.e.People, p)
	}
	return nil
}

// person is entry i's user before the format writes it: its fields as
// the source holds them (raw) and as miniauth should keep them (p).
type person struct {
	p            Person
	rawNick      string
	rawAvatar    string
	rawPhone     string
	verified     bool
	rawUnion     string
	sourceOpenID string
}

func (g *gen) person(i int) person {
	k := i % patternLen
	nick := nicknames[i%len(nicknames)]
	created := time.Unix(firstCreated+int64(i)*createdInterval, int64(i%1000)*1e6).UTC()
	r := person{p: Person{Fate: Imported, Nickname: nick[1], Gender: i % 3, CreatedAt: created}, rawNick: nick[0]}
	r.sourceOpenID = fmt.Sprintf("oLcW%024d", i)
	r.p.OpenID = r.sourceOpenID
	if i%3 == 0 {
		r.rawUnion = fmt.Sprintf("oUnI%024d", i)
		r.p.UnionID = r.rawUnion
	}
	if i%2 == 0 {
		r.rawAvatar = fmt.Sprintf("https://thirdwx.qlogo.cn/mmopen/vi_32/%d/132", i)
		r.p.AvatarURL = r.rawAvatar
	}
	if i%4 == 0 {
		digits := fmt.Sprintf("139%08d", i%100000000)
		notations := []string{"+86" + digits, "+86 " + digits[:3] + "-" + digits[3:7] + "-" + digits[7:], digits, "0086" + digits}
		r.rawPhone, r.verified, r.p.Phone = notations[(i/4)%len(notations)], true, digits
	}
	switch k {
	case posDuplicate:
		if g.lastOpenID != "" {
			r.sourceOpenID, r.p.OpenID = g.lastOpenID, g.lastOpenID
			r.p.Fate = DuplicateOpenID
		}
	case posDisabled:
		r.p.Disabled = true
	case posUnionDup:
		if g.lastUnion != "" {
			r.rawUnion, r.p.UnionID = g.lastUnion, ""
			r.p.Notes = append(r.p.Notes, "unionid_conflict")
		}
	case posPhoneDup:
		if g.lastPhone != "" {
			r.rawPhone, r.verified, r.p.Phone = "+86"+g.lastPhone, true, ""
			r.p.Notes = append(r.p.Notes, "phone_conflict")
		}
	case posHTTPAvatar:
		r.rawAvatar, r.p.AvatarURL = fmt.Sprintf("http://thirdwx.qlogo.cn/mmopen/%d/132", i), ""
		r.p.Notes = append(r.p.Notes, "avatar_not_https")
	case posUnverified:
		r.rawPhone, r.verified, r.p.Phone = "+8613700000000", false, ""
	}
	return r
}

// objectID is a MongoDB-style id whose time is created.
func objectID(created time.Time, i int) string {
	return fmt.Sprintf("%08x%016x", created.Unix(), i)
}

// LeanCloud writes n users as LeanCloud's console exports _User.0.jsonl:
// the #filetype header, then one object per line. keep keeps the People.
func LeanCloud(w io.Writer, n int, keep bool) (*Export, error) {
	g := newGen(w, keep)
	g.write(`#filetype:JSON-streaming {"type":"Class","class":"_User"}`, Person{})
	for i := 0; i < n; i++ {
		r := g.person(i)
		id := objectID(r.p.CreatedAt, i)
		r.p.SourceID = id
		u := map[string]any{
			"objectId":  id,
			"username":  fmt.Sprintf("%025x", i*7919),
			"createdAt": r.p.CreatedAt.Format("2006-01-02T15:04:05.000Z"),
			"updatedAt": r.p.CreatedAt.Add(time.Hour).Format("2006-01-02T15:04:05.000Z"),
			"ACL":       map[string]any{"*": map[string]bool{"read": true}},
			"nickName":  r.rawNick,
			"gender":    r.p.Gender,
			"city":      "深圳", "province": "广东", "country": "中国", "language": "zh_CN",
		}
		if i%10 == 0 {
			u["password"], u["salt"] = "oL1ffNxp5hY0aQ==", "c2FsdA=="
			u["email"] = fmt.Sprintf("user%d@example.com", i)
		}
		if r.rawAvatar != "" {
			u["avatarUrl"] = r.rawAvatar
		}
		if r.rawPhone != "" {
			u["mobilePhoneNumber"], u["mobilePhoneVerified"] = r.rawPhone, r.verified
		}
		weapp := map[string]any{"openid": r.sourceOpenID, "session_key": "c2Vzc2lvbmtleQ==", "expires_in": 7200}
		auth := map[string]any{"lc_weapp": weapp}
		if r.rawUnion != "" {
			weapp["unionid"] = r.rawUnion
			auth["_weixin_unionid"] = map[string]any{"uid": r.rawUnion}
		}
		if r.p.Disabled {
			u[DisabledField] = true
		}
		u["authData"] = auth
		switch i % patternLen {
		case posBroken:
			b, _ := json.Marshal(u)
			r.p = Person{SourceID: id, Fate: InvalidJSON, OpenID: r.sourceOpenID}
			if err := g.write(string(b[:len(b)/2]), r.p); err != nil {
				return nil, err
			}
			continue
		case posNoOpenID:
			u["authData"] = map[string]any{"weixin": map[string]any{"openid": "oWx" + id, "access_token": "x"}}
			r.p = Person{SourceID: id, Fate: NoMiniProgramOpenID}
		case posClosed: // the form before JS SDK 3.13
			auth := map[string]any{"lc_weapp_union": map[string]any{"openid": r.sourceOpenID, "uid": r.rawUnion}}
			u["authData"] = auth
		}
		if err := g.write(u, r.p); err != nil {
			return nil, err
		}
	}
	return g.e, g.w.Flush()
}

// UniID writes n users as uniCloud's web console exports uni-id-users:
// one object per line, _id as {"$oid"}, register_date in ms, openids
// under wx_openid.mp and mp_<DCloud appid> (uni-id-pages ≥ 1.0.8), some
// under the old mp-weixin key.
func UniID(w io.Writer, n int, keep bool) (*Export, error) {
	g := newGen(w, keep)
	for i := 0; i < n; i++ {
		r := g.person(i)
		id := objectID(r.p.CreatedAt, i)
		r.p.SourceID = id
		u := map[string]any{
			"_id":             map[string]string{"$oid": id},
			"nickname":        r.rawNick,
			"gender":          r.p.Gender,
			"register_date":   r.p.CreatedAt.UnixMilli(),
			"register_env":    map[string]any{"appid": DCloudApp, "uni_platform": "mp-weixin"},
			"dcloud_appid":    []string{DCloudApp},
			"last_login_date": r.p.CreatedAt.Add(time.Hour).UnixMilli(),
			"token":           []string{"eyJhbGciOi.x.y"},
			"third_party":     map[string]any{"mp_weixin": map[string]string{"session_key": "c2Vzc2lvbmtleQ=="}},
		}
		if i%10 == 0 {
			u["password"] = "$UNI_ID_HMAC_SHA256$20$c2FsdA"
		}
		switch {
		case i%5 == 1:
			u["wx_openid"] = map[string]string{"mp-weixin": r.sourceOpenID} // the old uni-id module
		case i%5 == 2:
			u["wx_openid"] = map[string]string{"mp": r.sourceOpenID} // uni-id-pages ≤ 1.0.7
		default:
			u["wx_openid"] = map[string]string{"mp": r.sourceOpenID, "mp_" + DCloudApp: r.sourceOpenID}
		}
		if r.rawUnion != "" {
			u["wx_unionid"] = r.rawUnion
		}
		if r.rawAvatar != "" {
			if i%4 == 0 {
				u["avatar_file"] = map[string]string{"name": "a.jpg", "extname": "jpg", "url": r.rawAvatar}
			} else {
				u["avatar"] = r.rawAvatar
			}
		}
		if r.rawPhone != "" {
			confirmed := 0
			if r.verified {
				confirmed = 1
			}
			u["mobile"], u["mobile_confirmed"] = r.rawPhone, confirmed
		}
		if r.p.Disabled {
			u["status"] = 1 + i%3
		} else if i%7 == 0 {
			u["status"] = 0
		}
		switch i % patternLen {
		case posBroken:
			b, _ := json.Marshal(u)
			r.p = Person{SourceID: id, Fate: InvalidJSON}
			if err := g.write(string(b[:len(b)/2]), r.p); err != nil {
				return nil, err
			}
			continue
		case posNoOpenID:
			u["wx_openid"] = map[string]string{"app": "oApp" + id}
			r.p = Person{SourceID: id, Fate: NoMiniProgramOpenID}
		case posClosed:
			u["status"] = 4
			r.p = Person{SourceID: id, Fate: AccountClosed, OpenID: r.sourceOpenID}
		case posUnmapped:
			u["wx_openid"] = map[string]string{"mp_" + OtherDCloudApp: r.sourceOpenID}
			u["dcloud_appid"] = []string{OtherDCloudApp}
			r.p = Person{SourceID: id, Fate: UnmappedApp, OpenID: r.sourceOpenID}
		}
		if err := g.write(u, r.p); err != nil {
			return nil, err
		}
	}
	return g.e, g.w.Flush()
}
