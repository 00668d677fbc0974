package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
)

// PathPhoneNumber is phonenumber.getPhoneNumber.
const PathPhoneNumber = "/wxa/business/getuserphonenumber"

// Phone is a user's phone number as WeChat reports it.
type Phone struct {
	PhoneNumber     string // with the country code for foreign numbers
	PurePhoneNumber string // without it
	CountryCode     string // calling code without "+", e.g. "86"
}

// ErrWatermark means an answer or decrypted data carries another app's
// appid: it was not meant for us.
var ErrWatermark = errors.New("wechat: watermark appid is not ours")

// PhoneNumber exchanges a code from <button open-type="getPhoneNumber">
// for the user's number. openid (optional) makes WeChat check that the
// code belongs to that user. The code is single-use, so the call is not
// retried, except once with a fresh access token when WeChat refuses ours.
func (c *Client) PhoneNumber(ctx context.Context, code, openid string) (*Phone, error) {
	in := map[string]string{"code": code}
	if openid != "" {
		in["openid"] = openid
	}
	body, _ := json.Marshal(in)
	var out struct {
		PhoneInfo *struct {
			PhoneNumber     string      `json:"phoneNumber"`
			PurePhoneNumber string      `json:"purePhoneNumber"`
			CountryCode     looseString `json:"countryCode"`
			Watermark       watermark   `json:"watermark"`
		} `json:"phone_info"`
	}
	if err := c.callWithToken(ctx, PathPhoneNumber, body, &out); err != nil {
		return nil, err
	}
	pi := out.PhoneInfo
	if pi == nil || pi.PurePhoneNumber == "" {
		return nil, &unavailable{endpoint: PathPhoneNumber, reason: "answer has no phone_info"}
	}
	if pi.Watermark.AppID != c.appID {
		return nil, ErrWatermark
	}
	return &Phone{PhoneNumber: pi.PhoneNumber, PurePhoneNumber: pi.PurePhoneNumber, CountryCode: string(pi.CountryCode)}, nil
}

type watermark struct {
	AppID     string `json:"appid"`
	Timestamp int64  `json:"timestamp"`
}

// looseString decodes a JSON string or number as a string: WeChat
// documents countryCode as a string but its own example sends 86.
type looseString string

func (s *looseString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*s = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = looseString(v)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*s = looseString(n.String())
	return nil
}
