package sessions

import (
	"context"
	"fmt"
	"time"

	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/session"
)

// SessionRetention is how long an ended (expired or revoked) session is
// kept for the admin panel's history before it is purged.
const SessionRetention = 30 * 24 * time.Hour

// purgeBatch bounds the rows one purge transaction deletes, so the single
// SQLite writer is never held for long.
const purgeBatch = 5000

// PurgeEnded deletes sessions that ended before cutoff, with their rotated
// refresh tokens (by the schema's cascade), and returns how many sessions went. Without it every
// refresh would leave a row behind for ever. Users are never touched.
func (s *Service) PurgeEnded(ctx context.Context, cutoff time.Time) (int, error) {
	total := 0
	for {
		var n int
		err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
			ids, err := tx.Session.Query().
				Where(session.Or(session.ExpiresAtLT(cutoff), session.RevokedAtLT(cutoff))).
				Limit(purgeBatch).IDs(ctx)
			if err != nil || len(ids) == 0 {
				return err
			}
			n, err = tx.Session.Delete().Where(session.IDIn(ids...)).Exec(ctx)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("purge ended sessions: %w", err)
		}
		total += n
		if n < purgeBatch {
			return total, nil
		}
	}
}
