package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Session is one login of a user: the access tokens it issues carry its id,
// and its refresh tokens rotate inside it.
type Session struct {
	ent.Schema
}

// Fields of the Session.
func (Session) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id"),
		// refresh_secret_hash is the SHA-256 of the secret of the
		// session's current refresh token ("<session id>.<secret>",
		// app/tokens). A refresh finds the session by its id, so this
		// needs no index. Rotated hashes move to refresh_tokens for reuse
		// detection.
		field.Bytes("refresh_secret_hash").Optional().Nillable().Sensitive(),
		// refresh_hash is the SHA-256 of a legacy refresh token, one from
		// before tokens named their session, found through a partial
		// index; NULL otherwise. The session's next refresh moves it to
		// the current form.
		field.Bytes("refresh_hash").Optional().Nillable().Sensitive(),
		field.Time("created_at").Immutable().Default(nowUTC),
		field.Time("last_used_at").Default(nowUTC),
		field.Time("expires_at"),
		field.Time("revoked_at").Optional().Nillable(),
		field.String("revoke_reason").Default(""),
		field.String("ip").Default(""),
		field.String("user_agent").Default(""),
		// appid is the mini program the session was opened from.
		field.String("appid").Default(""),
		// nonce is a random 128-bit name of the session that its access
		// tokens carry beside the numeric id: ids can come back (a restore
		// from a backup, a copy), the nonce never does, so a token opens
		// only the session it was issued for. "" on sessions from before
		// it existed (their next refresh sets one).
		field.String("nonce").Default(""),
	}
}

// Edges of the Session.
func (Session) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("sessions").Field("user_id").Unique().Required(),
		edge.To("refresh_tokens", RefreshToken.Type).Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the Session.
func (Session) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id"),
		// Only legacy sessions have a refresh_hash: new ones add nothing
		// to this index.
		index.Fields("refresh_hash").Unique().
			Annotations(entsql.IndexWhere("refresh_hash IS NOT NULL")),
	}
}
