package profiles

import (
	"context"
	"errors"
	"fmt"
	"github.com/miniauth/miniauth/app/sessions"
	"time"

	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/wechat"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/mediacheck"
	"github.com/miniauth/miniauth/ent/reviewitem"
	"github.com/miniauth/miniauth/ent/user"
)

// Kinds of review items (ent/schema/reviewitem.go).
const (
	ReviewNickname = "nickname"
	ReviewAvatar   = "avatar"
)

// Reasons an item waits for review.
const (
	// ReasonReview: WeChat's verdict was "review".
	ReasonReview = "review"
	// ReasonUnavailable: the check could not be made (WeChat failed,
	// the user had not used the mini program in the last 2 hours, a rate
	// limit), or an avatar verdict said the image could not be fetched.
	ReasonUnavailable = "unavailable"
	// ReasonUnchecked: the avatar could not be sent for checking
	// (MINIAUTH_PUBLIC_URL is not set).
	ReasonUnchecked = "unchecked"
)

// ContentCheck is the content security policy (MINIAUTH_CONTENT_CHECK):
// nicknames through msgSecCheck, uploaded avatars through
// mediaCheckAsync.
type ContentCheck struct {
	// FailClosed refuses a nickname that could not be checked (502)
	// instead of storing it for review.
	FailClosed bool
	// PublicURL is where WeChat downloads uploaded avatars from
	// (MINIAUTH_PUBLIC_URL); empty: avatars are listed for review
	// unchecked.
	PublicURL string
}

var errContentRejected = problem.New(problem.ContentRejected, "WeChat's content check rejected this content")

func contentRejected(field string) *problem.Error {
	p := *errContentRejected
	p.Fields = map[string]string{field: "was rejected by WeChat's content security check; choose another"}
	return &p
}

// reviewFlag is a checked field that must be listed for review once it
// is stored.
type reviewFlag struct {
	reason, label string
}

// checkNickname runs msgSecCheck on a nickname about to be stored for
// openid of app. risky refuses it; review, or a check that could not be
// made, returns a flag to store with it (or, failing closed, refuses).
func (s *Service) checkNickname(ctx context.Context, app *wechat.Client, openid, nickname string) (*reviewFlag, error) {
	if s.Content == nil {
		return nil, nil
	}
	if openid == "" {
		return s.uncheckedNickname(errors.New("no openid for this session's mini program"))
	}
	v, err := app.MsgSecCheck(ctx, openid, nickname)
	if err != nil {
		return s.uncheckedNickname(err)
	}
	switch v.Suggest {
	case wechat.SuggestRisky:
		s.Log.Info("nickname rejected by msgSecCheck", "label", v.Label)
		return nil, contentRejected("nickname")
	case wechat.SuggestReview:
		return &reviewFlag{reason: ReasonReview, label: v.Label}, nil
	}
	return nil, nil
}

// CheckNickname runs the content check on the nickname of p that a
// login is about to store for openid of app: risky refuses it
// (content_rejected); review, or a check that could not be made, marks p
// so that FlagNickname lists the nickname once stored (or, failing
// closed, refuses).
func (s *Service) CheckNickname(ctx context.Context, app *wechat.Client, openid string, p *Profile) error {
	var err error
	p.review, err = s.checkNickname(ctx, app, openid, *p.Nickname)
	return err
}

// MarkUnchecked marks the nickname of p as one no check could be made
// for: FlagNickname lists it for review once stored.
func (p *Profile) MarkUnchecked() { p.review = &reviewFlag{reason: ReasonUnavailable} }

// FlagNickname lists the nickname a login stored for review, inside the
// login's transaction, if its check asked for that (CheckNickname,
// MarkUnchecked) and u now has that nickname.
func FlagNickname(ctx context.Context, tx *ent.Client, u *ent.User, p Profile, now time.Time) error {
	return flagNickname(ctx, tx, u, p.Nickname, p.review, now)
}

