package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
)

// WeChatToken caches a WeChat server credential (the stable access token)
// in the database, so that every instance and every restart shares one.
type WeChatToken struct {
	ent.Schema
}

// Fields of the WeChatToken.
func (WeChatToken) Fields() []ent.Field {
	return []ent.Field{
		// name is e.g. "stable_access_token:<appid>".
		field.String("name").NotEmpty().Unique(),
		field.String("value").Sensitive(),
		field.Time("expires_at"),
		field.Time("updated_at").Default(nowUTC),
	}
}
