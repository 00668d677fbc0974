package importer

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// uniID reads a uniCloud uni-id-users export (IMPORT.md §2). Openids are
// filed under a uni-app project (a DCloud appid), never a WeChat AppID:
// apps maps the one to the other, defaultApp is where the version-less
// "mp" openid goes when the user's dcloud_appid does not decide.
type uniID struct {
	apps        map[string]string // DCloud appid → WeChat AppID
	defaultApp  string            // WeChat AppID, or ""
	anyApp      string            // with one WeChat app and no --app: every mp key goes to it
	notImported *NotImported
}

func (f *uniID) check(first rawRecord, _ recordReader) error {
	o, err := firstObject("uni-id", first)
	if err != nil {
		return err
	}
	if o["objectId"] != nil {
		return notFormat("uni-id", first, o, "has an objectId")
	}
	if o["_id"] == nil {
		return notFormat("uni-id", first, o, "has no _id")
	}
	return nil
}

// uniIDStatusClosed is 已注销: the account was closed (IMPORT.md
// decision 2); 1 禁用, 2 审核中 and 3 审核拒绝 all refuse the login.
const uniIDStatusClosed = 4

func (f *uniID) decode(rec rawRecord) (*Candidate, *Entry) {
	o, bad := parseObject(rec.pos, rec.json)
	if bad != nil {
		return nil, bad
	}
	id := mongoID(o["_id"])
	invalid := func(detail string) (*Candidate, *Entry) {
		return nil, skip(rec.pos, id, InvalidRecord, detail)
	}
	status := 0
	if !isNull(o["status"]) {
		s, ok := o.number("status")
		if !ok || s < 0 || s > 4 || s != float64(int(s)) {
			return invalid("status is not 0–4")
		}
		status = int(s)
	}
	if status == uniIDStatusClosed {
		return nil, skip(rec.pos, id, AccountClosed, "status 4 (已注销): the account was closed")
	}
	wx, err := o.obj("wx_openid")
	if err != nil {
		return invalid(err.Error())
	}
	if o.looseStr("password") != "" {
		f.notImported.Passwords++
	}
	if o.looseStr("email") != "" {
		f.notImported.Emails++
	}
	other := false
	for _, k := range []string{"qq_openid", "ali_openid", "apple_openid"} {
		if !isNull(o[k]) && string(o[k]) != "{}" {
			other = true
		}
	}

	c := &Candidate{Pos: rec.pos, SourceID: id}
	byApp := map[string]string{} // WeChat AppID → openid, from mp_<DCloud appid>
	mpValues := map[string]bool{}
	unmapped, miniProgram := false, false
	keys := make([]string, 0, len(wx))
	for k := range wx {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a stable order of identities, whatever the map's
	for _, k := range keys {
		dcloud, isMP := strings.CutPrefix(k, "mp_")
		if !isMP {
			if k != "mp" && k != "mp-weixin" {
				other = other || !isNull(wx[k])
			}
			continue
		}
		openid, err := wx.str(k)
		if err != nil {
			return invalid("wx_openid." + err.Error())
		}
		if openid == "" {
			continue
		}
		miniProgram = true
		mpValues[openid] = true
		app := f.appOf(dcloud)
		if app == "" {
			unmapped = true
			continue
		}
		if prev, dup := byApp[app]; dup {
			if prev != openid {
				c.note(OpenIDIgnored, fmt.Sprintf("wx_openid.%s is ignored: app %s already has another openid of this user", k, app))
			}
			continue
		}
		byApp[app] = openid
		c.Identities = append(c.Identities, Identity{AppID: app, OpenID: openid})
	}
	legacy, err := wx.str("mp")
	if err != nil {
		return invalid("wx_openid." + err.Error())
	}
	if legacy == "" {
		if legacy, err = wx.str("mp-weixin"); err != nil {
			return invalid("wx_openid." + err.Error())
		}
	}
	if legacy != "" && !mpValues[legacy] {
		miniProgram = true
		app, err := f.legacyApp(o)
		switch {
		case err != nil:
			return invalid(err.Error())
		case app == "":
			unmapped = true
		case byApp[app] != "":
			c.note(OpenIDIgnored, fmt.Sprintf("wx_openid.mp is ignored: app %s already has the openid of its mp_ key", app))
		default:
			byApp[app] = legacy
			// The version-less key is the one written at registration.
			c.Identities = append([]Identity{{AppID: app, OpenID: legacy}}, c.Identities...)
		}
	}
	if other {
		f.notImported.OtherProviders++
	}
	if len(c.Identities) == 0 {
		if unmapped {
			return nil, skip(rec.pos, id, UnmappedApp, "its openids belong to uni-app projects not mapped with --app")
		}
		if !miniProgram {
			return nil, skip(rec.pos, id, NoMiniProgramOpenID, "no wx_openid.mp, mp_<appid> or mp-weixin")
		}
	}
	if unmapped && len(c.Identities) > 0 {
		c.note(UnmappedApp, "openids of uni-app projects not mapped with --app were left off")
	}
	c.UnionID, err = o.str("wx_unionid")
	if err != nil {
		return invalid(err.Error())
	}
	c.Nickname = cleanNickname(o.looseStr("nickname"))
	c.AvatarURL = avatarOf(c, fileURL(o, "avatar_file"), o.looseStr("avatar"))
	c.Gender = o.gender("gender")
	if confirmed, ok := o.number("mobile_confirmed"); ok && confirmed == 1 {
		phoneOf(c, o.looseStr("mobile"))
	}
	c.CreatedAt = mongoTime(o["register_date"])
	if c.CreatedAt.IsZero() {
		c.CreatedAt, _ = objectIDTime(id)
	}
	c.Disabled = status >= 1 && status <= 3
	return c, nil
}

// appOf is the WeChat AppID of a uni-app project ("" if not mapped).
func (f *uniID) appOf(dcloud string) string {
	if app := f.apps[dcloud]; app != "" {
		return app
	}
	return f.anyApp
}

// legacyApp is where wx_openid.mp goes: the single mapped app among the
// user's dcloud_appid, else the default app.
func (f *uniID) legacyApp(o object) (string, error) {
	if f.anyApp != "" {
		return f.anyApp, nil
	}
	if !isNull(o["dcloud_appid"]) {
		var list []string
		if err := json.Unmarshal(o["dcloud_appid"], &list); err != nil {
			return "", fmt.Errorf("dcloud_appid is not a list of strings")
		}
		found := ""
		for _, d := range list {
			if app := f.apps[d]; app != "" && app != found {
				if found != "" {
					found = "" // several: the list does not decide
					break
				}
				found = app
			}
		}
		if found != "" {
			return found, nil
		}
	}
	return f.defaultApp, nil
}

// mongoID reads _id: a string, or {"$oid": …} as aliyun exports it.
func mongoID(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var oid struct {
		OID string `json:"$oid"`
	}
	if json.Unmarshal(v, &oid) == nil {
		return oid.OID
	}
	return ""
}

// mongoTime reads a number of ms (seconds below 1e11), or
// {"$date": ISO | ms | {"$numberLong": "…"}}.
func mongoTime(v json.RawMessage) time.Time {
	if isNull(v) {
		return time.Time{}
	}
	var f float64
	if json.Unmarshal(v, &f) == nil {
		t, _ := epochTime(f)
		return t
	}
	var d struct {
		Date json.RawMessage `json:"$date"`
	}
	if json.Unmarshal(v, &d) != nil || isNull(d.Date) {
		return time.Time{}
	}
	var s string
	if json.Unmarshal(d.Date, &s) == nil {
		t, _ := parseTime(s)
		return t
	}
	if json.Unmarshal(d.Date, &f) == nil {
		t, _ := epochTime(f)
		return t
	}
	var long struct {
		N string `json:"$numberLong"`
	}
	if json.Unmarshal(d.Date, &long) == nil {
		t, _ := parseTime(long.N)
		return t
	}
	return time.Time{}
}
