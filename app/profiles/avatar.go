package profiles

import (
	"context"
	"fmt"
	"github.com/miniauth/miniauth/app/sessions"
	"io"
	"time"

	"entgo.io/ent/dialect"
	"github.com/miniauth/miniauth/app/avatars"
	"github.com/miniauth/miniauth/app/problem"

	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/predicate"
	"github.com/miniauth/miniauth/ent/upload"
	"github.com/miniauth/miniauth/ent/user"
)

// errNotYourUpload refuses an avatar_url naming a file the user did not
// upload: another user's photo cannot be shown, or kept alive after that
// user deletes their account.
var errNotYourUpload = problem.Invalid(map[string]string{"avatar_url": "must be a file you uploaded (POST /api/me/avatar)"})

// UploadAvatar stores an uploaded image (checked by content, metadata
// stripped), records the user as its uploader and makes it their avatar,
// in one transaction. If that fails the new file is removed; once it
// succeeds the previous uploaded avatar goes, so no file is left without
// a use.
func (s *Service) UploadAvatar(ctx context.Context, userID, sessionID int, image io.Reader) (*ent.User, error) {
	name, err := s.Avatars.Save(image)
	if err != nil {
		return nil, err
	}
	var out *ent.User
	var previous string
	ticket := s.Sessions.Cache.Ticket(userID)
	err = s.Sessions.Write(ctx, func(ctx context.Context, tx *ent.Client, ch *sessions.Changes) error {
		ch.UserChanged(userID)
		old, err := s.lockSignedIn(ctx, tx, userID)
		if err != nil {
			return err
		}
		previous = old.AvatarURL
		if err := tx.Upload.Create().SetName(name).SetUserID(userID).SetCreatedAt(s.Now.Now()).Exec(ctx); err != nil {
			return fmt.Errorf("record upload of user %d: %w", userID, err)
		}
		out, err = tx.User.UpdateOneID(userID).SetAvatarURL(avatars.URL(name)).SetUpdatedAt(s.Now.Now()).Save(ctx)
		if err != nil {
			return fmt.Errorf("set avatar of user %d: %w", userID, err)
		}
		ch.UserReplaced(ticket, out)
		url := out.AvatarURL
		return s.reviewChanged(ctx, tx, out, Profile{AvatarURL: &url})
	})
	if err != nil {
		if rmErr := s.Avatars.Remove(name); rmErr != nil {
			s.Log.Warn("remove unused avatar", "file", name, "err", rmErr)
		}
		return nil, err
	}
	if previous != out.AvatarURL {
		s.releaseAvatar(ctx, userID, previous)
	}
	s.checkAvatar(ctx, userID, sessionID, out.AvatarURL)
	return out, nil
}

// lockSignedIn is lockUser for the signed-in user of a request: a user
// deleted meanwhile is unauthorized, as their token now is.
func (s *Service) lockSignedIn(ctx context.Context, tx *ent.Client, userID int) (*ent.User, error) {
	u, err := s.lockUser(ctx, tx, user.ID(userID))
	if ent.IsNotFound(err) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("load user %d: %w", userID, err)
	}
	return u, nil
}

// lockUser loads a user's id and avatar_url. On PostgreSQL the row stays
// locked until commit, so that checking and changing a user's uploads
// (PUT, upload, release, sweep, deletion) is serialized per user: a file
// cannot be released while the same user sets it as avatar again. SQLite
// has a single writer, which serializes them anyway.
func (s *Service) lockUser(ctx context.Context, tx *ent.Client, ps ...predicate.User) (*ent.User, error) {
	q := tx.User.Query().Where(ps...)
	if s.DB.Dialect == dialect.Postgres {
		q = q.ForUpdate()
	}
	return q.Select(user.FieldID, user.FieldAvatarURL).Only(ctx)
}

// CheckOwnAvatar refuses a local avatar URL unless the file was uploaded
// by the user selected by ps (who must exist).
func (s *Service) CheckOwnAvatar(ctx context.Context, tx *ent.Client, p Profile, ps ...predicate.User) error {
	if p.AvatarURL == nil || !avatars.IsLocalURL(*p.AvatarURL) {
		return nil
	}
	name, _ := avatars.NameOf(*p.AvatarURL)
	u, err := s.lockUser(ctx, tx, ps...)
	if ent.IsNotFound(err) {
		return errNotYourUpload // a new user has uploaded nothing
	}
	if err != nil {
		return fmt.Errorf("load user: %w", err)
	}
	ok, err := tx.Upload.Query().Where(upload.Name(name), upload.UserID(u.ID)).Exist(ctx)
	if err != nil {
		return fmt.Errorf("check avatar owner: %w", err)
	}
	if !ok {
		return errNotYourUpload
	}
	return nil
}

