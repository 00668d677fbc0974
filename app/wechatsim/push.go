package wechatsim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/miniauth/miniauth/app/wechatpush"
)

// Pusher delivers events to a message push URL the way WeChat does
// (WECHAT.md 5.1–5.3): signed query, plaintext or safe mode, XML or JSON.
type Pusher struct {
	// URL is the push URL configured in the console, e.g.
	// https://host/api/wechat/push/wx0123….
	URL    string
	AppID  string
	Token  string
	AESKey []byte // nil: plaintext mode
	XML    bool   // the console's data format; default JSON
	Client *http.Client
	Now    func() time.Time // default time.Now
}

// PushEvent is one event to push.
type PushEvent struct {
	Event      string
	OpenID     string
	RevokeInfo string // user_authorization_revoke
	// wxa_media_check
	TraceID string
	Suggest string // pass, review, risky; "" with ErrCode -1008
	Label   int
	ErrCode int
	// CreateTime, if zero, is now. A re-delivery keeps it.
	CreateTime int64
}

// Revoke, Cancellation, InfoModified and MediaCheck are the events of
// WECHAT.md 5.3.
func Revoke(openid, info string) PushEvent {
	return PushEvent{Event: wechatpush.EventRevoke, OpenID: openid, RevokeInfo: info}
}

// Cancellation is user_authorization_cancellation.
func Cancellation(openid string) PushEvent {
	return PushEvent{Event: wechatpush.EventCancellation, OpenID: openid}
}

// InfoModified is user_info_modified.
func InfoModified(openid string) PushEvent {
	return PushEvent{Event: wechatpush.EventInfoModified, OpenID: openid}
}

// MediaCheck is a wxa_media_check verdict.
func MediaCheck(openid, traceID, suggest string) PushEvent {
	label := 100
	if suggest != "pass" {
		label = 20002
	}
	return PushEvent{Event: wechatpush.EventMediaCheck, OpenID: openid, TraceID: traceID, Suggest: suggest, Label: label}
}

func (p *Pusher) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Message is the event as WeChat writes it, in the pusher's format.
func (p *Pusher) Message(e PushEvent) []byte {
	if e.CreateTime == 0 {
		e.CreateTime = p.now().Unix()
	}
	from := "o_wechat_platform"
	if e.Event == wechatpush.EventMediaCheck {
		from = e.OpenID // the media check's samples put the user here
	}
	if p.XML {
		var b strings.Builder
		b.WriteString("<xml>")
		cdata := func(k, v string) { fmt.Fprintf(&b, "<%s><![CDATA[%s]]></%s>", k, v, k) }
		cdata("ToUserName", "gh_simulator00")
		cdata("FromUserName", from)
		fmt.Fprintf(&b, "<CreateTime>%d</CreateTime>", e.CreateTime)
		cdata("MsgType", "event")
		cdata("Event", e.Event)
		if e.Event == wechatpush.EventMediaCheck {
			cdata("appid", p.AppID)
			cdata("trace_id", e.TraceID)
			fmt.Fprintf(&b, "<version>2</version><errcode>%d</errcode>", e.ErrCode)
			cdata("errmsg", errmsg(e.ErrCode))
			if e.ErrCode == 0 {
				fmt.Fprintf(&b, "<detail><strategy><![CDATA[content_model]]></strategy><errcode>0</errcode><suggest><![CDATA[%s]]></suggest><label>%d</label><prob>90</prob></detail>", e.Suggest, e.Label)
				fmt.Fprintf(&b, "<result><suggest><![CDATA[%s]]></suggest><label><![CDATA[%d]]></label></result>", e.Suggest, e.Label)
			}
		} else {
			cdata("OpenID", e.OpenID)
			cdata("AppID", p.AppID)
			if e.Event == wechatpush.EventRevoke {
				cdata("RevokeInfo", e.RevokeInfo)
			}
		}
		b.WriteString("</xml>")
		return []byte(b.String())
	}
	m := map[string]any{"ToUserName": "gh_simulator00", "FromUserName": from, "CreateTime": e.CreateTime,
		"MsgType": "event", "Event": e.Event}
	if e.Event == wechatpush.EventMediaCheck {
		m["appid"], m["trace_id"], m["version"], m["errcode"], m["errmsg"] = p.AppID, e.TraceID, 2, e.ErrCode, errmsg(e.ErrCode)
		if e.ErrCode == 0 {
			m["detail"] = []any{map[string]any{"strategy": "content_model", "errcode": 0, "suggest": e.Suggest, "label": e.Label, "prob": 90}}
			m["result"] = map[string]any{"suggest": e.Suggest, "label": e.Label}
		}
	} else {
		m["OpenID"], m["AppID"] = e.OpenID, p.AppID
		if e.Event == wechatpush.EventRevoke {
			m["RevokeInfo"] = e.RevokeInfo
		}
	}
	out, _ := json.Marshal(m)
	return out
}

