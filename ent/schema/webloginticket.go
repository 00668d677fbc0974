package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// WebLoginTicket is one "scan with WeChat to sign in" attempt of a
// browser (app/weblogin): the mini program code's scene, the browser's
// secret poll token, and who scanned it. Tickets live a few minutes; the
// server purges them afterwards. They are in the database, not in one
// process, so that a code scanned through one instance signs in a browser
// waiting on another.
type WebLoginTicket struct {
	ent.Schema
}

// Fields of the WebLoginTicket.
func (WebLoginTicket) Fields() []ent.Field {
	return []ent.Field{
		// id is the ticket, the code's scene: random, at most 32
		// characters WeChat allows in a scene.
		field.String("id").NotEmpty().MaxLen(32).Immutable(),
		// poll_hash is the SHA-256 of the browser's poll token.
		field.Bytes("poll_hash").Sensitive(),
		// appid is the mini program whose code it is.
		field.String("appid").Default(""),
		// status: pending, scanned, confirmed, denied or ended (the
		// sign-in was handed to the browser).
		field.String("status").Default("pending"),
		// user_id is who scanned it (nil until then).
		field.Int("user_id").Optional().Nillable(),
		// ip and user_agent are the browser's, shown to the scanner.
		field.String("ip").Default(""),
		field.String("user_agent").Default(""),
		field.Time("created_at").Immutable().Default(nowUTC),
		field.Time("expires_at"),
		// image is the mini program code WeChat drew for it, fetched once.
		field.Bytes("image").Optional().Nillable(),
		field.String("image_type").Default(""),
	}
}

// Edges of the WebLoginTicket.
func (WebLoginTicket) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("web_login_tickets").Field("user_id").Unique(),
	}
}

// Indexes of the WebLoginTicket.
func (WebLoginTicket) Indexes() []ent.Index {
	return []ent.Index{index.Fields("expires_at"), index.Fields("user_id")}
}
