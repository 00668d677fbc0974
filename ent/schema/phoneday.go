package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// PhoneDay is one mini program's phone numbers of one day: how many we
// fetched, and WeChat's billing as last read that day (the package's
// total and used calls, and our own all-time count at that moment, to
// compare the two). Kept for good: one small row per app per day.
type PhoneDay struct {
	ent.Schema
}

// Fields of the PhoneDay.
func (PhoneDay) Fields() []ent.Field {
	return []ent.Field{
		field.String("appid"),
		field.String("day"), // YYYY-MM-DD in MINIAUTH_TIMEZONE
		field.Int64("fetched").Default(0),
		field.Int64("billed_all").Optional().Nillable(),
		field.Int64("billed_used").Optional().Nillable(),
		field.Int64("redeemed_total").Optional().Nillable(),
		// unredeemed is the running count, since the first reading, of
		// taps WeChat billed whose code never reached us.
		field.Int64("unredeemed").Optional().Nillable(),
		field.Time("polled_at").Optional().Nillable(),
	}
}

// Indexes of the PhoneDay.
func (PhoneDay) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("appid", "day").Unique(),
	}
}
