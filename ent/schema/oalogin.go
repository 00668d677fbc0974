package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// OALogin is one Official Account (公众号) web authorization in flight:
// the state WeChat carries to the callback, bound to the browser that
// started it, and then the one-time ticket the page turns into a login.
// Rows live minutes; the purge removes them.
type OALogin struct {
	ent.Schema
}

// Fields of the OALogin.
func (OALogin) Fields() []ent.Field {
	return []ent.Field{
		// state is the random value in the authorize URL.
		field.String("state").NotEmpty().Unique().Immutable(),
		// browser_hash is the SHA-256 of the random value in the
		// browser's cookie: the callback must come from that browser.
		field.Bytes("browser_hash").Sensitive().Immutable(),
		field.String("appid").NotEmpty().Immutable(),
		field.String("scope").NotEmpty().Immutable(),
		field.String("return_to").MaxLen(2048).Immutable(),
		field.Time("created_at").Immutable().Default(nowUTC),
		field.Time("expires_at"),
		// Set by the callback (once): the hash of the code it exchanged
		// (a repeated callback with the same code gets the same answer)
		// and that answer, sealed (it holds the ticket).
		field.Time("called_back_at").Optional().Nillable(),
		field.Bytes("code_hash").Optional().Nillable().Sensitive(),
		field.Bytes("result_sealed").Optional().Nillable().Sensitive(),
		// The ticket: its hash, when it stops working, and who WeChat
		// said the person is (sealed), to log in when it is redeemed.
		field.Bytes("ticket_hash").Optional().Nillable().Unique().Sensitive(),
		field.Time("ticket_expires_at").Optional().Nillable(),
		field.Bytes("person_sealed").Optional().Nillable().Sensitive(),
		field.Time("redeemed_at").Optional().Nillable(),
	}
}

// Indexes of the OALogin.
func (OALogin) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("expires_at"),
	}
}
