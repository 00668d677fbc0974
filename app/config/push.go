package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miniauth/miniauth/app/wechatpush"
)

// PushApp is one mini program's message push (消息推送) settings, as in
// the console: the Token, and the EncodingAESKey for safe mode ("" for
// plaintext mode).
type PushApp struct {
	AppID  string // "": the single app (MINIAUTH_WECHAT_PUSH_TOKEN)
	Token  string
	AESKey string
}

// maxPushToken bounds a Token (the console takes 3–32 characters).
const maxPushToken = 64

func checkPushToken(name, token string) error {
	if len(token) < 3 || len(token) > maxPushToken {
		return fmt.Errorf("%s: the Token must be 3 to %d characters", name, maxPushToken)
	}
	for _, r := range token {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return fmt.Errorf("%s: the Token must be letters and digits (as the console requires)", name)
		}
	}
	return nil
}

// loadPush reads MINIAUTH_WECHAT_PUSH (appid:token:key,…; the key may be
// left out for plaintext mode) or, with one mini program,
// MINIAUTH_WECHAT_PUSH_TOKEN and MINIAUTH_WECHAT_PUSH_AES_KEY. The
// secrets are never echoed in an error.
func (c *Config) loadPush(get func(string, string) string) error {
	raw := get("MINIAUTH_WECHAT_PUSH", "")
	token, key := get("MINIAUTH_WECHAT_PUSH_TOKEN", ""), get("MINIAUTH_WECHAT_PUSH_AES_KEY", "")
	if raw == "" {
		if token == "" && key == "" {
			return nil
		}
		if token == "" {
			return errors.New("MINIAUTH_WECHAT_PUSH_TOKEN: required with MINIAUTH_WECHAT_PUSH_AES_KEY")
		}
		if len(c.WeChatApps) > 1 {
			return errors.New("MINIAUTH_WECHAT_PUSH_TOKEN: several mini programs are configured: use MINIAUTH_WECHAT_PUSH=appid:token:key,…")
		}
		if err := checkPushToken("MINIAUTH_WECHAT_PUSH_TOKEN", token); err != nil {
			return err
		}
		if key != "" {
			if _, err := wechatpush.ParseAESKey(key); err != nil {
				return fmt.Errorf("MINIAUTH_WECHAT_PUSH_AES_KEY: %v", err)
			}
		}
		c.Push = []PushApp{{Token: token, AESKey: key}}
		return nil
	}
	if token != "" || key != "" {
		return errors.New("MINIAUTH_WECHAT_PUSH and MINIAUTH_WECHAT_PUSH_TOKEN/_AES_KEY are both set: use one form")
	}
	served := map[string]bool{}
	for _, a := range c.WeChatApps {
		served[a.AppID] = true
	}
	seen := map[string]bool{}
	for i, entry := range strings.Split(raw, ",") {
		parts := strings.Split(strings.TrimSpace(entry), ":")
		if len(parts) < 2 || len(parts) > 3 {
			return fmt.Errorf("MINIAUTH_WECHAT_PUSH: entry %d is not appid:token:encoding_aes_key", i+1)
		}
		p := PushApp{AppID: strings.TrimSpace(parts[0]), Token: strings.TrimSpace(parts[1])}
		if len(parts) == 3 {
			p.AESKey = strings.TrimSpace(parts[2])
		}
		name := fmt.Sprintf("MINIAUTH_WECHAT_PUSH: entry %d", i+1)
		switch {
		case !ValidAppID(p.AppID):
			return fmt.Errorf("%s: %q is not an AppID", name, p.AppID)
		case seen[p.AppID]:
			return fmt.Errorf("MINIAUTH_WECHAT_PUSH: %s is listed twice", p.AppID)
		case len(c.WeChatApps) > 0 && !served[p.AppID]:
			return fmt.Errorf("MINIAUTH_WECHAT_PUSH: %s is not a configured mini program", p.AppID)
		}
		if err := checkPushToken(name, p.Token); err != nil {
			return err
		}
		if p.AESKey != "" {
			if _, err := wechatpush.ParseAESKey(p.AESKey); err != nil {
				return fmt.Errorf("%s: the EncodingAESKey %v", name, err)
			}
		}
		seen[p.AppID] = true
		c.Push = append(c.Push, p)
	}
	return nil
}

// PushApps are the mini programs whose message push miniauth receives,
// ready to check deliveries. The single-app form belongs to the primary
// app (the simulator's when simulated).
func (c *Config) PushApps(simulatorAppID string) map[string]wechatpush.App {
	out := map[string]wechatpush.App{}
	for _, p := range c.Push {
		a := wechatpush.App{AppID: p.AppID, Token: p.Token}
		if a.AppID == "" {
			a.AppID = c.PrimaryAppID(simulatorAppID)
		}
		if p.AESKey != "" {
			a.AESKey, _ = wechatpush.ParseAESKey(p.AESKey) // checked by Load
		}
		out[a.AppID] = a
	}
	return out
}
