package userlist

import (
	"context"
	"fmt"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/identity"
	"github.com/miniauth/miniauth/ent/user"
)

// exportBatch is how many rows the export reads per query.
const exportBatch = 1000

// Export calls fn with every user matching q, in id order, reading in
// keyset batches (id > last), so that a million rows stream in constant
// memory without holding one read transaction open the whole time.
func (s *Store) Export(ctx context.Context, q Query, fn func(*ent.User) error) error {
	q = q.Normalize()
	where, err := s.filter(ctx, q)
	if err != nil {
		return err
	}
	last := 0
	for {
		query := s.DB.Read.User.Query().Where(user.IDGT(last))
		if where != nil {
			query.Where(where)
		}
		// Identities come along, one extra query per batch.
		batch, err := query.Order(entsql.OrderByField(user.FieldID).ToFunc()).Limit(exportBatch).
			WithIdentities(func(q *ent.IdentityQuery) { q.Order(ent.Asc(identity.FieldID)) }).All(ctx)
		if err != nil {
			return fmt.Errorf("export users after %d: %w", last, err)
		}
		for _, u := range batch {
			if err := fn(u); err != nil {
				return err
			}
		}
		if len(batch) < exportBatch {
			return nil
		}
		last = batch[len(batch)-1].ID
	}
}
