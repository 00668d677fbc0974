package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Upload records who uploaded a stored file (an avatar), so that closing
// the account erases every file the user uploaded, whatever avatar_url
// says now, and so that a user can only show a file of their own.
type Upload struct {
	ent.Schema
}

// Fields of the Upload.
func (Upload) Fields() []ent.Field {
	return []ent.Field{
		// name is the file's name in the avatar directory.
		field.String("name").NotEmpty().Unique().Immutable(),
		field.Int("user_id"),
		field.Time("created_at").Immutable().Default(nowUTC),
	}
}

// Edges of the Upload.
func (Upload) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("uploads").Field("user_id").Unique().Required(),
	}
}

// Indexes of the Upload.
func (Upload) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id")}
}
