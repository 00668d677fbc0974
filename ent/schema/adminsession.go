package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// AdminSession is one sign-in to the admin panel; the admin cookie's JWT
// names it, and logout revokes it server-side.
type AdminSession struct {
	ent.Schema
}

// Fields of the AdminSession.
func (AdminSession) Fields() []ent.Field {
	return []ent.Field{
		field.Int("admin_id"),
		field.Time("created_at").Immutable().Default(nowUTC),
		field.Time("expires_at"),
		field.Time("revoked_at").Optional().Nillable(),
		field.String("ip").Default(""),
		field.String("user_agent").Default(""),
		// nonce: as on Session, the random name the admin token carries.
		field.String("nonce").Default(""),
	}
}

// Edges of the AdminSession.
func (AdminSession) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("admin", Admin.Type).Ref("sessions").Field("admin_id").Unique().Required(),
	}
}

// Indexes of the AdminSession.
func (AdminSession) Indexes() []ent.Index {
	return []ent.Index{index.Fields("admin_id")}
}
