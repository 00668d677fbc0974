// Package wechatevents acts on the events WeChat pushes (消息推送): each
// message is stored once (a re-delivery or a replay finds it stored and
// changes nothing), then acted on: privacy events erase data
// (app/profiles), wxa_media_check decides about an uploaded avatar. A
// message that could not be acted on stays stored and is tried again, so
// a crash after WeChat got its answer loses nothing.
package wechatevents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/app/wechatpush"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/pushevent"
)

// Timing of the work after an event is stored.
const (
	// AnswerWait is how long a delivery waits for its event to be acted
	// on before it is answered anyway (WeChat gives up after 5 s and
	// re-sends; the work then goes on, and the retry is a duplicate).
	AnswerWait = 3 * time.Second
	// ActTimeout bounds one attempt to act on an event.
	ActTimeout = 30 * time.Second
	// RetryEvery is how often events left undone are tried again.
	RetryEvery = time.Minute
	// MaxAttempts: an event that failed this often is given up (logged
	// as an error, marked failed).
	MaxAttempts = 10
	// Retention is how long handled events are kept, to recognise
	// re-deliveries and replays (a replay older than 5 minutes is refused
	// by its timestamp anyway).
	Retention = 24 * time.Hour
)

// Outcomes, as stored and counted in metrics.
const (
	OutcomeDone        = "done"
	OutcomeUnknownUser = "unknown_user"
	OutcomeIgnored     = "ignored"
	OutcomeDuplicate   = "duplicate"
	OutcomeFailed      = "failed"
)

// Actor is the audit actor of what WeChat asked for.
const Actor = "wechat"

// MediaVerdict acts on a wxa_media_check event inside the hooks'
// transaction (content checks); nil ignores those events.
type MediaVerdict func(ctx context.Context, appID string, m wechatpush.Message, h profiles.Hooks) (profiles.Erasure, error)

// Service stores and acts on pushed events.
type Service struct {
	DB       *database.DB
	Profiles *profiles.Service
	Audit    *audit.Log
	Log      *slog.Logger
	Now      clock.Clock
	// Observe, if set, counts each event by name and outcome (metrics).
	Observe func(event, outcome string)
	// Media acts on wxa_media_check events.
	Media MediaVerdict

	running sync.Map // event id → struct{}: acted on by this process now
}

// Known reports whether miniauth acts on an event; others are answered
// and dropped.
func Known(event string) bool {
	switch event {
	case wechatpush.EventRevoke, wechatpush.EventCancellation, wechatpush.EventInfoModified, wechatpush.EventMediaCheck:
		return true
	}
	return false
}

func (s *Service) observe(event, outcome string) {
	if s.Observe == nil {
		return
	}
	if !Known(event) {
		event = "other"
	}
	s.Observe(event, outcome)
}

// Accept stores a checked message of appID and acts on it, waiting at
// most AnswerWait for that. It returns once the message is stored (or
// found stored: a re-delivery). An event miniauth does not act on is
// dropped.
func (s *Service) Accept(ctx context.Context, appID string, m wechatpush.Message) error {
	if m.MsgType != "event" || !Known(m.Event) {
		s.observe(m.Event, OutcomeIgnored)
		return nil
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return err
	}
	var id int
	err = s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		ev, err := tx.PushEvent.Create().
			SetAppid(appID).
			SetDedupKey(m.Key(appID)).
			SetEvent(m.Event).
			SetOpenid(clip(m.User(), 128)).
			SetPayload(string(payload)).
			SetReceivedAt(s.Now.Now()).
			Save(ctx)
		if err != nil {
			return err
		}
		id = ev.ID
		return nil
	})
	if ent.IsConstraintError(err) {
		s.observe(m.Event, OutcomeDuplicate)
		return nil
	}
	if err != nil {
		return fmt.Errorf("store pushed event: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.act(id)
	}()
	t := time.NewTimer(AnswerWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
	return nil
}

// Run tries the events left undone again, now and every RetryEvery,
// until ctx ends. Several instances may: each event is claimed once.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(RetryEvery)
	defer t.Stop()
	for {
		s.RetryPending(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RetryPending acts on every event not done yet that arrived before the
// last AnswerWait (younger ones are being acted on by their delivery).
func (s *Service) RetryPending(ctx context.Context) {
	ids, err := s.DB.Read.PushEvent.Query().
		Where(pushevent.DoneAtIsNil(), pushevent.ReceivedAtLT(s.Now.Now().Add(-AnswerWait))).
		Order(ent.Asc(pushevent.FieldID)).Limit(500).IDs(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.Log.Warn("list undone pushed events", "err", err)
		}
		return
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		s.act(id)
	}
}

// Purge deletes handled events older than Retention.
func (s *Service) Purge(ctx context.Context) (int, error) {
	var n int
	err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		var err error
		n, err = tx.PushEvent.Delete().Where(pushevent.DoneAtNotNil(), pushevent.ReceivedAtLT(s.Now.Now().Add(-Retention))).Exec(ctx)
		return err
	})
	return n, err
}

