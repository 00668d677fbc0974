package admins

import (
	"context"

	"github.com/miniauth/miniauth/ent"
)

// CancelTOTP drops an enrollment the admin started and did not confirm,
// so that the QR code stops coming back. A confirmed second factor is
// left alone (ErrEnrolled: removing it asks for a code); with nothing
// started it is ErrNoEnrollment.
func (s *Service) CancelTOTP(ctx context.Context, username string) error {
	username = NormalizeUsername(username)
	return s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		a, err := notEnrolled(ctx, tx, username)
		if err != nil {
			return err
		}
		if !present(a.TotpPending) {
			return ErrNoEnrollment
		}
		return tx.Admin.UpdateOneID(a.ID).ClearTotpPending().Exec(ctx)
	})
}
