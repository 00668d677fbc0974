package userlist

import (
	"context"
	"fmt"

	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/identity"
	"github.com/miniauth/miniauth/ent/identityconflict"
	"github.com/miniauth/miniauth/ent/predicate"
	"github.com/miniauth/miniauth/ent/user"
)

// identityMatches finds users by any of their identities' openids or
// unionids (indexed), so that a user is found by the openid any of their
// mini programs knows them by.
func identityMatches(q string) predicate.User {
	return user.HasIdentitiesWith(identity.Or(identity.Openid(q), identity.Unionid(q)))
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
