package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// PhoneFetch is one phone-number button offered to a user and not yet
// used (a hold, until expires_at), or one number fetched from WeChat
// (fetched_at set). Holds and fetches of today count against the daily
// caps and budget (profiles.PhoneOffer), in the database so that every
// instance shares them. Rows older than a few days are purged.
type PhoneFetch struct {
	ent.Schema
}

// Fields of the PhoneFetch.
func (PhoneFetch) Fields() []ent.Field {
	return []ent.Field{
		field.String("appid"),
		// user_id is no foreign key: a closed account's fetches still
		// count against the day's budget. Empty for a phone-login sign-up
		// whose user did not exist yet.
		field.Int("user_id").Optional().Nillable(),
		field.String("ip").Default(""),
		// day is the calendar day in MINIAUTH_TIMEZONE, YYYY-MM-DD.
		field.String("day"),
		field.Time("created_at").Default(nowUTC),
		field.Time("expires_at").Optional().Nillable(),
		field.Time("fetched_at").Optional().Nillable(),
	}
}

// Indexes of the PhoneFetch: the counts of one day by app, user and IP.
func (PhoneFetch) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("appid", "day"),
		index.Fields("user_id", "day"),
		index.Fields("ip", "day"),
		index.Fields("created_at"),
	}
}