// errHandled means another delivery or instance acted on the event first.
var errHandled = errors.New("event already handled")

// act acts on one stored event, once: the action's transaction first
// marks the event done, and a second attempt finds it marked.
func (s *Service) act(id int) {
	if _, busy := s.running.LoadOrStore(id, struct{}{}); busy {
		return
	}
	defer s.running.Delete(id)
	ctx, cancel := context.WithTimeout(context.Background(), ActTimeout)
	defer cancel()
	ev, err := s.DB.Read.PushEvent.Get(ctx, id)
	if err != nil || ev.DoneAt != nil {
		return
	}
	var m wechatpush.Message
	if err := json.Unmarshal([]byte(ev.Payload), &m); err != nil {
		s.giveUp(ctx, ev, err)
		return
	}
	outcome := OutcomeDone
	h := profiles.Hooks{
		Claim: func(ctx context.Context, tx *ent.Client) error {
			n, err := tx.PushEvent.Update().Where(pushevent.ID(id), pushevent.DoneAtIsNil()).
				SetDoneAt(s.Now.Now()).AddAttempts(1).Save(ctx)
			if err != nil {
				return err
			}
			if n == 0 {
				return errHandled
			}
			return nil
		},
		Record: func(ctx context.Context, tx *ent.Client, e profiles.Erasure) error {
			switch {
			case e.UserID == 0:
				outcome = OutcomeUnknownUser
			case m.Event != wechatpush.EventMediaCheck || e.Fields.Avatar:
				// A media verdict is audited when it removed an avatar.
				if err := s.audit(ctx, tx, ev.Appid, m, e); err != nil {
					return err
				}
			}
			return tx.PushEvent.UpdateOneID(id).SetOutcome(outcome).SetLastError("").Exec(ctx)
		},
	}
	switch m.Event {
	case wechatpush.EventRevoke:
		_, err = s.Profiles.EraseFields(ctx, ev.Appid, m.OpenID, RevokedFields(m.RevokeInfo), h)
	case wechatpush.EventInfoModified:
		_, err = s.Profiles.EraseFields(ctx, ev.Appid, m.OpenID, profiles.Fields{Nickname: true, Avatar: true}, h)
	case wechatpush.EventCancellation:
		_, err = s.Profiles.CancelIdentity(ctx, ev.Appid, m.OpenID, h)
	case wechatpush.EventMediaCheck:
		if s.Media == nil {
			outcome = OutcomeIgnored
			err = s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
				if err := h.Claim(ctx, tx); err != nil {
					return err
				}
				return tx.PushEvent.UpdateOneID(id).SetOutcome(outcome).Exec(ctx)
			})
		} else {
			_, err = s.Media(ctx, ev.Appid, m, h)
		}
	default:
		outcome = OutcomeIgnored
	}
	switch {
	case errors.Is(err, errHandled):
		return
	case err != nil:
		s.failed(ctx, ev, err)
		return
	}
	s.Log.Info("acted on pushed event", "event", m.Event, "appid", ev.Appid, "outcome", outcome)
	s.observe(m.Event, outcome)
}

