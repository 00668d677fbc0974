package profiles

import (
	"context"
	"fmt"
	"github.com/miniauth/miniauth/app/sessions"

	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/identity"
	"github.com/miniauth/miniauth/ent/reviewitem"
	"github.com/miniauth/miniauth/ent/session"
	"github.com/miniauth/miniauth/ent/upload"
	"github.com/miniauth/miniauth/ent/user"
)

// The privacy actions WeChat asks for through its message push
// (app/wechatevents): a person withdrew consent for some data, closed
// their WeChat account, or WeChat cleaned a risky profile. Each runs in
// one transaction with its caller's hooks, declaring what it changes on
// sessions.Write's Changes (so the user's cached sessions follow on every
// instance), then removes files no longer shown.

// ReasonWeChatCancelled marks the sessions of an identity whose WeChat
// account was closed.
const ReasonWeChatCancelled = "wechat_account_cancelled"

// Hooks run inside a privacy action's transaction.
type Hooks struct {
	// Claim runs first: it marks the event handled, and its error (the
	// event was handled already) undoes the whole action.
	Claim func(ctx context.Context, tx *ent.Client) error
	// Record runs last, with what was done (the audit entry).
	Record func(ctx context.Context, tx *ent.Client, e Erasure) error
}

func (h Hooks) claim(ctx context.Context, tx *ent.Client) error {
	if h.Claim == nil {
		return nil
	}
	return h.Claim(ctx, tx)
}

func (h Hooks) record(ctx context.Context, tx *ent.Client, e Erasure) error {
	if h.Record == nil {
		return nil
	}
	return h.Record(ctx, tx, e)
}

// Fields selects profile data to erase.
type Fields struct {
	Nickname, Avatar, Phone bool
}

// Names lists the selected fields as the user object names them.
func (f Fields) Names() []string {
	var out []string
	if f.Nickname {
		out = append(out, "nickname")
	}
	if f.Avatar {
		out = append(out, "avatar_url")
	}
	if f.Phone {
		out = append(out, "phone")
	}
	return out
}

// Erasure is what a privacy action did.
type Erasure struct {
	// UserID is the user of the openid; 0 when we know no such identity
	// (nothing to do).
	UserID int
	Fields Fields
	// IdentityErased: the app's identity is gone (cancellation), with
	// Sessions of its sessions ended.
	IdentityErased bool
	Sessions       int
	// UserDeleted: the user had no other identity and is erased whole,
	// as DELETE /api/me does.
	UserDeleted bool
}

