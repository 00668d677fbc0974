package schema

import (
	"context"
	"errors"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// AuditEntry is one admin action: who did what to whom, when, from where.
// Entries are append-only: nothing edits them, and only the retention
// purge (a bulk delete of old rows) removes them.
type AuditEntry struct {
	ent.Schema
}

// Fields of the AuditEntry.
func (AuditEntry) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Immutable().Default(nowUTC),
		// actor is the admin's username, the username tried at a failed
		// sign-in, or "cli" for a command run on the server.
		field.String("actor").Immutable(),
		// admin_id is the acting admin, if known (no foreign key: the
		// entry outlives a deleted admin).
		field.Int("admin_id").Optional().Nillable().Immutable(),
		field.String("action").Immutable(),
		field.Int("target_user_id").Optional().Nillable().Immutable(),
		// target_admin names the admin account acted on (created, role
		// changed, second factor removed…).
		field.String("target_admin").Default("").Immutable(),
		// detail is a short, secret-free note: the exported search, a
		// session id, a new role.
		field.String("detail").Default("").Immutable(),
		field.String("ip").Default("").Immutable(),
		field.String("user_agent").Default("").Immutable(),
	}
}

// Indexes of the AuditEntry: the list is read newest first, filtered by
// actor, action or user.
func (AuditEntry) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("created_at"),
		index.Fields("actor", "created_at"),
		index.Fields("action", "created_at"),
		index.Fields("target_user_id", "created_at"),
	}
}

// ErrAuditAppendOnly is what an attempt to edit or delete one entry gets.
var ErrAuditAppendOnly = errors.New("audit entries are append-only")

// Hooks of the AuditEntry refuse updates and single deletes; the bulk
// delete stays for the retention purge.
func (AuditEntry) Hooks() []ent.Hook {
	return []ent.Hook{
		func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if m.Op().Is(ent.OpUpdate | ent.OpUpdateOne | ent.OpDeleteOne) {
					return nil, ErrAuditAppendOnly
				}
				return next.Mutate(ctx, m)
			})
		},
	}
}
