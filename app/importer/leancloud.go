package importer

import (
	"strings"
	"time"
)

// leanCloud reads a LeanCloud _User export (IMPORT.md §1): every lc_weapp
// (or legacy lc_weapp_union) openid belongs to the one mini program the
// LeanCloud app was configured with, which the file does not say: appID.
type leanCloud struct {
	appID         string
	disabledField string
	// provider is an authData platform of the app's own naming
	// (loginWithAuthDataAndUnionId) that holds mini program openids too.
	provider    string
	notImported *NotImported
}

func (f *leanCloud) check(first rawRecord, r recordReader) error {
	if r.header() {
		return nil // "#filetype:JSON-streaming {"class":"_User"}"
	}
	o, err := firstObject("LeanCloud _User", first)
	if err != nil {
		return err
	}
	if o["objectId"] == nil {
		return notFormat("LeanCloud _User", first, o, "has no objectId")
	}
	return nil
}

func (f *leanCloud) decode(rec rawRecord) (*Candidate, *Entry) {
	o, bad := parseObject(rec.pos, rec.json)
	if bad != nil {
		return nil, bad
	}
	id, err := o.str("objectId")
	if err != nil {
		return nil, skip(rec.pos, "", InvalidRecord, err.Error())
	}
	invalid := func(detail string) (*Candidate, *Entry) {
		return nil, skip(rec.pos, id, InvalidRecord, detail)
	}
	auth, err := o.obj("authData")
	if err != nil {
		return invalid(err.Error())
	}
	weapp, err := auth.obj("lc_weapp")
	if err != nil {
		return invalid("authData." + err.Error())
	}
	legacy, err := auth.obj("lc_weapp_union")
	if err != nil {
		return invalid("authData." + err.Error())
	}
	weixinUnion, err := auth.obj("_weixin_unionid")
	if err != nil {
		return invalid("authData." + err.Error())
	}
	var custom object
	if f.provider != "" {
		if custom, err = auth.obj(f.provider); err != nil {
			return invalid("authData." + err.Error())
		}
	}
	if o.looseStr("password") != "" {
		f.notImported.Passwords++
	}
	if o.looseStr("email") != "" {
		f.notImported.Emails++
	}
	for k := range auth {
		if k != "lc_weapp" && k != "lc_weapp_union" && k != f.provider && !(strings.HasPrefix(k, "_") && strings.HasSuffix(k, "_unionid")) {
			f.notImported.OtherProviders++
			break
		}
	}

	var openid string
	var unionids []string
	for _, a := range []struct {
		o         object
		unionKey  string
		name      string
		hasOpenID bool
	}{{weapp, "unionid", "lc_weapp", true}, {weixinUnion, "uid", "_weixin_unionid", false}, {legacy, "uid", "lc_weapp_union", true},
		{custom, "unionid", f.provider, true}} {
		if a.o == nil {
			continue
		}
		if a.hasOpenID {
			v, err := a.o.str("openid")
			if err != nil || (v == "" && openid == "" && a.o["openid"] != nil) {
				return invalid("authData." + a.name + ".openid is not an openid")
			}
			if openid == "" {
				openid = v
			}
		}
		u, err := a.o.str(a.unionKey)
		if err != nil {
			return invalid("authData." + a.name + "." + err.Error())
		}
		unionids = append(unionids, u)
	}
	if openid == "" {
		return nil, skip(rec.pos, id, NoMiniProgramOpenID, "no authData.lc_weapp or lc_weapp_union openid")
	}
	c := &Candidate{Pos: rec.pos, SourceID: id, Identities: []Identity{{AppID: f.appID, OpenID: openid}}}
	for _, u := range unionids {
		if u != "" {
			c.UnionID = u
			break
		}
	}
	nick := o.looseStr("nickName")
	if nick == "" {
		nick = o.looseStr("nickname")
	}
	c.Nickname = cleanNickname(nick)
	c.AvatarURL = avatarOf(c, o.looseStr("avatarUrl"), o.looseStr("avatar"), fileURL(o, "avatar"))
	c.Gender = o.gender("gender")
	if o.boolean("mobilePhoneVerified") {
		phoneOf(c, o.looseStr("mobilePhoneNumber"))
	}
	c.CreatedAt = leanCloudTime(o, "createdAt")
	if c.CreatedAt.IsZero() {
		c.CreatedAt, _ = objectIDTime(id)
	}
	if f.disabledField != "" {
		c.Disabled = o.boolean(f.disabledField)
	}
	return c, nil
}

// leanCloudTime reads createdAt: a plain ISO string, or the
// {"__type":"Date","iso":…} form of every other date column.
func leanCloudTime(o object, key string) time.Time {
	if s, err := o.str(key); err == nil {
		t, _ := parseTime(s)
		return t
	}
	if d, err := o.obj(key); err == nil && d != nil {
		t, _ := parseTime(d.looseStr("iso"))
		return t
	}
	return time.Time{}
}

// fileURL is the url of a LeanCloud File pointer ({"__type":"File","url"}).
func fileURL(o object, key string) string {
	f, err := o.obj(key)
	if err != nil || f == nil {
		return ""
	}
	return f.looseStr("url")
}

// avatarOf picks the avatar from candidates, noting a dropped one.
func avatarOf(c *Candidate, candidates ...string) string {
	url, dropped := pickAvatar(candidates...)
	if dropped && url == "" {
		c.note(AvatarNotHTTPS, "the avatar URL is not https and was left off")
	}
	return url
}

// phoneOf sets a verified number, or notes one that is none.
func phoneOf(c *Candidate, raw string) {
	if strings.TrimSpace(raw) == "" {
		return
	}
	p, cc, ok := cleanPhone(raw)
	if !ok {
		c.note(PhoneInvalid, "the phone number is not one and was left off")
		return
	}
	c.Phone, c.PhoneCountryCode = p, cc
}
