package wechatsim

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/url"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// PathUnlimitedQRCode is getUnlimitedQRCode (小程序码 with a scene).
const PathUnlimitedQRCode = "/wxa/getwxacodeunlimit"

// DefaultReleasedPage is the page the simulated mini program's released
// version has unless SetReleasedPages says otherwise.
const DefaultReleasedPage = "pages/index/index"

// sceneChars are the characters WeChat allows in a scene.
const sceneChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$&'()*+,/:;=?@-._~"

// SetReleasedPages lists the pages of the released version: a code for
// another page with check_path true gets 41030, as from WeChat.
func (s *Server) SetReleasedPages(pages ...string) {
	s.mu.Lock()
	s.released = append([]string(nil), pages...)
	s.mu.Unlock()
}

// QRCode is a mini program code the simulator drew.
type QRCode struct {
	AppID, Scene, Page, Env string
	CheckPath               bool
	Width                   int
}

// QRCodes lists the codes drawn so far, oldest first.
func (s *Server) QRCodes() []QRCode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]QRCode(nil), s.qrcodes...)
}

// unlimitedQRCode answers POST /wxa/getwxacodeunlimit like WeChat: the
// picture's bytes on success (PNG, labelled image/jpeg as WeChat labels
// its pictures, so a client must look at the bytes), an errcode as JSON
// otherwise. The PNG is a real QR code of a made-up link and carries the
// scene, page and version in text chunks, which SceneOf reads back: what
// "scanning" it means in a test.
func (s *Server) unlimitedQRCode(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Scene      *string `json:"scene"`
		Page       string  `json:"page"`
		CheckPath  *bool   `json:"check_path"`
		EnvVersion string  `json:"env_version"`
		Width      int     `json:"width"`
	}
	if !s.readPOST(w, r, &in) {
		return
	}
	token := r.URL.Query().Get("access_token")
	s.mu.Lock()
	if code := s.checkToken(token); code != 0 {
		s.mu.Unlock()
		msg := "invalid credential, access_token is invalid or not latest"
		if code == 42001 {
			msg = "access_token expired"
		}
		s.writeJSONError(w, code, msg)
		return
	}
	appID := s.tokens[token].appID
	released := s.released
	s.mu.Unlock()
	if released == nil {
		released = []string{DefaultReleasedPage}
	}
	checkPath := in.CheckPath == nil || *in.CheckPath
	env := in.EnvVersion
	if env == "" {
		env = "release"
	}
	switch {
	case in.Scene == nil || *in.Scene == "" || len(*in.Scene) > 32 || strings.Trim(*in.Scene, sceneChars) != "":
		s.writeJSONError(w, 40169, "invalid length for scene, or the data is not json string")
		return
	case env != "release" && env != "trial" && env != "develop":
		s.writeJSONError(w, 40097, "invalid args env_version")
		return
	case strings.HasPrefix(in.Page, "/") || strings.ContainsAny(in.Page, "?#"):
		s.writeJSONError(w, 41030, "invalid page")
		return
	case in.Page != "" && checkPath && !s.Lenient && !contains(released, in.Page):
		s.writeJSONError(w, 41030, "invalid page rid: "+randomString(6))
		return
	}
	width := in.Width
	if width == 0 {
		width = 430
	}
	width = min(max(width, 280), 1280)
	code := QRCode{AppID: appID, Scene: *in.Scene, Page: in.Page, Env: env, CheckPath: checkPath, Width: width}
	link := "https://mp.weixin.qq.com/a/wechatsim?" + url.Values{"appid": {appID}, "page": {in.Page}, "scene": {code.Scene}, "env_version": {env}}.Encode()
	img, err := qrcode.Encode(link, qrcode.Medium, width)
	if err != nil {
		s.writeJSONError(w, -1, "system error")
		return
	}
	img = withText(img, map[string]string{"scene": code.Scene, "page": code.Page, "env_version": env, "appid": appID})
	s.mu.Lock()
	s.qrcodes = append(s.qrcodes, code)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "image/jpeg")
	w.Write(img)
}

// writeJSONError is an errcode labelled application/json, as this API
// sends its errors (the others send text/plain).
func (s *Server) writeJSONError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	json.NewEncoder(w).Encode(map[string]any{"errcode": code, "errmsg": fmt.Sprintf("%s rid: %s", msg, randomString(6))})
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// withText inserts tEXt chunks after a PNG's header chunk.
func withText(png []byte, text map[string]string) []byte {
	const sigAndIHDR = 8 + 4 + 4 + 13 + 4
	if len(png) < sigAndIHDR {
		return png
	}
	var out bytes.Buffer
	out.Write(png[:sigAndIHDR])
	for _, k := range []string{"scene", "page", "env_version", "appid"} {
		v, ok := text[k]
		if !ok {
			continue
		}
		data := append([]byte(k+"\x00"), v...)
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(data)))
		out.Write(n[:])
		chunk := append([]byte("tEXt"), data...)
		out.Write(chunk)
		binary.BigEndian.PutUint32(n[:], crc32.ChecksumIEEE(chunk))
		out.Write(n[:])
	}
	out.Write(png[sigAndIHDR:])
	return out.Bytes()
}

// SceneOf reads the scene back from a code the simulator drew (its
// "scan"); ok is false for any other picture.
func SceneOf(png []byte) (scene string, ok bool) {
	v, ok := TextOf(png)["scene"]
	return v, ok
}

// TextOf is every tEXt chunk of a PNG, by keyword.
func TextOf(png []byte) map[string]string {
	out := map[string]string{}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		return out
	}
	for p := png[8:]; len(p) >= 12; {
		n := int(binary.BigEndian.Uint32(p[:4]))
		if n < 0 || 12+n > len(p) {
			break
		}
		if string(p[4:8]) == "tEXt" {
			if k, v, found := bytes.Cut(p[8:8+n], []byte{0}); found {
				out[string(k)] = string(v)
			}
		}
		p = p[12+n:]
	}
	return out
}
