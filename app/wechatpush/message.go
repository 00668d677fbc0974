package wechatpush

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Events miniauth acts on.
const (
	EventRevoke       = "user_authorization_revoke"
	EventCancellation = "user_authorization_cancellation"
	EventInfoModified = "user_info_modified"
	EventMediaCheck   = "wxa_media_check"
)

// Format is how a delivery was written.
type Format string

// Formats.
const (
	XML  Format = "xml"
	JSON Format = "json"
)

// Message is one pushed message, with the fields of the events miniauth
// knows (WECHAT.md 5.3); the rest is ignored.
type Message struct {
	ToUserName   string `json:"to_user_name,omitempty"`
	FromUserName string `json:"from_user_name,omitempty"`
	CreateTime   int64  `json:"create_time,omitempty"`
	MsgType      string `json:"msg_type,omitempty"`
	Event        string `json:"event,omitempty"`
	// OpenID is the user of the authorization events.
	OpenID     string `json:"openid,omitempty"`
	UnionID    string `json:"unionid,omitempty"`
	AppID      string `json:"appid,omitempty"`
	RevokeInfo string `json:"revoke_info,omitempty"`
	// wxa_media_check: the verdict on the media of TraceID.
	TraceID string `json:"trace_id,omitempty"`
	ErrCode int    `json:"errcode,omitempty"`
	ErrMsg  string `json:"errmsg,omitempty"`
	Suggest string `json:"suggest,omitempty"`
	Label   string `json:"label,omitempty"`
	// Encrypt is a safe-mode envelope's ciphertext.
	Encrypt string `json:"-"`
}

// User is the openid the message is about: OpenID for the authorization
// events, FromUserName for wxa_media_check (its samples put the user
// there).
func (m Message) User() string {
	if m.OpenID != "" {
		return m.OpenID
	}
	if m.Event == EventMediaCheck {
		return m.FromUserName
	}
	return ""
}

