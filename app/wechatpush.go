package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/app/config"
	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/app/wechatevents"
	"github.com/miniauth/miniauth/app/wechatpush"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/handlers"
)

// newEvents is the service acting on WeChat's pushed events.
func (s *Server) newEvents() *wechatevents.Service {
	ev := &wechatevents.Service{
		DB:       s.DB,
		Profiles: s.Profiles,
		Audit:    &audit.Log{DB: s.DB},
		Log:      s.Log,
		Now:      s.now,
	}
	if s.Metrics != nil {
		ev.Observe = s.Metrics.ObservePushEvent
	}
	if s.Profiles.Content != nil {
		ev.Media = func(ctx context.Context, _ string, m wechatpush.Message, h profiles.Hooks) (profiles.Erasure, error) {
			return s.Profiles.ApplyMediaVerdict(ctx, m.TraceID, m.Suggest, m.Label, m.ErrCode, h)
		}
	}
	return ev
}

// newContentCheck is the content security policy, or nil when
// MINIAUTH_CONTENT_CHECK is off. Without MINIAUTH_PUBLIC_URL WeChat cannot
// download uploaded avatars: start-up says so in one line, and each
// upload is listed for review unchecked.
func newContentCheck(cfg *config.Config, log *slog.Logger) *profiles.ContentCheck {
	if !cfg.ContentCheck {
		return nil
	}
	if cfg.Doors.PublicURL == "" {
		log.Warn("MINIAUTH_PUBLIC_URL is not set: uploaded avatars cannot be sent to WeChat's content check (mediaCheckAsync) and are listed for review unchecked")
	}
	return &profiles.ContentCheck{FailClosed: cfg.ContentCheckFailClosed, PublicURL: cfg.Doors.PublicURL}
}

// pushHandler receives the message push of the mini programs configured
// for it (MINIAUTH_WECHAT_PUSH); any other appid is not found.
func (s *Server) pushHandler() *handlers.WeChatPush {
	return &handlers.WeChatPush{
		Apps:   PushApps(s.Config),
		Events: s.Events,
		Now:    s.now,
		Log:    s.Log,
	}
}

// PushApps are the mini programs whose message push is received. With
// the simulator and no push settings, the simulator's app takes pushes
// signed with wechatsim's public development Token and key (logins are
// fake there anyway), so that `miniauth dev push` works out of the box.
func PushApps(cfg *config.Config) map[string]wechatpush.App {
	apps := cfg.PushApps(wechatsim.DevelopmentAppID)
	if len(apps) == 0 && cfg.Simulated() && !cfg.Production() {
		key, _ := wechatpush.ParseAESKey(wechatsim.DevPushAESKey)
		apps[wechatsim.DevelopmentAppID] = wechatpush.App{AppID: wechatsim.DevelopmentAppID, Token: wechatsim.DevPushToken, AESKey: key}
	}
	return apps
}

// now is the profiles' clock, read when called: tests set it after New.
func (s *Server) now() time.Time { return s.Profiles.Now.Now() }

// purgePushEvents forgets handled events older than
// wechatevents.Retention.
func (s *Server) purgePushEvents(ctx context.Context) {
	n, err := s.Events.Purge(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		s.Log.Warn("purge pushed events", "err", err)
	case n > 0:
		s.Log.Info("purged handled pushed events", "events", n)
	}
}
