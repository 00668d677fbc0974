package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Identity is one WeChat identity of a user: the openid one mini program
// (appid) knows them by, and the unionid WeChat gives when the app is
// bound to an Open Platform account. A user has one identity per mini
// program, Official Account or mobile app they logged in from.
type Identity struct {
	ent.Schema
}

// Fields of the Identity.
func (Identity) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id"),
		field.String("appid").NotEmpty().Immutable(),
		field.String("openid").NotEmpty().Immutable(),
		// kind is the door the identity came through: a mini program
		// ("miniprogram"), an Official Account's H5 pages ("oa") or an
		// open platform mobile app ("app"). Openids differ per appid
		// whatever the kind; the unionid links them.
		field.String("kind").Default("miniprogram").Immutable(),
		// unionid is what WeChat last said for this identity. It may
		// differ from the user's own unionid when it conflicted (see
		// IdentityConflict), so it is not unique here.
		field.String("unionid").Optional().Nillable(),
		// session_key is this app's latest WeChat session key, sealed with
		// a key derived from the server secret. It never leaves the server.
		field.Bytes("session_key").Optional().Nillable().Sensitive(),
		field.Time("created_at").Immutable().Default(nowUTC),
		field.Time("last_login_at").Optional().Nillable(),
	}
}

// Edges of the Identity.
func (Identity) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("identities").Field("user_id").Unique().Required(),
	}
}

// Indexes of the Identity.
func (Identity) Indexes() []ent.Index {
	return []ent.Index{
		// One index for both uses of an openid: the login's lookup
		// (openid and appid) and the admin panel's search by any openid
		// (its first column). A second index on openid alone cost every
		// new user's login one more page written at random.
		index.Fields("openid", "appid").Unique(),
		index.Fields("user_id"),
		// The admin panel finds users by any unionid too.
		index.Fields("unionid"),
	}
}
