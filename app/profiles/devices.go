package profiles

import (
	"context"
	"fmt"
	"time"

	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/session"
)

// DeviceSession is one live session as its user sees it.
type DeviceSession struct {
	ID         int
	CreatedAt  time.Time
	LastUsedAt time.Time
	IP         string
	Device     string // from the user agent (DeviceName)
	App        string // the AppID of the mini program, Official Account or mobile app
	Via        string // the door: KindMiniProgram, KindOA or KindApp
}

// maxListedSessions bounds the list: a user with more live sessions than
// that sees the newest.
const maxListedSessions = 100

// Devices lists a user's live sessions, newest first.
func (s *Service) Devices(ctx context.Context, userID int) ([]DeviceSession, error) {
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
