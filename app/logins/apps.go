package logins

import (
	"errors"

	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/wechat"
)

// PickMiniProgram is the mini program a login names. It is checked before WeChat
// is called, so a wrong appid never burns the user's code.
func (s *Service) PickMiniProgram(appID string) (*wechat.Client, error) {
	c, err := s.MiniPrograms.Pick(appID)
	switch {
	case errors.Is(err, wechat.ErrAppRequired):
		return nil, problem.Invalid(map[string]string{"appid": "is required: several mini programs are configured"})
	case errors.Is(err, wechat.ErrUnknownApp):
		return nil, problem.Invalid(map[string]string{"appid": "is not a configured mini program"})
	}
	return c, err
}
