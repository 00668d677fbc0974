package admins

import (
	"context"
	"errors"

	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/admin"
)

// ErrRole is a role other than operator or viewer.
var ErrRole = errors.New("role must be operator or viewer")

// ParseRole reads a role name ("" is the default, operator).
func ParseRole(name string) (admin.Role, error) {
	if name == "" {
		return admin.RoleOperator, nil
	}
	r := admin.Role(name)
	if admin.RoleValidator(r) != nil {
		return "", ErrRole
	}
	return r, nil
}

// SetRole changes an admin's role. Their sessions stay open: every
// request reads the role afresh, so it applies at once.
func (s *Service) SetRole(ctx context.Context, username string, role admin.Role) error {
	if admin.RoleValidator(role) != nil {
		return ErrRole
	}
	username = NormalizeUsername(username)
	return s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		a, err := adminNamed(ctx, tx, username)
		if err != nil {
			return err
		}
		return tx.Admin.UpdateOneID(a.ID).SetRole(role).Exec(ctx)
	})
}