// failed counts a failed attempt; the retry loop tries again, up to
// MaxAttempts.
func (s *Service) failed(ctx context.Context, ev *ent.PushEvent, cause error) {
	if ev.Attempts+1 >= MaxAttempts {
		s.giveUp(ctx, ev, cause)
		return
	}
	s.Log.Warn("acting on pushed event failed; will retry", "event", ev.Event, "appid", ev.Appid, "attempt", ev.Attempts+1, "err", cause)
	err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		return tx.PushEvent.Update().Where(pushevent.ID(ev.ID), pushevent.DoneAtIsNil()).
			AddAttempts(1).SetLastError(clip(cause.Error(), 512)).Exec(ctx)
	})
	if err != nil {
		s.Log.Warn("record failed attempt", "err", err)
	}
}

func (s *Service) giveUp(ctx context.Context, ev *ent.PushEvent, cause error) {
	s.Log.Error("giving up on a pushed event", "event", ev.Event, "appid", ev.Appid, "id", ev.ID, "err", cause)
	s.observe(ev.Event, OutcomeFailed)
	err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		return tx.PushEvent.Update().Where(pushevent.ID(ev.ID), pushevent.DoneAtIsNil()).
			SetDoneAt(s.Now.Now()).AddAttempts(1).SetOutcome(OutcomeFailed).SetLastError(clip(cause.Error(), 512)).Exec(ctx)
	})
	if err != nil {
		s.Log.Warn("record given-up event", "err", err)
	}
}

// audit records what an event did to a user.
func (s *Service) audit(ctx context.Context, tx *ent.Client, appID string, m wechatpush.Message, e profiles.Erasure) error {
	entry := audit.Entry{Actor: Actor, TargetUserID: e.UserID}
	detail := "app " + appID
	switch m.Event {
	case wechatpush.EventRevoke:
		entry.Action = audit.WeChatRevoked
		detail += ", RevokeInfo " + clip(m.RevokeInfo, 32) + ": erased " + names(e.Fields)
	case wechatpush.EventInfoModified:
		entry.Action = audit.WeChatProfileCleaned
		detail += ": erased " + names(e.Fields)
	case wechatpush.EventCancellation:
		entry.Action = audit.WeChatAccountClosed
		if e.UserDeleted {
			detail += ": identity and user erased"
		} else {
			detail += fmt.Sprintf(": identity erased, %d sessions ended", e.Sessions)
		}
	case wechatpush.EventMediaCheck:
		entry.Action = audit.AvatarRejected
		detail += ": " + clip(m.Suggest, 16) + " (label " + clip(m.Label, 16) + "), avatar removed"
	}
	entry.Detail = detail
	if s.Audit == nil {
		return nil
	}
	return s.Audit.RecordTx(ctx, tx, entry)
}

func names(f profiles.Fields) string {
	n := f.Names()
	if len(n) == 0 {
		return "nothing (no item miniauth keeps)"
	}
	return strings.Join(n, ", ")
}

// RevokedFields is what a RevokeInfo asks to erase (WECHAT.md 5.3): 6
// nickname and avatar, 19 the nickname, 20 the avatar, 8 the phone
// number. Other items are data miniauth does not keep. RevokeInfo is one
// number; a list is read too, in case WeChat sends several.
func RevokedFields(info string) profiles.Fields {
	var f profiles.Fields
	for _, item := range strings.FieldsFunc(info, func(r rune) bool { return r < '0' || r > '9' }) {
		n, err := strconv.Atoi(item)
		if err != nil {
			continue
		}
		switch n {
		case 6:
			f.Nickname, f.Avatar = true, true
		case 19:
			f.Nickname = true
		case 20:
			f.Avatar = true
		case 8:
			f.Phone = true
		}
	}
	return f
}

// clip bounds s to n bytes of valid UTF-8 (PostgreSQL refuses invalid).
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