func (s *Service) uncheckedNickname(err error) (*reviewFlag, error) {
	if s.Content.FailClosed {
		s.Log.Warn("nickname check unavailable: refused (MINIAUTH_CONTENT_CHECK_FAIL=closed)", "err", err)
		return nil, problem.Wrap(err, problem.WeChatUnavailable, "WeChat's content check is unavailable; try again later")
	}
	s.Log.Warn("nickname check unavailable: stored for review", "err", err)
	return &reviewFlag{reason: ReasonUnavailable}, nil
}

// flagNickname lists a user's stored nickname for review (in the write's
// transaction): only if the nickname stored is the one checked.
func flagNickname(ctx context.Context, tx *ent.Client, u *ent.User, nickname *string, f *reviewFlag, now time.Time) error {
	if f == nil || nickname == nil || u.Nickname != *nickname {
		return nil
	}
	return addReviewItem(ctx, tx, u.ID, ReviewNickname, *nickname, f, now)
}

// addReviewItem replaces what waited for review in that field: only the
// latest content matters.
func addReviewItem(ctx context.Context, tx *ent.Client, userID int, kind, content string, f *reviewFlag, now time.Time) error {
	if _, err := tx.ReviewItem.Delete().Where(reviewitem.UserID(userID), reviewitem.Kind(kind)).Exec(ctx); err != nil {
		return fmt.Errorf("replace review item: %w", err)
	}
	err := tx.ReviewItem.Create().SetUserID(userID).SetKind(kind).SetContent(content).
		SetReason(f.reason).SetLabel(clipLabel(f.label)).SetCreatedAt(now).Exec(ctx)
	if err != nil {
		return fmt.Errorf("list for review: %w", err)
	}
	return nil
}

func clipLabel(s string) string {
	if len(s) > 32 {
		return s[:32]
	}
	return s
}

// checkAvatar sends a just-uploaded avatar to mediaCheckAsync for the
// user's identity in the session's app. The avatar is already shown; the
// verdict arrives as a wxa_media_check event (ApplyMediaVerdict). When it
// cannot be sent, the avatar is listed for review.
func (s *Service) checkAvatar(ctx context.Context, userID, sessionID int, url string) {
	if s.Content == nil {
		return
	}
	flag := func(reason string, cause error) {
		s.Log.Warn("avatar not checked: listed for review", "reason", reason, "err", cause)
		err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
			u, err := tx.User.Query().Where(user.ID(userID)).Select(user.FieldID, user.FieldAvatarURL).Only(ctx)
			if ent.IsNotFound(err) || err == nil && u.AvatarURL != url {
				return nil
			}
			if err != nil {
				return err
			}
			return addReviewItem(ctx, tx, userID, ReviewAvatar, url, &reviewFlag{reason: reason}, s.Now.Now())
		})
		if err != nil {
			s.Log.Warn("list avatar for review", "err", err)
		}
	}
	if s.Content.PublicURL == "" {
		flag(ReasonUnchecked, errors.New("MINIAUTH_PUBLIC_URL is not set"))
		return
	}
	id, err := s.identityOfSession(ctx, userID, sessionID)
	if err != nil || id.OpenID == "" {
		flag(ReasonUnavailable, fmt.Errorf("no identity for the session: %v", err))
		return
	}
	trace, err := id.App.MediaCheckAsync(ctx, id.OpenID, s.Content.PublicURL+url)
	if err != nil {
		flag(ReasonUnavailable, err)
		return
	}
	err = s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		return tx.MediaCheck.Create().SetTraceID(clipTrace(trace)).SetUserID(userID).SetAppid(id.App.AppID()).
			SetURL(url).SetCreatedAt(s.Now.Now()).Exec(ctx)
	})
	if err != nil {
		flag(ReasonUnavailable, err)
		return
	}
	s.Log.Info("avatar sent to mediaCheckAsync", "trace_id", trace, "user_id", userID)
}

