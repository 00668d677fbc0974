package wechat

import (
	"context"
	"encoding/json"
	"strings"
)

// Content security endpoints (WECHAT.md 5.4, 5.5).
const (
	PathMsgSecCheck     = "/wxa/msg_sec_check"
	PathMediaCheckAsync = "/wxa/media_check_async"
)

// Verdicts of the content checks.
const (
	SuggestPass   = "pass"
	SuggestReview = "review"
	SuggestRisky  = "risky"
)

// Verdict is msgSecCheck's answer: result.suggest and result.label.
type Verdict struct {
	Suggest string
	Label   string
}

// MsgSecCheck checks a profile text (scene 1) of the user openid with
// msgSecCheck v2. WeChat wants the user to have used the mini program in
// the last 2 hours (61010 otherwise) and caps calls at 4000 a minute: a
// failed check is an error for the caller to decide on. An answer
// without a verdict is unavailable, never "pass".
func (c *Client) MsgSecCheck(ctx context.Context, openid, content string) (Verdict, error) {
	body, _ := json.Marshal(map[string]any{"version": 2, "scene": 1, "openid": openid, "content": content})
	var out struct {
		Result *struct {
			Suggest string      `json:"suggest"`
			Label   looseString `json:"label"`
		} `json:"result"`
	}
	if err := c.callWithToken(ctx, PathMsgSecCheck, body, &out); err != nil {
		return Verdict{}, err
	}
	if out.Result == nil {
		return Verdict{}, &unavailable{endpoint: PathMsgSecCheck, reason: "answer has no result"}
	}
	v := Verdict{Suggest: strings.ToLower(strings.TrimSpace(out.Result.Suggest)), Label: string(out.Result.Label)}
	switch v.Suggest {
	case SuggestPass, SuggestReview, SuggestRisky:
		return v, nil
	}
	return Verdict{}, &unavailable{endpoint: PathMsgSecCheck, reason: "answer has an unknown suggest"}
}

// MediaCheckAsync asks WeChat to check an image at mediaURL (which WeChat
// downloads, so it must be public) for the user openid; the verdict comes
// later as a wxa_media_check push event carrying the returned trace_id.
func (c *Client) MediaCheckAsync(ctx context.Context, openid, mediaURL string) (string, error) {
	body, _ := json.Marshal(map[string]any{"media_url": mediaURL, "media_type": 2, "version": 2, "scene": 1, "openid": openid})
	var out struct {
		TraceID string `json:"trace_id"`
	}
	if err := c.callWithToken(ctx, PathMediaCheckAsync, body, &out); err != nil {
		return "", err
	}
	if out.TraceID == "" {
		return "", &unavailable{endpoint: PathMediaCheckAsync, reason: "answer has no trace_id"}
	}
	return out.TraceID, nil
}
