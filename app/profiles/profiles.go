package profiles

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
			if err := s.checkOwnAvatar(ctx, tx, p, user.ID(userID)); err != nil {
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

