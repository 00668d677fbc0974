package wechatpush

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The official vector (WECHAT.md 5.2).
const (
	vecToken   = "AAAAA"
	vecAESKey  = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	vecAppID   = "wxba5fad812f8e6fb9"
	vecEncrypt = "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04="
	vecMsg     = `{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}`
)

func vecKey(t *testing.T) []byte {
	k, err := ParseAESKey(vecAESKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestOfficialSignatures(t *testing.T) {
	for _, c := range []struct {
		want  string
		parts []string
	}{
		{"f464b24fc39322e44b38aa78f5edd27bd1441696", []string{vecToken, "1714036504", "1514711492"}},
		{"899cf89e464efb63f54ddac96b0a0a235f53aa78", []string{vecToken, "1714037059", "486452656"}},
		{"6c5c811b55cc85e0e1b54100749188c20beb3f5d", []string{vecToken, "1714112445", "415670741"}},
		{"046e02f8204d34f8ba5fa3b1db94908f3df2e9b3", []string{vecToken, "1714112445", "415670741", vecEncrypt}},
		{"1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1", []string{vecToken, "1713424427", "415670741", "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ=="}},
	} {
		if got := Sign(c.parts...); got != c.want {
			t.Errorf("Sign(%v) = %s, want %s", c.parts, got, c.want)
		}
		if !Verify(strings.ToUpper(c.want), c.parts...) || Verify(c.want[:39]+"0", c.parts...) {
			t.Errorf("Verify disagrees with Sign for %v", c.parts)
		}
	}
	app := App{AppID: vecAppID, Token: vecToken}
	if !app.CheckURL("f464b24fc39322e44b38aa78f5edd27bd1441696", "1714036504", "1514711492") {
		t.Error("the official URL check fails")
	}
}

func TestOfficialEncryptVector(t *testing.T) {
	key := vecKey(t)
	msg, err := Decrypt(key, vecAppID, vecEncrypt)
	if err != nil || string(msg) != vecMsg {
		t.Fatalf("Decrypt = %q, %v", msg, err)
	}
	// The page prints the random as 16 characters: they are the bytes.
	random := []byte("a8eedb185eb2fecf")
	enc, err := Encrypt(key, vecAppID, random, []byte(vecMsg))
	if err != nil || enc != vecEncrypt {
		t.Errorf("Encrypt = %s, %v", enc, err)
	}
	reply, _ := Encrypt(key, vecAppID, []byte("707722b803182950"), []byte(`{"demo_resp":"good luck"}`))
	if reply != "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ==" {
		t.Errorf("reply Encrypt = %s", reply)
	}
	if _, err := Decrypt(key, "wxanotherapp00000", vecEncrypt); !errors.Is(err, ErrDecrypt) {
		t.Errorf("another appid: %v", err)
	}
	other, _ := ParseAESKey(strings.Repeat("B", 43))
	for name, c := range map[string]struct {
		key []byte
		enc string
	}{
		"wrong key":  {other, vecEncrypt},
		"truncated":  {key, vecEncrypt[:len(vecEncrypt)-24]},
		"not base64": {key, "%%%"},
		"empty":      {key, ""},
		"one block":  {key, vecEncrypt[:24]},
	} {
		if _, err := Decrypt(c.key, vecAppID, c.enc); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseAESKey(t *testing.T) {
	for _, bad := range []string{"", "short", strings.Repeat("A", 44), strings.Repeat("A", 42) + "+"} {
		if _, err := ParseAESKey(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestOpenSafeModeVector(t *testing.T) {
	app := App{AppID: vecAppID, Token: vecToken, AESKey: vecKey(t)}
	now := time.Unix(1714112445, 0)
	d := Delivery{Signature: "6c5c811b55cc85e0e1b54100749188c20beb3f5d", Timestamp: "1714112445", Nonce: "415670741",
		EncryptType: "aes", MsgSignature: "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3",
		Body: []byte(`{"ToUserName":"gh_97417a04a28d","Encrypt":"` + vecEncrypt + `"}`)}
	m, f, err := app.Open(d, now)
	if err != nil || f != JSON || m.Event != "debug_demo" || m.FromUserName != "o9AgO5Kd5ggOC-bXrbNODIiE3bGY" || m.CreateTime != 1714112445 {
		t.Fatalf("Open = %+v %s %v", m, f, err)
	}
	x := d
	x.Body = []byte("<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName><Encrypt><![CDATA[" + vecEncrypt + "]]></Encrypt></xml>")
	if m, f, err := app.Open(x, now); err != nil || f != XML || m.Event != "debug_demo" {
		t.Fatalf("XML envelope: %+v %s %v", m, f, err)
	}
	for name, c := range map[string]struct {
		d    Delivery
		now  time.Time
		want error
	}{
		"stale":             {d, now.Add(MaxSkew + time.Second), ErrStale},
		"future":            {d, now.Add(-MaxSkew - time.Second), ErrStale},
		"forged msg_sig":    {with(d, func(d *Delivery) { d.MsgSignature = d.Signature }), now, ErrSignature},
		"plaintext refused": {with(d, func(d *Delivery) { d.EncryptType = "" }), now, ErrDecrypt},
		"no timestamp":      {with(d, func(d *Delivery) { d.Timestamp = "" }), now, ErrSignature},
		"not a message":     {with(d, func(d *Delivery) { d.Body = []byte("hello") }), now, ErrMalformed},
		"truncated body":    {with(d, func(d *Delivery) { d.Body = d.Body[:40] }), now, ErrMalformed},
	} {
		if _, _, err := app.Open(c.d, c.now); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	wrongKey := app
	wrongKey.AESKey, _ = ParseAESKey(strings.Repeat("B", 43))
	if _, _, err := wrongKey.Open(d, now); !errors.Is(err, ErrDecrypt) {
		t.Errorf("wrong key: %v", err)
	}
}

func TestParseEvents(t *testing.T) {
	xmlRevoke := `<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[platform]]></FromUserName><CreateTime>1714112445</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[user_authorization_revoke]]></Event><OpenID><![CDATA[o_user]]></OpenID><AppID><![CDATA[wx1]]></AppID><RevokeInfo><![CDATA[6]]></RevokeInfo></xml>`
	m, f, err := Parse([]byte(xmlRevoke))
	if err != nil || f != XML || m.Event != EventRevoke || m.User() != "o_user" || m.RevokeInfo != "6" || m.AppID != "wx1" || m.CreateTime != 1714112445 {
		t.Fatalf("XML revoke: %+v %v", m, err)
	}
	media := `{"ToUserName":"gh_9df7d78a1234","FromUserName":"o4_t144jTUSEoxydysUA2E234_tc","CreateTime":1626959646,"MsgType":"event",
 "Event":"wxa_media_check","appid":"wx8f16a5be77871234","trace_id":"60f96f1d-3845297a-1976a3ae","version":2,
 "detail":[{"strategy":"content_model","errcode":0,"suggest":"pass","label":100,"prob":90}],
 "errcode":0,"errmsg":"ok","result":{"suggest":"risky","label":"20002"}}`
	m, f, err = Parse([]byte(media))
	if err != nil || f != JSON || m.User() != "o4_t144jTUSEoxydysUA2E234_tc" || m.Suggest != "risky" || m.Label != "20002" || m.AppID != "wx8f16a5be77871234" || m.TraceID == "" {
		t.Fatalf("JSON media check: %+v %v", m, err)
	}
	xmlMedia := `<xml><Event>wxa_media_check</Event><FromUserName>o_u</FromUserName><trace_id>t1</trace_id><errcode>-1008</errcode><errmsg>download failed</errmsg></xml>`
	if m, _, err = Parse([]byte(xmlMedia)); err != nil || m.ErrCode != -1008 || m.Suggest != "" {
		t.Fatalf("XML media check: %+v %v", m, err)
	}
	a, _, _ := Parse([]byte(xmlRevoke))
	b, _, _ := Parse([]byte(strings.Replace(xmlRevoke, "<![CDATA[6]]>", "<![CDATA[8]]>", 1)))
	if a.Key("wx1") == b.Key("wx1") || a.Key("wx1") == a.Key("wx2") {
		t.Error("different messages share a key")
	}
	for _, bad := range []string{"", "[]", `{"CreateTime":"soon"}`, `{"Event":{}}`, "<html></html>", `{"a":1}{"b":2}`} {
		if _, _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func with(d Delivery, f func(*Delivery)) Delivery { f(&d); return d }
