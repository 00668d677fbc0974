package app

import (
	"context"
	"time"

	"github.com/miniauth/miniauth/app/audit"
)

// purgeAudit deletes audit entries older than MINIAUTH_AUDIT_RETENTION
// (none when it is 0). It runs with the hourly session purge.
func (s *Server) purgeAudit(ctx context.Context) {
	keep := s.Config.AuditRetention
	if keep <= 0 {
		return
	}
	n, err := audit.New(s.DB).Purge(ctx, time.Now().UTC().Add(-keep))
	switch {
	case err != nil && ctx.Err() == nil:
		s.Log.Warn("purge audit entries", "err", err)
	case n > 0:
		s.Log.Info("purged audit entries", "entries", n, "retention", keep.String())
	}
}
