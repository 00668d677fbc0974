// Package exporter writes every user as JSON lines (miniauth export), the
// file `miniauth import --from miniauth` reads back: another system, or
// another miniauth, takes the users with their identities, profile,
// times and status.
package exporter

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/identity"
	"github.com/miniauth/miniauth/ent/user"
)

// User is one line of the export. Times are RFC 3339 in UTC. Secrets
// (session keys) are never exported; sessions are not either: every app
// logs in again.
type User struct {
	ID               int     `json:"id"`
	OpenID           string  `json:"openid"`
	UnionID          *string `json:"unionid"`
	Nickname         string  `json:"nickname"`
	AvatarURL        string  `json:"avatar_url"`
	Gender           int     `json:"gender"`
	Phone            string  `json:"phone"`
	PhoneCountryCode string  `json:"phone_country_code"`
	Disabled         bool    `json:"disabled"`
	// RiskRank is WeChat's getUserRiskRank at sign-up (null: not asked);
	// RiskFlagged: the gate was on but WeChat could not say.
	RiskRank    *int       `json:"risk_rank"`
	RiskFlagged bool       `json:"risk_flagged"`
	LoginCount  int        `json:"login_count"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	LastLoginAt *time.Time `json:"last_login_at"`
	Identities  []Identity `json:"identities"`
}

// Identity is one (appid, openid) of a user.
type Identity struct {
	AppID  string `json:"appid"`
	OpenID string `json:"openid"`
	// Kind is the door: "miniprogram", "oa" (Official Account H5) or
	// "app" (open platform mobile app).
	Kind        string     `json:"kind"`
	UnionID     *string    `json:"unionid"`
	CreatedAt   time.Time  `json:"created_at"`
	LastLoginAt *time.Time `json:"last_login_at"`
}

// batch is how many users are read per query: keyset pages (id > last)
// stream a million users in constant memory without one long read
// transaction.
const batch = 1000

// Export writes every user to w in id order, one JSON object per line,
// and returns how many it wrote.
func Export(ctx context.Context, db *database.DB, w io.Writer) (int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	n, last := 0, 0
	for {
		users, err := db.Read.User.Query().Where(user.IDGT(last)).
			Order(entsql.OrderByField(user.FieldID).ToFunc()).Limit(batch).
			WithIdentities(func(q *ent.IdentityQuery) { q.Order(ent.Asc(identity.FieldID)) }).
			All(ctx)
		if err != nil {
			return n, fmt.Errorf("read users after %d: %w", last, err)
		}
		for _, u := range users {
			if err := enc.Encode(Of(u)); err != nil {
				return n, err
			}
			n++
		}
		if len(users) < batch {
			break
		}
		last = users[len(users)-1].ID
	}
	return n, bw.Flush()
}

// Of is the export line of u, whose identities were loaded.
func Of(u *ent.User) User {
	out := User{
		ID: u.ID, OpenID: u.Openid, UnionID: u.Unionid, Nickname: u.Nickname, AvatarURL: u.AvatarURL,
		Gender: u.Gender, Phone: u.Phone, PhoneCountryCode: u.PhoneCountryCode, Disabled: u.Disabled,
		RiskRank: u.RiskRank, RiskFlagged: u.RiskFlagged, LoginCount: u.LoginCount, CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(),
		LastLoginAt: utc(u.LastLoginAt), Identities: []Identity{},
	}
	for _, i := range u.Edges.Identities {
		out.Identities = append(out.Identities, Identity{AppID: i.Appid, OpenID: i.Openid, Kind: i.Kind, UnionID: i.Unionid,
			CreatedAt: i.CreatedAt.UTC(), LastLoginAt: utc(i.LastLoginAt)})
	}
	return out
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
