package importer

import (
	"encoding/json"
	"fmt"

	"github.com/miniauth/miniauth/app/avatars"
	"github.com/miniauth/miniauth/app/exporter"
)

// miniauthFormat reads `miniauth export` back, exactly: every field of
// the line is kept (times, login count, the identities' own times), only
// the id is the new database's. An identity of an app this server does
// not serve is kept too: the app may be configured later.
type miniauthFormat struct{}

func (miniauthFormat) check(first rawRecord, _ recordReader) error {
	o, err := firstObject("miniauth", first)
	if err != nil {
		return err
	}
	if o["identities"] == nil || o["objectId"] != nil || o["_id"] != nil {
		return notFormat("miniauth", first, o, "has no identities")
	}
	return nil
}

func (miniauthFormat) decode(rec rawRecord) (*Candidate, *Entry) {
	if _, bad := parseObject(rec.pos, rec.json); bad != nil {
		return nil, bad
	}
	var u exporter.User
	if err := json.Unmarshal(rec.json, &u); err != nil {
		return nil, skip(rec.pos, "", InvalidRecord, shortError(err))
	}
	id := fmt.Sprint(u.ID)
	if len(u.Identities) == 0 {
		return nil, skip(rec.pos, id, NoMiniProgramOpenID, "the user has no identities")
	}
	c := &Candidate{Pos: rec.pos, SourceID: id, UserOpenID: u.OpenID, Nickname: cleanNickname(u.Nickname),
		Gender: cleanGender(u.Gender), Phone: u.Phone, PhoneCountryCode: u.PhoneCountryCode, Disabled: u.Disabled,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(), LastLoginAt: u.LastLoginAt, LoginCount: u.LoginCount,
		RiskRank: u.RiskRank, RiskFlagged: u.RiskFlagged}
	if u.UnionID != nil {
		c.UnionID = *u.UnionID
	}
	if c.AvatarURL = u.AvatarURL; c.AvatarURL != "" && avatars.CheckURL(c.AvatarURL) != "" {
		c.AvatarURL = ""
		c.note(AvatarNotHTTPS, "the avatar URL is not acceptable and was left off")
	}
	for _, i := range u.Identities {
		if i.AppID == "" || i.OpenID == "" {
			return nil, skip(rec.pos, id, InvalidRecord, "an identity has no appid or openid")
		}
		in := Identity{AppID: i.AppID, OpenID: i.OpenID, Kind: i.Kind, CreatedAt: i.CreatedAt.UTC(), LastLoginAt: i.LastLoginAt}
		if i.UnionID != nil {
			in.UnionID = *i.UnionID
		}
		c.Identities = append(c.Identities, in)
	}
	return c, nil
}
