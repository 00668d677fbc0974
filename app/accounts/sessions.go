package accounts

import (
	"context"
	"fmt"
	"time"

	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/session"
)

// ReasonEndedByUser marks a session the user ended from another device.
const ReasonEndedByUser = "ended_by_user"

// DeviceSession is one live session as its user sees it.
type DeviceSession struct {
	ID         int
	CreatedAt  time.Time
	LastUsedAt time.Time
	IP         string
	Device     string // from the user agent (device.go)
	App        string // the AppID of the mini program, Official Account or mobile app
	Via        string // the door: KindMiniProgram, KindOA or KindApp
}

// maxListedSessions bounds the list: a user with more live sessions than
// that sees the newest.
const maxListedSessions = 100

// Sessions lists a user's live sessions, newest first.
func (s *Service) Sessions(ctx context.Context, userID int) ([]DeviceSession, error) {
	rows, err := s.DB.Read.Session.Query().
		Where(session.UserID(userID), session.RevokedAtIsNil(), session.ExpiresAtGT(s.Now.Now())).
		Order(ent.Desc(session.FieldCreatedAt), ent.Desc(session.FieldID)).
		Limit(maxListedSessions).
		Select(session.FieldCreatedAt, session.FieldLastUsedAt, session.FieldIP, session.FieldUserAgent, session.FieldAppid).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list sessions of user %d: %w", userID, err)
	}
	doors, err := s.Doors(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]DeviceSession, len(rows))
	for i, r := range rows {
		out[i] = DeviceSession{ID: r.ID, CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt, IP: r.IP,
			Device: DeviceName(r.UserAgent), App: r.Appid, Via: doorOf(doors, r.Appid)}
	}
	return out, nil
}

var errNoSuchSession = problem.New(problem.NotFound, "no such session")

// EndSession ends one of the user's sessions: its tokens are refused from
// the next request on. Another user's session is not found, as is one
// that has already ended.
func (s *Service) EndSession(ctx context.Context, userID, sessionID int) error {
	return s.write(ctx, func(ctx context.Context, tx *ent.Client, ch *Changes) error {
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
	return s.write(ctx, func(ctx context.Context, tx *ent.Client, ch *Changes) error {
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
