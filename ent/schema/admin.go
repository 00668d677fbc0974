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
		// role is operator (may change users) or viewer (reads only).
		field.Enum("role").Values("operator", "viewer").Default("operator"),
		// totp_secret is the confirmed second factor's key, sealed with
		// the server key; totp_pending is one shown but not yet confirmed.
		field.Bytes("totp_secret").Optional().Nillable().Sensitive(),
		field.Bytes("totp_pending").Optional().Nillable().Sensitive(),
		field.Time("totp_enabled_at").Optional().Nillable(),
		// totp_last_step is the time step of the last accepted code: a
		// code of that step or an earlier one is refused (replay).
		field.Int64("totp_last_step").Default(0),
		// recovery_hashes are the SHA-256 hashes (hex, space-separated) of
		// the unused one-time recovery codes.
		field.String("recovery_hashes").Default("").Sensitive(),
	}
}

// Edges of the Admin.
func (Admin) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("sessions", AdminSession.Type).Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}
