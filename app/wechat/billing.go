package wechat

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// Phone billing (WECHAT.md 5.8): getUsageDetail of the phone-number
// packages.
const (
	PathChargeUsage = "/wxa/charge/usage/get"
	// SpuPhoneNumber is 手机号快速验证组件, what getPhoneNumber bills.
	SpuPhoneNumber = "10000077"
)

// Usage is a product's packages: the calls they hold and those used.
type Usage struct {
	All, Used int64
}

// PhoneUsage reads how many phone-number calls WeChat billed and how many
// the packages hold (the 1,000-call trial and any bought). It is
// read-only: a refused access token is replaced and the call made again.
func (c *Client) PhoneUsage(ctx context.Context) (*Usage, error) {
	q := url.Values{"spuId": {SpuPhoneNumber}, "offset": {"0"}, "limit": {"20"}}
	var out struct {
		All          looseString `json:"all"`
		EffectiveAll looseString `json:"effectiveAll"` // the deprecated name of all
		EffectiveUse looseString `json:"effectiveUse"`
		DetailList   []struct {
			Used   looseString `json:"used"`
			Status int         `json:"status"`
		} `json:"detailList"`
	}
	if err := c.callWithTokenAs(ctx, http.MethodGet, PathChargeUsage, q, nil, &out); err != nil {
		return nil, err
	}
	all, ok := parseCount(out.All)
	if !ok || all == 0 {
		if a, ok2 := parseCount(out.EffectiveAll); ok2 && a > 0 {
			all, ok = a, true
		}
	}
	used, okUsed := parseCount(out.EffectiveUse)
	if !okUsed {
		// No total: add up the packages.
		for _, d := range out.DetailList {
			n, ok := parseCount(d.Used)
			if !ok {
				return nil, &unavailable{endpoint: PathChargeUsage, reason: "answer has no usable counts"}
			}
			used += n
		}
		okUsed = len(out.DetailList) > 0
	}
	if !ok || !okUsed {
		return nil, &unavailable{endpoint: PathChargeUsage, reason: "answer has no usable counts"}
	}
	return &Usage{All: all, Used: used}, nil
}

// parseCount reads WeChat's counts, strings of 64-bit numbers.
func parseCount(s looseString) (int64, bool) {
	if s == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(string(s), 10, 64)
	return n, err == nil && n >= 0
}
