package accounts

import (
	"context"
	"fmt"
	"io"

	"github.com/miniauth/miniauth/app/avatars"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/user"
)

// UploadAvatar stores an uploaded image (checked by content) and makes it
// the user's avatar. If the database update fails the new file is removed;
// once it succeeds the previous uploaded avatar is, so no file is left
// without an owner.
func (s *Service) UploadAvatar(ctx context.Context, userID int, image io.Reader) (*ent.User, error) {
	name, err := s.Avatars.Save(image)
	if err != nil {
		return nil, err
	}
	var out *ent.User
	var previous string
	var rc *receipt
	ticket := s.Cache.Ticket(userID)
	err = s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		old, err := tx.User.Query().Where(user.ID(userID)).Select(user.FieldAvatarURL).Only(ctx)
		if ent.IsNotFound(err) {
			return errUnauthorized
		}
		if err != nil {
			return fmt.Errorf("load user %d: %w", userID, err)
		}
		previous = old.AvatarURL
		if rc, err = s.announce(ctx, tx, userChanged(userID)); err != nil {
			return err
		}
		out, err = tx.User.UpdateOneID(userID).SetAvatarURL(avatars.URL(name)).SetUpdatedAt(s.now()).Save(ctx)
		if err != nil {
			return fmt.Errorf("set avatar of user %d: %w", userID, err)
		}
		return nil
	})
	if err != nil {
		s.settle(userChanged(userID), rc, false)
		if rmErr := s.Avatars.Remove(name); rmErr != nil {
			s.Log.Warn("remove unused avatar", "file", name, "err", rmErr)
		}
		return nil, err
	}
	s.Cache.ReplaceUser(ticket, cacheUser(out))
	s.settle(change{}, rc, true)
	if previous != out.AvatarURL {
		s.RemoveAvatarIfUnused(ctx, previous)
	}
	return out, nil
}

// RemoveAvatarIfUnused deletes the file behind one of our avatar URLs
// unless some user still shows it. (PUT /api/me accepts any /uploads/
// path, so one user may point at another's file; deleting it then would
// break the other user's avatar.) When in doubt the file stays.
func (s *Service) RemoveAvatarIfUnused(ctx context.Context, url string) {
	name, ok := avatars.NameOf(url)
	if !ok || s.Avatars == nil {
		return
	}
	used, err := s.DB.Read.User.Query().Where(user.AvatarURL(url)).Exist(ctx)
	if err != nil {
		s.Log.Warn("check avatar use", "file", name, "err", err)
		return
	}
	if used {
		return
	}
	if err := s.Avatars.Remove(name); err != nil {
		s.Log.Warn("remove replaced avatar", "file", name, "err", err)
	}
}
