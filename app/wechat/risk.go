package wechat

import (
	"context"
	"encoding/json"
)

// PathRiskRank is getUserRiskRank (WECHAT.md 5.6).
const PathRiskRank = "/wxa/getuserriskrank"

// Scenes of getUserRiskRank.
const (
	RiskSceneSignUp    = 0
	RiskSceneMarketing = 1
	RiskSceneUGC       = 2
)

// MaxRiskRank is the riskiest rank WeChat answers.
const MaxRiskRank = 4

// RiskRank asks WeChat how risky a user is, 0 (safe) to 4, in a scene,
// with the client IP the request came from. It is read-only, so a
// refused access token is replaced and the call made again once.
func (c *Client) RiskRank(ctx context.Context, openid string, scene int, clientIP string) (int, error) {
	body, _ := json.Marshal(map[string]any{"appid": c.appID, "openid": openid, "scene": scene, "client_ip": clientIP})
	var out struct {
		RiskRank *int `json:"risk_rank"`
	}
	if err := c.callWithToken(ctx, PathRiskRank, body, &out); err != nil {
		return 0, err
	}
	if out.RiskRank == nil || *out.RiskRank < 0 || *out.RiskRank > MaxRiskRank {
		return 0, &unavailable{endpoint: PathRiskRank, reason: "answer has no risk_rank from 0 to 4"}
	}
	return *out.RiskRank, nil
}
