package sessions

import (
	"context"
	"fmt"

	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/session"
)

// Why a session ended, kept on it for the admin panel (writes elsewhere
// add their own: a refresh token reused, the user disabled, …).
const (
	ReasonLogout       = "logout"
	ReasonEndedByUser  = "ended_by_user" // from another of the user's devices
	ReasonAdminRevoked = "admin_revoked" // by an admin, from the panel
)

// RevokeSession ends one live session of a user at once: its access
// tokens fail the next Authenticate and its refresh token is refused. A
// session that is not the user's, or already ended, is NotFound.
func (s *Service) RevokeSession(ctx context.Context, userID, sessionID int) error {
	return s.Write(ctx, func(ctx context.Context, tx *ent.Client, ch *Changes) error {
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

// Logout revokes one session.
func (s *Service) Logout(ctx context.Context, sessionID int) error {
	return s.Write(ctx, func(ctx context.Context, tx *ent.Client, ch *Changes) error {
		sess, err := tx.Session.Query().Where(session.ID(sessionID)).Select(session.FieldUserID).Only(ctx)
		if ent.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("find session %d: %w", sessionID, err)
		}
		ch.SessionEnded(sess.UserID, sessionID)
		return tx.Session.Update().
			Where(session.ID(sessionID), session.RevokedAtIsNil()).
			SetRevokedAt(s.Now.Now()).SetRevokeReason(ReasonLogout).Exec(ctx)
	})
}

var errNoSuchSession = problem.New(problem.NotFound, "no such session")

// EndSession ends one of the user's sessions: its tokens are refused from
// the next request on. Another user's session is not found, as is one
// that has already ended.
func (s *Service) EndSession(ctx context.Context, userID, sessionID int) error {
	return s.Write(ctx, func(ctx context.Context, tx *ent.Client, ch *Changes) error {
		now := s.Now.Now()
		n, err := tx.Session.Update().
			Where(session.ID(sessionID), session.UserID(userID), session.RevokedAtIsNil(), session.ExpiresAtGT(now)).
			SetRevokedAt(now).SetRevokeReason(ReasonEndedByUser).Save(ctx)
		if err != nil {
			return fmt.Errorf("end session %d: %w", sessionID, err)
		}
		if n == 0 {
			return errNoSuchSession
		}
		ch.SessionEnded(userID, sessionID)
		return nil
	})
}

// EndOtherSessions ends every live session of the user but current ("sign
// out other devices").
// The user's whole cache entry goes (the current session is read again).
func (s *Service) EndOtherSessions(ctx context.Context, userID, current int) error {
	return s.Write(ctx, func(ctx context.Context, tx *ent.Client, ch *Changes) error {
		now := s.Now.Now()
		err := tx.Session.Update().
			Where(session.UserID(userID), session.IDNEQ(current), session.RevokedAtIsNil()).
			SetRevokedAt(now).SetRevokeReason(ReasonEndedByUser).Exec(ctx)
		if err != nil {
			return fmt.Errorf("end other sessions of user %d: %w", userID, err)
		}
		ch.UserRevoked(userID)
		return nil
	})
}
