package userlist

import (
	"context"
	"fmt"

	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/identity"
	"github.com/miniauth/miniauth/ent/identityconflict"
)

// addIdentityMatches adds the users any of whose identities has q as
// openid or unionid, so that a user is found by the openid any of their
// mini programs knows them by. A query of its own (two indexed lookups):
// inside the users query's OR it would be a correlated subquery per row.
func (s *Store) addIdentityMatches(ctx context.Context, q string, ids []int) ([]int, error) {
	more, err := s.DB.Read.Identity.Query().Where(identity.Or(identity.Openid(q), identity.Unionid(q))).
		Limit(MaxPerPage).Select(identity.FieldUserID).Ints(ctx)
	if err != nil {
		return nil, fmt.Errorf("exact search in identities: %w", err)
	}
	seen := map[int]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	for _, id := range more {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// loadIdentities adds a user's identities and unionid conflicts, both
// those where the user brought the unionid and those where they own it.
func (s *Store) loadIdentities(ctx context.Context, d *Detail) error {
	id := d.User.ID
	var err error
	d.Identities, err = s.DB.Read.Identity.Query().Where(identity.UserID(id)).Order(ent.Asc(identity.FieldID)).All(ctx)
	if err != nil {
		return fmt.Errorf("load identities of user %d: %w", id, err)
	}
	d.Conflicts, err = s.DB.Read.IdentityConflict.Query().
		Where(identityconflict.Or(identityconflict.UserID(id), identityconflict.OtherUserID(id))).
		Order(ent.Asc(identityconflict.FieldID)).Limit(MaxSessions).All(ctx)
	if err != nil {
		return fmt.Errorf("load unionid conflicts of user %d: %w", id, err)
	}
	return nil
}