// releaseAvatar erases a file the user uploaded and no longer shows. A
// URL of no recorded upload of theirs is left to RemoveAvatarIfUnused
// (files from before uploads were recorded).
func (s *Service) releaseAvatar(ctx context.Context, userID int, url string) {
	name, ok := avatars.NameOf(url)
	if !ok || s.Avatars == nil {
		return
	}
	var n int
	err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		n = 0
		u, err := s.lockUser(ctx, tx, user.ID(userID))
		if ent.IsNotFound(err) {
			return nil
		}
		if err != nil || u.AvatarURL == url {
			return err // shown again meanwhile: keep it
		}
		n, err = tx.Upload.Delete().Where(upload.Name(name), upload.UserID(userID)).Exec(ctx)
		return err
	})
	switch {
	case err != nil:
		s.Log.Warn("release replaced avatar", "file", name, "err", err)
	case n > 0:
		if err := s.Avatars.Remove(name); err != nil {
			s.Log.Warn("remove replaced avatar", "file", name, "err", err)
		}
	default:
		s.RemoveAvatarIfUnused(ctx, url)
	}
}

// RemoveAvatarIfUnused deletes the file behind one of our avatar URLs
// that has no upload record, unless some user still shows it (files from
// before uploads were recorded could be shown by several users). When in
// doubt the file stays.
func (s *Service) RemoveAvatarIfUnused(ctx context.Context, url string) {
	name, ok := avatars.NameOf(url)
	if !ok || s.Avatars == nil {
		return
	}
	recorded, err := s.DB.Read.Upload.Query().Where(upload.Name(name)).Exist(ctx)
	if err != nil {
		s.Log.Warn("check avatar record", "file", name, "err", err)
		return
	}
	used, err := s.DB.Read.User.Query().Where(user.AvatarURL(url)).Exist(ctx)
	if err != nil {
		s.Log.Warn("check avatar use", "file", name, "err", err)
		return
	}
	if recorded || used {
		return
	}
	if err := s.Avatars.Remove(name); err != nil {
		s.Log.Warn("remove replaced avatar", "file", name, "err", err)
	}
}

// AvatarSweepGrace is how old a file without a record must be before the
// sweep removes it: younger ones may be uploads still committing.
const AvatarSweepGrace = 10 * time.Minute

// SweepAvatars removes avatar files no one uses, and returns how many: the
// temporary and unrecorded files a crash mid-upload leaves, and uploads
// their owner no longer shows. A file without a record that some user
// shows (stored before uploads were recorded) is recorded as that user's
// upload instead. Only files last written before olderThan are looked at.
func (s *Service) SweepAvatars(ctx context.Context, olderThan time.Time) (int, error) {
	if s.Avatars == nil {
		return 0, nil
	}
	files, err := s.Avatars.List()
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, f := range files {
		if f.ModTime.After(olderThan) {
			continue
		}
		if ctx.Err() != nil {
			return removed, ctx.Err()
		}
		if f.Temp {
			if err := s.Avatars.RemoveTemp(f.Name); err != nil {
				return removed, fmt.Errorf("sweep %s: %w", f.Name, err)
			}
			removed++
			continue
		}
		gone, err := s.sweepAvatar(ctx, f.Name)
		if err != nil {
			return removed, fmt.Errorf("sweep %s: %w", f.Name, err)
		}
		if gone {
			removed++
		}
	}
	return removed, nil
}

// sweepAvatar decides about one stored file, in one transaction.
func (s *Service) sweepAvatar(ctx context.Context, name string) (bool, error) {
	url := avatars.URL(name)
	var remove bool
	err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		remove = false
		rec, err := tx.Upload.Query().Where(upload.Name(name)).Only(ctx)
		if err == nil {
			owner, err := s.lockUser(ctx, tx, user.ID(rec.UserID))
			if err != nil || owner.AvatarURL == url {
				return err // in use (or the owner just went: the next sweep)
			}
			remove = true
			return tx.Upload.DeleteOne(rec).Exec(ctx)
		}
		if !ent.IsNotFound(err) {
			return err
		}
		owner, err := tx.User.Query().Where(user.AvatarURL(url)).Order(ent.Asc(user.FieldID)).First(ctx)
		if ent.IsNotFound(err) {
			remove = true
			return nil
		}
		if err != nil {
			return err
		}
		return tx.Upload.Create().SetName(name).SetUserID(owner.ID).SetCreatedAt(s.Now.Now()).Exec(ctx)
	})
	if err != nil || !remove {
		return false, err
	}
	return true, s.Avatars.Remove(name)
}
