package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// PathUnlimitedQRCode is getUnlimitedQRCode (小程序码 with a scene).
const PathUnlimitedQRCode = "/wxa/getwxacodeunlimit"

// Errcodes of getUnlimitedQRCode.
const (
	// CodeInvalidScene: the scene is empty, too long or not JSON.
	CodeInvalidScene = 40169
	// CodeInvalidPage: the page does not exist in the released version
	// (or the mini program was never released) while check_path is true.
	CodeInvalidPage = 41030
)

// maxImage bounds a mini program code's bytes (a 1280 px code is a few
// hundred KiB at most).
const maxImage = 2 << 20

// Mini program versions a code can open (env_version).
const (
	EnvRelease = "release"
	EnvTrial   = "trial"
	EnvDevelop = "develop"
)

// QRCode asks for a mini program code.
type QRCode struct {
	Scene string // ≤ 32 characters WeChat allows, read by the page as query.scene
	Page  string // e.g. pages/index/index, no leading slash
	Env   string // EnvRelease (default), EnvTrial or EnvDevelop
	Width int    // 280–1280 px; 0: WeChat's default 430
}

// Image is a picture WeChat drew.
type Image struct {
	Bytes       []byte
	ContentType string // image/png or image/jpeg, from the bytes
}

// UnlimitedQRCode draws a mini program code that opens q.Page with
// q.Scene. check_path is on only for the released version: a trial or
// development build may open a page the released one lacks. The call is
// idempotent but costs quota: it is not retried, except once with a fresh
// access token when WeChat refuses ours.
func (c *Client) UnlimitedQRCode(ctx context.Context, q QRCode) (*Image, error) {
	env := q.Env
	if env == "" {
		env = EnvRelease
	}
	in := map[string]any{"scene": q.Scene, "page": q.Page, "env_version": env, "check_path": env == EnvRelease}
	if q.Width > 0 {
		in["width"] = q.Width
	}
	body, _ := json.Marshal(in)
	for attempt := 1; ; attempt++ {
		token, err := c.tokens.get(ctx)
		if err != nil {
			return nil, err
		}
		img, err := c.fetchImage(ctx, PathUnlimitedQRCode, token, body)
		if attempt == 1 && tokenExpired(err) {
			c.log.Info("WeChat refused the access token; fetching it again", "endpoint", PathUnlimitedQRCode, "err", err)
			c.tokens.invalidate(ctx, token)
			continue
		}
		return img, err
	}
}

// fetchImage POSTs body and expects a picture. WeChat answers errors as
// JSON and pictures as bytes whose Content-Type is not to be trusted (PNG
// and JPEG have both been seen): the bytes decide.
func (c *Client) fetchImage(ctx context.Context, endpoint, token string, body []byte) (*Image, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	start := time.Now()
	img, err := c.postForImage(ctx, endpoint, token, body)
	if c.observe != nil {
		errcode := ""
		var we *Error
		switch {
		case errors.As(err, &we):
			errcode = strconv.Itoa(we.Code)
		case err != nil:
			errcode = "unavailable"
		}
		c.observe(endpoint, time.Since(start), errcode)
	}
	return img, err
}

func (c *Client) postForImage(ctx context.Context, endpoint, token string, body []byte) (*Image, error) {
	u := c.base + endpoint + "?" + url.Values{"access_token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, &unavailable{endpoint: endpoint, reason: "bad request: " + redactURLError(err)}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &unavailable{endpoint: endpoint, reason: redactURLError(err), transient: true}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxImage+1))
	if err != nil {
		return nil, &unavailable{endpoint: endpoint, reason: "reading answer: " + redactURLError(err), transient: true}
	}
	if len(raw) > maxImage {
		return nil, &unavailable{endpoint: endpoint, reason: "answer is too large"}
	}
	if kind := imageType(raw); kind != "" && resp.StatusCode == http.StatusOK {
		return &Image{Bytes: raw, ContentType: kind}, nil
	}
	var ec errcodeOnly
	if json.Unmarshal(raw, &ec) == nil && ec.ErrCode != 0 {
		return nil, &Error{Endpoint: endpoint, Code: ec.ErrCode, Msg: c.redact(ec.ErrMsg, token)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &unavailable{endpoint: endpoint, reason: fmt.Sprintf("HTTP %d", resp.StatusCode), transient: resp.StatusCode >= 500}
	}
	ct := resp.Header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return nil, &unavailable{endpoint: endpoint, reason: fmt.Sprintf("answer is neither a picture nor an errcode (%s, %d bytes)", strings.TrimSpace(ct), len(raw))}
}

// imageType is the type of a PNG or JPEG by its first bytes, else "".
func imageType(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(b, []byte{0xff, 0xd8, 0xff}):
		return "image/jpeg"
	}
	return ""
}
