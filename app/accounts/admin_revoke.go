package accounts

import (
	"context"

	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/session"
)

// ReasonAdminRevoked marks a session an admin ended from the panel.
const ReasonAdminRevoked = "admin_revoked"

// RevokeSession ends one live session of a user at once: its access
// tokens fail the next Authenticate and its refresh token is refused. A
// session that is not the user's, or already ended, is NotFound.
func (s *Service) RevokeSession(ctx context.Context, userID, sessionID int) error {
	return s.write(ctx, func(ctx context.Context, tx *ent.Client, ch *Changes) error {
		n, err := tx.Session.Update().
			Where(session.ID(sessionID), session.UserID(userID), session.RevokedAtIsNil()).
			SetRevokedAt(s.Now.Now()).SetRevokeReason(ReasonAdminRevoked).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return problem.New(problem.NotFound, "no such live session")
		}
		ch.SessionEnded(userID, sessionID)
		return nil
	})
}
