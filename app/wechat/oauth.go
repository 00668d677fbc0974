package wechat

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// Errcodes of the sns (OAuth) APIs.
const (
	// CodeScopeInsufficient: /sns/userinfo with a token of a
	// snsapi_base authorization.
	CodeScopeInsufficient = 48001
)

// OAuthIdentity is what /sns/oauth2/access_token says about the person
// who authorized an Official Account's page or a mobile app (WECHAT.md
// §6.1.4, §6.2). The user access token is only for /sns/userinfo right
// after; miniauth keeps no WeChat user tokens.
type OAuthIdentity struct {
	OpenID      string
	UnionID     string
	Scope       string
	AccessToken string
	// Snapshot is is_snapshotuser=1: a virtual user of WeChat's
	// browse-only snapshot page (快照页), never to be stored.
	Snapshot bool
}

// HasUserInfoScope reports whether the authorization allows /sns/userinfo.
func (o *OAuthIdentity) HasUserInfoScope() bool {
	for _, s := range strings.Split(o.Scope, ",") {
		if strings.TrimSpace(s) == "snsapi_userinfo" {
			return true
		}
	}
	return false
}

// OAuthCode exchanges the code of an Official Account's web
// authorization or of a mobile app's WeChat login (the same endpoint,
// each with its own appid and secret). Never retried: a code is
// single-use.
func (c *Client) OAuthCode(ctx context.Context, code string) (*OAuthIdentity, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	q := url.Values{
		"appid":      {c.appID},
		"secret":     {c.secret},
		"code":       {code},
		"grant_type": {"authorization_code"},
	}
	var out struct {
		AccessToken    string `json:"access_token"`
		OpenID         string `json:"openid"`
		UnionID        string `json:"unionid"`
		Scope          string `json:"scope"`
		IsSnapshotUser int    `json:"is_snapshotuser"`
	}
	const endpoint = "/sns/oauth2/access_token"
	if err := c.call(ctx, http.MethodGet, endpoint, q, nil, &out); err != nil {
		return nil, err
	}
	if out.OpenID == "" {
		return nil, &unavailable{endpoint: endpoint, reason: "answer has no openid"}
	}
	return &OAuthIdentity{OpenID: out.OpenID, UnionID: out.UnionID, Scope: out.Scope,
		AccessToken: out.AccessToken, Snapshot: out.IsSnapshotUser == 1}, nil
}

// UserInfo is the profile /sns/userinfo gives (WECHAT.md §6.1.5).
type UserInfo struct {
	Nickname   string
	HeadImgURL string
	Sex        int
	UnionID    string
}

// UserInfo reads the profile of the person of an OAuth identity. Call it
// only when the granted scope has snsapi_userinfo (else 48001).
func (c *Client) UserInfo(ctx context.Context, id *OAuthIdentity) (*UserInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	q := url.Values{"access_token": {id.AccessToken}, "openid": {id.OpenID}, "lang": {"zh_CN"}}
	var out struct {
		Nickname   string `json:"nickname"`
		HeadImgURL string `json:"headimgurl"`
		Sex        int    `json:"sex"`
		UnionID    string `json:"unionid"`
	}
	if err := c.call(ctx, http.MethodGet, "/sns/userinfo", q, nil, &out); err != nil {
		return nil, err
	}
	return &UserInfo{Nickname: out.Nickname, HeadImgURL: out.HeadImgURL, Sex: out.Sex, UnionID: out.UnionID}, nil
}