func clipTrace(s string) string {
	if len(s) > 128 {
		return s[:128]
	}
	return s
}

// ApplyMediaVerdict acts on a wxa_media_check event (in one transaction
// with h): risky deletes the avatar (avatar_url "", file removed, audited
// by h.Record as Fields.Avatar); review, or a verdict WeChat could not
// reach (errcode -1008, no result), lists it for review; pass ends the
// wait. A verdict on an avatar the user no longer shows changes nothing
// but the file, if it is still stored. An unknown trace_id is UserID 0.
func (s *Service) ApplyMediaVerdict(ctx context.Context, traceID, suggest, label string, errcode int, h Hooks) (Erasure, error) {
	var e Erasure
	var url string
	var risky bool
	err := s.Sessions.Write(ctx, func(ctx context.Context, tx *ent.Client, ch *sessions.Changes) error {
		e, url, risky = Erasure{}, "", false
		if err := h.claim(ctx, tx); err != nil {
			return err
		}
		mc, err := tx.MediaCheck.Query().Where(mediacheck.TraceID(traceID)).Only(ctx)
		if ent.IsNotFound(err) || traceID == "" {
			return h.record(ctx, tx, e)
		}
		if err != nil {
			return fmt.Errorf("find media check: %w", err)
		}
		e.UserID, url = mc.UserID, mc.URL
		if err := tx.MediaCheck.DeleteOne(mc).Exec(ctx); err != nil {
			return fmt.Errorf("end media check: %w", err)
		}
		u, err := s.lockUser(ctx, tx, user.ID(mc.UserID))
		if err != nil {
			return fmt.Errorf("load user %d: %w", mc.UserID, err)
		}
		shown := u.AvatarURL == mc.URL
		switch {
		case errcode == 0 && suggest == wechat.SuggestPass:
		case errcode == 0 && suggest == wechat.SuggestRisky:
			risky = true
			if shown {
				ch.UserChanged(u.ID)
				if err := tx.User.UpdateOneID(u.ID).SetAvatarURL("").SetUpdatedAt(s.Now.Now()).Exec(ctx); err != nil {
					return fmt.Errorf("clear risky avatar: %w", err)
				}
				if _, err := tx.ReviewItem.Delete().Where(reviewitem.UserID(u.ID), reviewitem.Kind(ReviewAvatar)).Exec(ctx); err != nil {
					return err
				}
				e.Fields.Avatar = true
			}
		case shown:
			reason := ReasonReview
			if errcode != 0 || suggest != wechat.SuggestReview {
				reason = ReasonUnavailable
			}
			if err := addReviewItem(ctx, tx, u.ID, ReviewAvatar, mc.URL, &reviewFlag{reason: reason, label: label}, s.Now.Now()); err != nil {
				return err
			}
		}
		return h.record(ctx, tx, e)
	})
	if err != nil {
		return Erasure{}, err
	}
	if risky {
		// Shown or not, a risky file must not stay reachable: its upload
		// record and file go unless the user shows it again.
		s.releaseAvatar(ctx, e.UserID, url)
	}
	return e, nil
}

// reviewChanged keeps the review queue in step with a profile update: a
// field that changed drops what waited for review in it, and a checked
// nickname that asks for review is listed.
func (s *Service) reviewChanged(ctx context.Context, tx *ent.Client, u *ent.User, p Profile) error {
	if p.Nickname != nil {
		if _, err := tx.ReviewItem.Delete().Where(reviewitem.UserID(u.ID), reviewitem.Kind(ReviewNickname),
			reviewitem.ContentNEQ(u.Nickname)).Exec(ctx); err != nil {
			return fmt.Errorf("drop stale review item: %w", err)
		}
		if err := flagNickname(ctx, tx, u, p.Nickname, p.review, s.Now.Now()); err != nil {
			return err
		}
	}
	if p.AvatarURL != nil {
		if _, err := tx.ReviewItem.Delete().Where(reviewitem.UserID(u.ID), reviewitem.Kind(ReviewAvatar),
			reviewitem.ContentNEQ(u.AvatarURL)).Exec(ctx); err != nil {
			return fmt.Errorf("drop stale review item: %w", err)
		}
	}
	return nil
}