// identityOwner claims the event (h.Claim) and finds appID's identity
// openID. Without one, nothing is erased: it records e as it is and
// answers nil.
func (h Hooks) identityOwner(ctx context.Context, tx *ent.Client, appID, openID string, e Erasure) (*ent.Identity, error) {
	if err := h.claim(ctx, tx); err != nil {
		return nil, err
	}
	id, err := tx.Identity.Query().Where(identity.Appid(appID), identity.Openid(openID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, h.record(ctx, tx, e)
	}
	if err != nil {
		return nil, fmt.Errorf("find identity: %w", err)
	}
	return id, nil
}

// EraseFields erases the selected profile fields of the user of appID's
// openID: nickname and avatar_url become "" (an uploaded avatar file is
// deleted), phone "". What waited for review in those fields goes too.
func (s *Service) EraseFields(ctx context.Context, appID, openID string, f Fields, h Hooks) (Erasure, error) {
	var e Erasure
	var previous string
	err := s.Sessions.Write(ctx, func(ctx context.Context, tx *ent.Client, ch *sessions.Changes) error {
		e = Erasure{Fields: f}
		ident, err := h.identityOwner(ctx, tx, appID, openID, e)
		if err != nil || ident == nil {
			return err
		}
		e.UserID = ident.UserID
		u, err := s.lockUser(ctx, tx, user.ID(ident.UserID))
		if err != nil {
			return fmt.Errorf("load user %d: %w", ident.UserID, err)
		}
		ch.UserChanged(u.ID)
		update := tx.User.UpdateOneID(u.ID).SetUpdatedAt(s.Now.Now())
		var kinds []string
		if f.Nickname {
			update.SetNickname("")
			kinds = append(kinds, ReviewNickname)
		}
		if f.Avatar {
			previous = u.AvatarURL
			update.SetAvatarURL("")
			kinds = append(kinds, ReviewAvatar)
		}
		if f.Phone {
			update.SetPhone("").SetPhoneCountryCode("")
		}
		if err := update.Exec(ctx); err != nil {
			return fmt.Errorf("erase fields of user %d: %w", u.ID, err)
		}
		if len(kinds) > 0 {
			if _, err := tx.ReviewItem.Delete().Where(reviewitem.UserID(u.ID), reviewitem.KindIn(kinds...)).Exec(ctx); err != nil {
				return fmt.Errorf("drop review items: %w", err)
			}
		}
		return h.record(ctx, tx, e)
	})
	if err != nil {
		return Erasure{}, err
	}
	if previous != "" {
		s.releaseAvatar(ctx, e.UserID, previous)
	}
	return e, nil
}

// CancelIdentity erases appID's identity openID (the person closed their
// WeChat account) and ends the sessions opened from that app at once. A
// user left with no identity is erased entirely, as Delete does.
func (s *Service) CancelIdentity(ctx context.Context, appID, openID string, h Hooks) (Erasure, error) {
	var e Erasure
	var avatar string
	var uploads []string
	err := s.Sessions.Write(ctx, func(ctx context.Context, tx *ent.Client, ch *sessions.Changes) error {
		e, avatar, uploads = Erasure{}, "", nil
		ident, err := h.identityOwner(ctx, tx, appID, openID, e)
		if err != nil || ident == nil {
			return err
		}
		e.UserID, e.IdentityErased = ident.UserID, true
		u, err := s.lockUser(ctx, tx, user.ID(ident.UserID))
		if err != nil {
			return fmt.Errorf("load user %d: %w", ident.UserID, err)
		}
		ch.UserRevoked(u.ID)
		if err := tx.Identity.DeleteOne(ident).Exec(ctx); err != nil {
			return fmt.Errorf("erase identity: %w", err)
		}
		if e.Sessions, err = tx.Session.Update().
			Where(session.UserID(u.ID), session.Appid(appID), session.RevokedAtIsNil()).
			SetRevokedAt(s.Now.Now()).SetRevokeReason(ReasonWeChatCancelled).Save(ctx); err != nil {
			return fmt.Errorf("end sessions: %w", err)
		}
		rest, err := tx.Identity.Query().Where(identity.UserID(u.ID)).Order(ent.Asc(identity.FieldID)).First(ctx)
		switch {
		case ent.IsNotFound(err):
			e.UserDeleted, avatar = true, u.AvatarURL
			if uploads, err = tx.Upload.Query().Where(upload.UserID(u.ID)).Select(upload.FieldName).Strings(ctx); err != nil {
				return fmt.Errorf("list uploads: %w", err)
			}
			if err := tx.User.DeleteOneID(u.ID).Exec(ctx); err != nil {
				return fmt.Errorf("delete user %d: %w", u.ID, err)
			}
		case err != nil:
			return fmt.Errorf("find other identities: %w", err)
		default:
			// users.openid must not keep the closed account's openid:
			// it becomes the remaining identity's, qualified by its app
			// so that it cannot collide with another user's.
			if _, err := tx.ExecContext(ctx, `UPDATE users SET openid = $1 WHERE id = $2 AND (openid = $3 OR openid = $4)`,
				rest.Appid+":"+rest.Openid, u.ID, openID, appID+":"+openID); err != nil {
				return fmt.Errorf("replace user openid: %w", err)
			}
		}
		return h.record(ctx, tx, e)
	})
	if err != nil {
		return Erasure{}, err
	}
	for _, name := range uploads {
		if err := s.Avatars.Remove(name); err != nil {
			s.Log.Warn("remove avatar of erased account", "file", name, "err", err)
		}
	}
	if e.UserDeleted {
		s.RemoveAvatarIfUnused(ctx, avatar)
	}
	return e, nil
}
