package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// IdentityConflict records a login whose unionid already belonged to
// another user. Accounts are never merged automatically: the login goes
// on as the identity's own user, and an admin sees the conflict on both
// users' pages.
type IdentityConflict struct {
	ent.Schema
}

// Fields of the IdentityConflict.
func (IdentityConflict) Fields() []ent.Field {
	return []ent.Field{
		// user_id owns the identity that brought the unionid.
		field.Int("user_id"),
		// other_user_id already had that unionid.
		field.Int("other_user_id"),
		field.String("appid"),
		field.String("openid"),
		field.String("unionid"),
		field.Time("created_at").Immutable().Default(nowUTC),
	}
}

// Edges of the IdentityConflict: both users, so deleting either account
// removes the record.
func (IdentityConflict) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("identity_conflicts").Field("user_id").Unique().Required(),
		edge.From("other_user", User.Type).Ref("unionid_conflicts").Field("other_user_id").Unique().Required(),
	}
}

// Indexes of the IdentityConflict: one record per identity and unionid,
// however often the identity logs in.
func (IdentityConflict) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("appid", "openid", "unionid").Unique(),
		index.Fields("user_id"),
		index.Fields("other_user_id"),
	}
}
