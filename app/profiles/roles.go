package profiles

import (
	"context"
	"fmt"
	"github.com/miniauth/miniauth/app/sessions"
	"slices"
	"strings"

	"entgo.io/ent/dialect"

	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/user"
)

// Role limits (the contract's): names of 1 to 32 characters from a-z, 0-9,
// "_" and "-", at most 16 per user. The alphabet keeps a name safe in a
// comma-separated header and in the comma-separated column.
const (
	MaxRoleName = 32
	MaxRoles    = 16
)

// ValidRole reports whether name is a well-formed role name.
func ValidRole(name string) bool {
	if name == "" || len(name) > MaxRoleName {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// ParseRoles reads a comma-separated list of role names ("" is none):
// spaces around names are ignored, duplicates dropped, the result sorted.
// A malformed name is a validation_failed error naming it.
func ParseRoles(list string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return []string{}, nil
	}
	names := strings.Split(list, ",")
	for i := range names {
		names[i] = strings.TrimSpace(names[i])
	}
	return NormalizeRoles(names)
}

// NormalizeRoles checks every name and returns them sorted, without
// duplicates.
func NormalizeRoles(names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if !ValidRole(n) {
			return nil, invalidRoles(fmt.Sprintf("%q is not a role name: 1 to %d characters of a-z, 0-9, _ and -", n, MaxRoleName))
		}
		out = append(out, n)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxRoles {
		return nil, invalidRoles(fmt.Sprintf("a user has at most %d roles, not %d", MaxRoles, len(out)))
	}
	return out, nil
}

func invalidRoles(msg string) *problem.Error {
	return problem.Invalid(map[string]string{"roles": msg})
}

// Roles is a user's role names, sorted; never nil, so that the API
// answers [] rather than null.
func Roles(u *ent.User) []string { return SplitRoles(u.Roles) }

// SplitRoles reads the stored form of roles (sorted, comma-separated).
func SplitRoles(stored string) []string {
	if stored == "" {
		return []string{}
	}
	return strings.Split(stored, ",")
}

// RoleChange is an edit of a user's roles: Set replaces them all (when
// Replace), then Add and Remove apply.
type RoleChange struct {
	Replace     bool
	Set         []string
	Add, Remove []string
}

// SetRoles applies a role change to a user and returns the roles before
// and after. Every name must be well formed (Remove's too, so that a typo
// is not a silent no-op). The user's cached sessions forget the user at
// once, on every instance, so /api/auth/verify answers the new roles
// immediately; tokens carry them from their next refresh.
func (s *Service) SetRoles(ctx context.Context, userID int, ch RoleChange) (before, after []string, err error) {
	for _, list := range [][]string{ch.Set, ch.Add, ch.Remove} {
		if _, err := NormalizeRoles(list); err != nil {
			return nil, nil, err
		}
	}
	err = s.Sessions.Write(ctx, func(ctx context.Context, tx *ent.Client, changes *sessions.Changes) error {
		q := tx.User.Query().Where(user.ID(userID))
		if s.DB.Dialect == dialect.Postgres {
			q = q.ForUpdate()
		}
		u, err := q.Select(user.FieldID, user.FieldRoles).Only(ctx)
		if ent.IsNotFound(err) {
			return problem.New(problem.NotFound, "no such user")
		}
		if err != nil {
			return fmt.Errorf("load roles of user %d: %w", userID, err)
		}
		before = SplitRoles(u.Roles)
		next := before
		if ch.Replace {
			next = ch.Set
		}
		next = append(slices.Clone(next), ch.Add...)
		next = slices.DeleteFunc(next, func(r string) bool { return slices.Contains(ch.Remove, r) })
		if after, err = NormalizeRoles(next); err != nil {
			return err
		}
		if slices.Equal(before, after) {
			return nil
		}
		changes.UserChanged(userID)
		return tx.User.UpdateOneID(userID).SetRoles(strings.Join(after, ",")).SetUpdatedAt(s.Now.Now()).Exec(ctx)
	})
	if err != nil {
		return nil, nil, err
	}
	return before, after, nil
}

// UserRoles reads a user's roles.
func (s *Service) UserRoles(ctx context.Context, userID int) ([]string, error) {
	u, err := s.DB.Read.User.Query().Where(user.ID(userID)).Select(user.FieldRoles).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, problem.New(problem.NotFound, "no such user")
	}
	if err != nil {
		return nil, fmt.Errorf("load roles of user %d: %w", userID, err)
	}
	return SplitRoles(u.Roles), nil
}

// ShowRoles words a role list for people: "a,b", or "(none)".
func ShowRoles(r []string) string {
	if len(r) == 0 {
		return "(none)"
	}
	return strings.Join(r, ",")
}

// RoleChangeDetail is the audit detail of a role change: before → after.
func RoleChangeDetail(before, after []string) string {
	return ShowRoles(before) + " → " + ShowRoles(after)
}
