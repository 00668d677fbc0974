package logins

import (
	"context"
	"fmt"

	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/wechat"
	"github.com/miniauth/miniauth/ent/identity"
	"github.com/miniauth/miniauth/ent/user"
)

// Outcomes of the sign-up risk gate, for Guard.ObserveRisk.
const (
	RiskAllowed  = "allowed"
	RiskRejected = "rejected"
	// RiskUnknown: WeChat could not say; the user is created and flagged.
	RiskUnknown = "unknown"
)

var errRiskRejected = problem.New(problem.RiskRejected,
	"sign-up refused: WeChat rates this account as too risky")

// screenSignUp is the sign-up risk gate (MINIAUTH_RISK_MAX_RANK): a login
// that would create a user asks getUserRiskRank (scene 0, the client IP)
// before anything is written. Above the limit the login is refused; when
// WeChat cannot say, the user is created and flagged for the admin.
// Returning users, and identities joining an existing user by unionid,
// are not asked.
func (s *Service) screenSignUp(ctx context.Context, li *loginIdentity, clientIP string) error {
	limit := s.Profiles.Guard.RiskMaxRank
	if limit == nil {
		return nil
	}
	if known, err := s.knownPerson(ctx, *li); err != nil || known {
		return err
	}
	app, _ := s.MiniPrograms.Get(li.AppID)
	rank, err := app.RiskRank(ctx, li.Session.OpenID, wechat.RiskSceneSignUp, clientIP)
	if err != nil {
		if wechat.Misconfigured(err) {
			s.Log.Error("WeChat rejected our credentials: check the AppID and secret", "appid", li.AppID, "err", err)
		}
		s.Log.Warn("getuserriskrank failed: the new user is created and flagged", "appid", li.AppID, "err", err)
		li.RiskFlagged = true
		s.observeRisk(li.AppID, RiskUnknown, -1)
		return nil
	}
	if rank > *limit {
		s.Log.Warn("sign-up refused: risk rank above the limit", "appid", li.AppID, "risk_rank", rank, "max_rank", *limit)
		s.observeRisk(li.AppID, RiskRejected, rank)
		return errRiskRejected
	}
	li.RiskRank = &rank
	s.observeRisk(li.AppID, RiskAllowed, rank)
	return nil
}

// knownPerson reports whether a login lands on an existing user: its
// (appid, openid) identity, or a user with its unionid.
func (s *Service) knownPerson(ctx context.Context, li loginIdentity) (bool, error) {
	found, err := s.DB.Read.Identity.Query().Where(identity.Appid(li.AppID), identity.Openid(li.Session.OpenID)).Exist(ctx)
	if err != nil || found {
		return found, wrapErr(err, "find identity")
	}
	if li.Session.UnionID == "" {
		return false, nil
	}
	found, err = s.DB.Read.User.Query().Where(user.Unionid(li.Session.UnionID)).Exist(ctx)
	return found, wrapErr(err, "find user by unionid")
}

func wrapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// observeRisk tells the metrics (Guard.ObserveRisk) how a sign-up was
// screened.
func (s *Service) observeRisk(appID, outcome string, rank int) {
	if g := &s.Profiles.Guard; g.ObserveRisk != nil {
		g.ObserveRisk(appID, outcome, rank)
	}
}