// Key identifies a message across WeChat's re-deliveries, which repeat
// it with a new timestamp, nonce and (in safe mode) random prefix, but the
// same content.
func (m Message) Key(appID string) string {
	h := sha256.New()
	for _, s := range []string{appID, m.ToUserName, m.FromUserName, strconv.FormatInt(m.CreateTime, 10), m.MsgType,
		m.Event, m.OpenID, m.RevokeInfo, m.TraceID, m.Suggest, strconv.Itoa(m.ErrCode)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// flex takes a JSON string or a number (or null) as text: WeChat sends
// label as either, and documents CreateTime as a number but XML has text.
type flex string

func (f *flex) UnmarshalJSON(b []byte) error {
	switch {
	case bytes.Equal(b, []byte("null")):
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flex(s)
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		*f = flex(b)
	default:
		return errors.New("not a string or a number")
	}
	return nil
}

// wire is a message as written, in either format. JSON prefers the exact
// key, so AppID (authorization events) and appid (media check) both land.
type wire struct {
	XMLName      xml.Name `xml:"xml" json:"-"`
	ToUserName   flex     `xml:"ToUserName" json:"ToUserName"`
	FromUserName flex     `xml:"FromUserName" json:"FromUserName"`
	CreateTime   flex     `xml:"CreateTime" json:"CreateTime"`
	MsgType      flex     `xml:"MsgType" json:"MsgType"`
	Event        flex     `xml:"Event" json:"Event"`
	OpenID       flex     `xml:"OpenID" json:"OpenID"`
	UnionID      flex     `xml:"UnionID" json:"UnionID"`
	AppID        flex     `xml:"AppID" json:"AppID"`
	AppIDLower   flex     `xml:"appid" json:"appid"`
	RevokeInfo   flex     `xml:"RevokeInfo" json:"RevokeInfo"`
	TraceID      flex     `xml:"trace_id" json:"trace_id"`
	ErrCode      flex     `xml:"errcode" json:"errcode"`
	ErrMsg       flex     `xml:"errmsg" json:"errmsg"`
	Result       *struct {
		Suggest flex `xml:"suggest" json:"suggest"`
		Label   flex `xml:"label" json:"label"`
	} `xml:"result" json:"result"`
	Encrypt flex `xml:"Encrypt" json:"Encrypt"`
}

// ErrMalformed is a body that is not one message in XML or JSON.
var ErrMalformed = errors.New("not a WeChat message in XML or JSON")

// Parse reads one message, in XML (<xml>…</xml>) or JSON.
func Parse(body []byte) (Message, Format, error) {
	body = bytes.TrimSpace(body)
	var w wire
	var f Format
	switch {
	case len(body) > 0 && body[0] == '<':
		f = XML
		if err := xml.Unmarshal(body, &w); err != nil {
			return Message{}, f, ErrMalformed
		}
	case len(body) > 0 && body[0] == '{':
		f = JSON
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(&w); err != nil || dec.More() {
			return Message{}, f, ErrMalformed
		}
	default:
		return Message{}, "", ErrMalformed
	}
	m := Message{
		ToUserName:   strings.TrimSpace(string(w.ToUserName)),
		FromUserName: strings.TrimSpace(string(w.FromUserName)),
		MsgType:      strings.TrimSpace(string(w.MsgType)),
		Event:        strings.TrimSpace(string(w.Event)),
		OpenID:       strings.TrimSpace(string(w.OpenID)),
		UnionID:      strings.TrimSpace(string(w.UnionID)),
		AppID:        strings.TrimSpace(string(w.AppID)),
		RevokeInfo:   strings.TrimSpace(string(w.RevokeInfo)),
		TraceID:      strings.TrimSpace(string(w.TraceID)),
		ErrMsg:       strings.TrimSpace(string(w.ErrMsg)),
		Encrypt:      strings.TrimSpace(string(w.Encrypt)),
	}
	if m.AppID == "" {
		m.AppID = strings.TrimSpace(string(w.AppIDLower))
	}
	var err error
	if s := strings.TrimSpace(string(w.CreateTime)); s != "" {
		if m.CreateTime, err = strconv.ParseInt(s, 10, 64); err != nil {
			return Message{}, f, ErrMalformed
		}
	}
	if s := strings.TrimSpace(string(w.ErrCode)); s != "" {
		if m.ErrCode, err = strconv.Atoi(s); err != nil {
			// The v1 shape's status_code 4294966288 is -1008 unsigned;
			// anything unreadable is simply not a valid result.
			m.ErrCode = -1
		}
	}
	if w.Result != nil {
		m.Suggest = strings.TrimSpace(string(w.Result.Suggest))
		m.Label = strings.TrimSpace(string(w.Result.Label))
	}
	return m, f, nil
}

// Delivery is one request of WeChat's message push.
type Delivery struct {
	Signature    string // signature
	Timestamp    string // timestamp
	Nonce        string // nonce
	EncryptType  string // encrypt_type: "aes" in safe mode
	MsgSignature string // msg_signature (safe mode)
	Body         []byte
}

// App is one mini program's push settings.
type App struct {
	AppID string
	Token string
	// AESKey is the decoded EncodingAESKey; nil: plaintext mode only.
	AESKey []byte
}

// Refusals of Open and CheckURL. All mean "not from WeChat, or not for
// us": the answer is the same 401 and nothing is done.
var (
	ErrSignature = errors.New("signature does not match")
	ErrStale     = errors.New("timestamp more than 5 minutes off")
)

// MaxSkew is how far a delivery's timestamp may be from our clock. It
// bounds how long a captured delivery can be replayed (replays within it
// are recognised by Key).
const MaxSkew = 5 * time.Minute

// CheckURL is the console's URL check: signature over (token, timestamp,
// nonce). The timestamp's age is not checked: answering the echo changes
// nothing, and the official test vector is old.
func (a App) CheckURL(signature, timestamp, nonce string) bool {
	return timestamp != "" && nonce != "" && Verify(signature, a.Token, timestamp, nonce)
}

// Open checks a delivery and returns its message. With an AES key the
// delivery must be in safe mode (msg_signature covers the ciphertext;
// plaintext mode's signature does not cover the body at all); without
// one it must be plaintext.
func (a App) Open(d Delivery, now time.Time) (Message, Format, error) {
	ts, err := strconv.ParseInt(d.Timestamp, 10, 64)
	if err != nil || d.Nonce == "" {
		return Message{}, "", ErrSignature
	}
	if skew := now.Sub(time.Unix(ts, 0)); skew > MaxSkew || skew < -MaxSkew {
		return Message{}, "", ErrStale
	}
	outer, f, err := Parse(d.Body)
	if err != nil {
		return Message{}, f, err
	}
	if a.AESKey == nil {
		if d.EncryptType != "" && d.EncryptType != "raw" {
			return Message{}, f, ErrDecrypt
		}
		if !Verify(d.Signature, a.Token, d.Timestamp, d.Nonce) {
			return Message{}, f, ErrSignature
		}
		return outer, f, a.checkAppID(outer)
	}
	if d.EncryptType != "aes" || outer.Encrypt == "" {
		return Message{}, f, ErrDecrypt
	}
	if !Verify(d.MsgSignature, a.Token, d.Timestamp, d.Nonce, outer.Encrypt) {
		return Message{}, f, ErrSignature
	}
	plain, err := Decrypt(a.AESKey, a.AppID, outer.Encrypt)
	if err != nil {
		return Message{}, f, err
	}
	m, _, err := Parse(plain)
	if err != nil {
		return Message{}, f, err
	}
	return m, f, a.checkAppID(m)
}

// checkAppID refuses a message that names another mini program.
func (a App) checkAppID(m Message) error {
	if m.AppID != "" && m.AppID != a.AppID {
		return ErrMalformed
	}
	return nil
}
