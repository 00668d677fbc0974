package handlers

import (
	"errors"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/wechatevents"
	"github.com/miniauth/miniauth/app/wechatpush"
)

// MaxPushBody bounds a message push delivery: WeChat's events are a few
// hundred bytes.
const MaxPushBody = 64 << 10

// PushPathPrefix is where WeChat's message push is received:
// /api/wechat/push/{appid}.
const PushPathPrefix = "/api/wechat/push/"

// WeChatPush receives WeChat's message push (消息推送) for the configured
// mini programs.
type WeChatPush struct {
	Apps   map[string]wechatpush.App
	Events *wechatevents.Service
	Now    clock.Clock
	Log    *slog.Logger
}

var errPushRefused = problem.New(problem.InvalidSignature, "the signature, timestamp or message does not check out")

func (h *WeChatPush) app(c *fiber.Ctx) (wechatpush.App, error) {
	a, ok := h.Apps[c.Params("appid")]
	if !ok {
		return a, problem.New(problem.NotFound, "message push is not configured for this appid")
	}
	return a, nil
}

// Verify is GET /api/wechat/push/{appid}: the console's URL check. A
// good signature gets echostr back as text/plain; a bad one 401, nothing
// echoed.
func (h *WeChatPush) Verify(c *fiber.Ctx) error {
	a, err := h.app(c)
	if err != nil {
		return err
	}
	echo := c.Query("echostr")
	if echo == "" || !a.CheckURL(c.Query("signature"), c.Query("timestamp"), c.Query("nonce")) {
		h.refused(a, "url check", nil)
		return errPushRefused
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.SendString(echo)
}

// Receive is POST /api/wechat/push/{appid}: one event, plaintext or safe
// mode, XML or JSON. Once it is checked and stored the answer is
// "success", whatever the event (WeChat only wants to know it arrived);
// a delivery that does not check out is 401 and changes nothing.
func (h *WeChatPush) Receive(c *fiber.Ctx) error {
	a, err := h.app(c)
	if err != nil {
		return err
	}
	m, _, err := a.Open(wechatpush.Delivery{
		Signature:    c.Query("signature"),
		Timestamp:    c.Query("timestamp"),
		Nonce:        c.Query("nonce"),
		EncryptType:  c.Query("encrypt_type"),
		MsgSignature: c.Query("msg_signature"),
		Body:         c.Body(),
	}, h.Now.Now())
	if err != nil {
		h.refused(a, "delivery", err)
		return errPushRefused
	}
	if err := h.Events.Accept(c.UserContext(), a.AppID, m); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	return c.SendString("success")
}

func (h *WeChatPush) refused(a wechatpush.App, what string, err error) {
	reason := "signature"
	switch {
	case errors.Is(err, wechatpush.ErrStale):
		reason = "stale timestamp"
	case errors.Is(err, wechatpush.ErrDecrypt):
		reason = "does not decrypt"
	case errors.Is(err, wechatpush.ErrMalformed):
		reason = "malformed"
	}
	if h.Events != nil && h.Events.Observe != nil {
		h.Events.Observe("refused", "refused")
	}
	if h.Log != nil {
		h.Log.Warn("message push refused", "appid", a.AppID, "what", what, "reason", reason)
	}
}
