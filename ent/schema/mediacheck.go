package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// MediaCheck is an uploaded avatar sent to WeChat's mediaCheckAsync,
// waiting for the wxa_media_check event that carries its trace_id.
type MediaCheck struct {
	ent.Schema
}

// Fields of the MediaCheck.
func (MediaCheck) Fields() []ent.Field {
	return []ent.Field{
		field.String("trace_id").NotEmpty().Unique().Immutable(),
		field.Int("user_id"),
		field.String("appid").Default("").Immutable(),
		// url is the avatar_url checked: the verdict changes the user only
		// while they still show it.
		field.String("url").Immutable(),
		field.Time("created_at").Immutable().Default(nowUTC),
	}
}

// Edges of the MediaCheck.
func (MediaCheck) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("media_checks").Field("user_id").Unique().Required(),
	}
}

// Indexes of the MediaCheck.
func (MediaCheck) Indexes() []ent.Index {
	return []ent.Index{index.Fields("created_at")}
}