func errmsg(code int) string {
	if code == -1008 {
		return "media download failed"
	}
	return "ok"
}

// Delivery is the query and body of one delivery of e, signed (and in
// safe mode encrypted) now.
func (p *Pusher) Delivery(e PushEvent) (url.Values, []byte, error) {
	return p.Seal(p.Message(e), p.now())
}

// Seal signs (and in safe mode encrypts) a message as WeChat would at t.
func (p *Pusher) Seal(msg []byte, t time.Time) (url.Values, []byte, error) {
	ts := strconv.FormatInt(t.Unix(), 10)
	n, _ := rand.Int(rand.Reader, big.NewInt(1<<31))
	nonce := n.String()
	q := url.Values{"timestamp": {ts}, "nonce": {nonce}, "signature": {wechatpush.Sign(p.Token, ts, nonce)}}
	if p.AESKey == nil {
		return q, msg, nil
	}
	enc, err := wechatpush.Encrypt(p.AESKey, p.AppID, nil, msg)
	if err != nil {
		return nil, nil, err
	}
	q.Set("encrypt_type", "aes")
	q.Set("msg_signature", wechatpush.Sign(p.Token, ts, nonce, enc))
	var body []byte
	if p.XML {
		body = []byte("<xml><ToUserName><![CDATA[gh_simulator00]]></ToUserName><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>")
	} else {
		body, _ = json.Marshal(map[string]string{"ToUserName": "gh_simulator00", "Encrypt": enc})
	}
	return q, body, nil
}

// Post sends one delivery and returns the status and body of the answer.
func (p *Pusher) Post(ctx context.Context, q url.Values, body []byte) (int, string, error) {
	contentType := "application/json"
	if p.XML {
		contentType = "text/xml"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", contentType)
	return p.do(req)
}

// Push delivers e once.
func (p *Pusher) Push(ctx context.Context, e PushEvent) (int, string, error) {
	q, body, err := p.Delivery(e)
	if err != nil {
		return 0, "", err
	}
	return p.Post(ctx, q, body)
}

// CheckURL is the console's URL check: it reports whether the URL echoed
// the random echostr.
func (p *Pusher) CheckURL(ctx context.Context) (bool, error) {
	ts := strconv.FormatInt(p.now().Unix(), 10)
	nonce, echo := randomDigits(9), randomDigits(19)
	q := url.Values{"timestamp": {ts}, "nonce": {nonce}, "echostr": {echo}, "signature": {wechatpush.Sign(p.Token, ts, nonce)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"?"+q.Encode(), nil)
	if err != nil {
		return false, err
	}
	status, body, err := p.do(req)
	return err == nil && status == http.StatusOK && body == echo, err
}

func (p *Pusher) do(req *http.Request) (int, string, error) {
	c := p.Client
	if c == nil {
		// WeChat waits 5 s for an answer.
		c = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, string(b), nil
}

func randomDigits(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}

// The development server's message push settings, used when no
// MINIAUTH_WECHAT_PUSH* is set while the simulator answers: public, like
// the simulator's logins, so `miniauth dev push` works out of the box.
const (
	DevPushToken  = "miniauthsimulator"
	DevPushAESKey = "bWluaWF1dGhzaW11bGF0b3JkZXZlbG9wbWVudGtleTA"
)
