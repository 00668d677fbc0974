package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// Admin is an operator who signs in to the admin panel.
type Admin struct {
	ent.Schema
}

// Fields of the Admin.
func (Admin) Fields() []ent.Field {
	return []ent.Field{
		field.String("username").NotEmpty().Unique(),
		field.String("password_hash").Sensitive(),
		field.Time("created_at").Immutable().Default(nowUTC),
		field.Time("last_login_at").Optional().Nillable(),
	}
}

// Edges of the Admin.
func (Admin) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("sessions", AdminSession.Type).Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}