// ReviewPageSize bounds the review queue's page.
const ReviewPageSize = 100

// ReviewQueue lists what waits for review, newest first, with the users
// (at most ReviewPageSize), and how many wait in all.
func (s *Service) ReviewQueue(ctx context.Context) ([]*ent.ReviewItem, int, error) {
	items, err := s.DB.Read.ReviewItem.Query().WithUser().
		Order(ent.Desc(reviewitem.FieldCreatedAt), ent.Desc(reviewitem.FieldID)).Limit(ReviewPageSize).All(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("list review queue: %w", err)
	}
	n, err := s.ReviewCount(ctx)
	return items, n, err
}

// ReviewCount is how many items wait for review.
func (s *Service) ReviewCount(ctx context.Context) (int, error) {
	n, err := s.DB.Read.ReviewItem.Query().Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count review queue: %w", err)
	}
	return n, nil
}

var errNoReviewItem = problem.New(problem.NotFound, "no such review item")

// ApproveReview takes an item off the queue: the content stays. It
// returns the item (for the audit entry).
func (s *Service) ApproveReview(ctx context.Context, id int) (*ent.ReviewItem, error) {
	var item *ent.ReviewItem
	err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		var err error
		if item, err = tx.ReviewItem.Get(ctx, id); ent.IsNotFound(err) {
			return errNoReviewItem
		} else if err != nil {
			return err
		}
		return takeReviewItem(ctx, tx, item)
	})
	return item, err
}

// takeReviewItem deletes item off the queue. On PostgreSQL a concurrent
// approve or clear may have taken it since it was read: then it is gone
// for this one too.
func takeReviewItem(ctx context.Context, tx *ent.Client, item *ent.ReviewItem) error {
	err := tx.ReviewItem.DeleteOne(item).Exec(ctx)
	if ent.IsNotFound(err) {
		return errNoReviewItem
	}
	return err
}

// ClearReview erases the flagged content and takes the item off the
// queue: the nickname becomes "", or the avatar_url "" and the uploaded
// file goes, if the user still shows that content (otherwise only the
// item goes).
func (s *Service) ClearReview(ctx context.Context, id int) (*ent.ReviewItem, error) {
	var item *ent.ReviewItem
	var cleared string
	err := s.Sessions.Write(ctx, func(ctx context.Context, tx *ent.Client, ch *sessions.Changes) error {
		cleared = ""
		var err error
		if item, err = tx.ReviewItem.Get(ctx, id); ent.IsNotFound(err) {
			return errNoReviewItem
		} else if err != nil {
			return err
		}
		if err := takeReviewItem(ctx, tx, item); err != nil {
			return err
		}
		u, err := s.lockUser(ctx, tx, user.ID(item.UserID))
		if err != nil {
			return fmt.Errorf("load user %d: %w", item.UserID, err)
		}
		update := tx.User.Update().Where(user.ID(u.ID)).SetUpdatedAt(s.Now.Now())
		switch item.Kind {
		case ReviewNickname:
			update.Where(user.Nickname(item.Content)).SetNickname("")
		case ReviewAvatar:
			if u.AvatarURL != item.Content {
				return nil
			}
			cleared = item.Content
			update.SetAvatarURL("")
		default:
			return nil
		}
		ch.UserChanged(u.ID)
		return update.Exec(ctx)
	})
	if err != nil {
		return nil, err
	}
	if cleared != "" {
		s.releaseAvatar(ctx, item.UserID, cleared)
	}
	return item, nil
}
