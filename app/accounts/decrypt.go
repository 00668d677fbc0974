package accounts

import (
	"context"
	"errors"
	"fmt"

	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/wechat"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/user"
)

var errSessionKeyStale = problem.New(problem.SessionKeyStale,
	"the data does not decrypt with the current WeChat session; call wx.login, log in again, then fetch the encrypted data again")

// Decrypt opens encryptedData from a WeChat client API (share info, WeRun,
// the legacy phone flow) with the user's latest session_key, and returns
// the JSON object inside after checking its watermark. Any failure is
// session_key_stale: the session_key changes whenever the client calls
// wx.login, which is almost always why data no longer decrypts.
func (s *Service) Decrypt(ctx context.Context, userID int, encryptedData, iv string) ([]byte, error) {
	u, err := s.DB.Read.User.Query().Where(user.ID(userID)).Select(user.FieldSessionKey).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("load session key of user %d: %w", userID, err)
	}
	if u.SessionKey == nil {
		return nil, errSessionKeyStale
	}
	key, err := s.Keys.Open(*u.SessionKey)
	if err != nil {
		s.Log.Warn("session key does not unseal (server secret changed?)", "user_id", userID)
		return nil, errSessionKeyStale
	}
	plain, err := s.WeChat.Decrypt(string(key), encryptedData, iv)
	if err != nil {
		reason := "does not decrypt"
		if errors.Is(err, wechat.ErrWatermark) {
			reason = "watermark appid is not ours"
		}
		s.Log.Info("encrypted data refused", "user_id", userID, "reason", reason)
		return nil, errSessionKeyStale
	}
	return plain, nil
}
