// Package profiles is what a signed-in user's account is and how it
// changes: the profile and its validation, avatars, the content check
// and its review queue, the phone number and what it costs, decrypting
// WeChat data, roles, the session list, deletion, disabling and the
// erasures WeChat asks for. How a person gets a session is app/logins.
package profiles

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/miniauth/miniauth/app/avatars"
	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/keys"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/sessions"
	"github.com/miniauth/miniauth/app/wechat"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/session"
	"github.com/miniauth/miniauth/ent/upload"
	"github.com/miniauth/miniauth/ent/user"
)

// ReasonDisabled is the revocation reason of the sessions a disabling
// ended, kept on the session for the admin panel.
const ReasonDisabled = "user_disabled"

// Service keeps the users' profiles and the rest of their accounts.
type Service struct {
	DB *database.DB
	// MiniPrograms are the mini programs' WeChat clients: a session's
	// app asks for its user's phone number, decrypts, checks content.
	MiniPrograms *wechat.Clients
	// Keys opens the sealed WeChat session keys (Decrypt).
	Keys *keys.Set
	Log  *slog.Logger
	// Avatars stores uploaded avatar images (avatar.go).
	Avatars *avatars.Store
	// Sessions checks, ends and purges sessions; every write here that
	// ends a session or changes a user runs in Sessions.Write and
	// declares it, so every instance's session cache follows.
	Sessions *sessions.Service
	// StatusChanged, if set, is called once a user was disabled or
	// enabled: the admin panel's cached counts forget theirs
	// (userlist.Store.Forget), so the dashboard shows the change at once.
	StatusChanged func()
	Now           clock.Clock
	// Content, if set, checks nicknames and uploaded avatars with
	// WeChat's content security (review.go); nil: no checks.
	Content *ContentCheck
	// Guard is the sign-up risk gate and the phone cost guard (guard.go).
	Guard Guard
}

var errUnauthorized = sessions.ErrUnauthorized

// UpdateProfile applies a validated partial profile to the signed-in user
// current. An empty update changes nothing, updated_at included, and
// answers current as it is. A local avatar_url must name a file the user
// uploaded; the uploaded avatar it replaces is erased. The cached user is
// replaced by the new one, so the next request of any of the user's
// sessions is still answered from memory.
func (s *Service) UpdateProfile(ctx context.Context, current *ent.User, sessionID int, p Profile) (*ent.User, error) {
	if p.Empty() {
		return current, nil
	}
	userID := current.ID
	if s.Content != nil && p.Nickname != nil && *p.Nickname != current.Nickname {
		var err error
		if p.review, err = s.checkProfileNickname(ctx, userID, sessionID, *p.Nickname); err != nil {
			return nil, err
		}
	}
	var out *ent.User
	var previous string
	ticket := s.Sessions.Cache.Ticket(userID)
	err := s.Sessions.Write(ctx, func(ctx context.Context, tx *ent.Client, ch *sessions.Changes) error {
		ch.UserChanged(userID)
		if p.AvatarURL != nil {
			old, err := s.lockSignedIn(ctx, tx, userID)
			if err != nil {
				return err
			}
			previous = old.AvatarURL
			if err := s.CheckOwnAvatar(ctx, tx, p, user.ID(userID)); err != nil {
				return err
			}
		}
		update := tx.User.UpdateOneID(userID).SetUpdatedAt(s.Now.Now())
		if p.Nickname != nil {
			update.SetNickname(*p.Nickname)
		}
		if p.AvatarURL != nil {
			update.SetAvatarURL(*p.AvatarURL)
		}
		if p.Gender != nil {
			update.SetGender(*p.Gender)
		}
		u, err := update.Save(ctx)
		if ent.IsNotFound(err) {
			return errUnauthorized
		}
		if err != nil {
			return err
		}
		out = u
		ch.UserReplaced(ticket, u)
		return s.reviewChanged(ctx, tx, u, p)
	})
	if err != nil {
		return nil, err
	}
	if p.AvatarURL != nil && previous != out.AvatarURL {
		s.releaseAvatar(ctx, userID, previous)
	}
	return out, nil
}

// Delete closes an account (PIPL account cancellation): the user row, and
// with it every session, refresh token, identity, upload record, phone and
// session key, is erased, and every file the user uploaded, whatever
// avatar_url says now. The rows that hang off the user go by the schema's
// ON DELETE CASCADE (ent/schema), the one mechanism for children. The
// same WeChat account logging in later starts a new user.
func (s *Service) Delete(ctx context.Context, userID int) error {
	var avatar string
	var uploads []string
	err := s.Sessions.Write(ctx, func(ctx context.Context, tx *ent.Client, ch *sessions.Changes) error {
		ch.UserRevoked(userID)
		u, err := s.lockSignedIn(ctx, tx, userID)
		if err != nil {
			return err
		}
		avatar = u.AvatarURL
		if uploads, err = tx.Upload.Query().Where(upload.UserID(userID)).Select(upload.FieldName).Strings(ctx); err != nil {
			return fmt.Errorf("list uploads: %w", err)
		}
		if err := tx.User.DeleteOneID(userID).Exec(ctx); err != nil {
			return fmt.Errorf("delete user %d: %w", userID, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The records are gone: a file that cannot be removed now has no owner
	// and the next sweep removes it.
	for _, name := range uploads {
		if err := s.Avatars.Remove(name); err != nil {
			s.Log.Warn("remove avatar of deleted account", "file", name, "err", err)
		}
	}
	s.RemoveAvatarIfUnused(ctx, avatar)
	return nil
}

// SetDisabled disables or re-enables a user (then StatusChanged).
// Disabling revokes every session at once, so the user's next API call is
// refused.
func (s *Service) SetDisabled(ctx context.Context, userID int, disabled bool) error {
	err := s.Sessions.Write(ctx, func(ctx context.Context, tx *ent.Client, ch *sessions.Changes) error {
		ch.UserRevoked(userID)
		n, err := tx.User.Update().Where(user.ID(userID)).SetDisabled(disabled).SetUpdatedAt(s.Now.Now()).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return problem.New(problem.NotFound, "no such user")
		}
		if !disabled {
			return nil
		}
		return tx.Session.Update().
			Where(session.UserID(userID), session.RevokedAtIsNil()).
			SetRevokedAt(s.Now.Now()).SetRevokeReason(ReasonDisabled).Exec(ctx)
	})
	if err == nil && s.StatusChanged != nil {
		s.StatusChanged()
	}
	return err
}
