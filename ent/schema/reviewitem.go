package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// ReviewItem is a nickname or avatar WeChat's content check did not pass
// outright (review, or the check could not be made): shown at once, and
// listed in the admin panel's review queue until an operator approves or
// clears it.
type ReviewItem struct {
	ent.Schema
}

// Fields of the ReviewItem.
func (ReviewItem) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id"),
		// kind is "nickname" or "avatar".
		field.String("kind").NotEmpty().Immutable(),
		// content is the nickname or avatar URL as it was flagged: acting
		// on it changes the user only if they still show it.
		field.String("content").Immutable(),
		// reason is "review" (WeChat's verdict) or "unavailable" (the
		// check could not be made).
		field.String("reason").NotEmpty().Immutable(),
		field.String("label").Default("").Immutable(),
		field.Time("created_at").Immutable().Default(nowUTC),
	}
}

// Edges of the ReviewItem.
func (ReviewItem) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("review_items").Field("user_id").Unique().Required(),
	}
}

// Indexes of the ReviewItem: the queue is read newest first.
func (ReviewItem) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("created_at"),
		index.Fields("user_id", "kind"),
	}
}
