package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Throttle is a rate-limit counter kept in the database, so that limits
// hold across instances.
type Throttle struct {
	ent.Schema
}

// Fields of the Throttle.
func (Throttle) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").NotEmpty().Unique(),
		field.Bytes("value"),
		field.Time("expires_at"),
	}
}

// Indexes of the Throttle.
func (Throttle) Indexes() []ent.Index {
	return []ent.Index{index.Fields("expires_at")}
}
