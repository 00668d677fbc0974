package profiles

import (
	"context"
	"errors"

	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/wechat"
)

var errSessionKeyStale = problem.New(problem.SessionKeyStale,
	"the data does not decrypt with the current WeChat session; call wx.login, log in again, then fetch the encrypted data again")

// Decrypt opens encryptedData from a WeChat client API (share info, WeRun,
// the legacy phone flow) with the user's latest session_key, and returns
// the JSON object inside after checking its watermark. Any failure is
// session_key_stale: the session_key changes whenever the client calls
// wx.login, which is almost always why data no longer decrypts.
func (s *Service) Decrypt(ctx context.Context, userID, sessionID int, encryptedData, iv string) ([]byte, error) {
	id, err := s.identityOfSession(ctx, userID, sessionID)
	if err != nil {
		return nil, err
	}
	if id.SessionKey == nil {
		return nil, errSessionKeyStale
	}
	key, err := s.Keys.Open(id.SessionKey)
	if err != nil {
		s.Log.Warn("session key does not unseal (server secret changed?)", "user_id", userID)
		return nil, errSessionKeyStale
	}
	plain, err := id.App.Decrypt(string(key), encryptedData, iv)
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
