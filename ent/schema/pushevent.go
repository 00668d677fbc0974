package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// PushEvent is one message WeChat pushed (消息推送), kept from the moment
// it is accepted until it has been acted on, and a while after: its
// dedup_key makes a re-delivery (WeChat retries when it hears nothing in
// 5 s) or a replay a no-op, and a row without done_at is work a crash
// left, picked up again.
type PushEvent struct {
	ent.Schema
}

// Fields of the PushEvent.
func (PushEvent) Fields() []ent.Field {
	return []ent.Field{
		field.String("appid").NotEmpty().Immutable(),
		// dedup_key is wechatpush.Message.Key: the same for every
		// delivery of one message.
		field.String("dedup_key").NotEmpty().Unique().Immutable(),
		field.String("event").Default("").Immutable(),
		field.String("openid").Default("").Immutable(),
		// payload is the decrypted message as JSON (wechatpush.Message):
		// no secrets, only what the event says.
		field.Text("payload").Immutable(),
		field.Time("received_at").Immutable().Default(nowUTC),
		field.Time("done_at").Optional().Nillable(),
		field.String("outcome").Default(""),
		field.Int("attempts").Default(0),
		field.String("last_error").Default(""),
	}
}

// Indexes of the PushEvent: the worker looks for undone rows, the purge
// for old ones.
func (PushEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("done_at"),
		index.Fields("received_at"),
	}
}
