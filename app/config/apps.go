package config

import (
	"errors"
	"fmt"
	"strings"
)

// WeChatApp is one mini program's credentials.
type WeChatApp struct {
	AppID  string
	Secret string
}

// MaxAppIDLen bounds an AppID (WeChat's are 18 characters).
const MaxAppIDLen = 64

// ValidAppID reports whether s can be an AppID: 1–64 letters, digits,
// "_" or "-". It keeps odd bytes out of logs and WeChat queries.
func ValidAppID(s string) bool {
	if s == "" || len(s) > MaxAppIDLen {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// parseApps reads MINIAUTH_WECHAT_APPS ("appid:secret,appid:secret"), or
// falls back to the single app of MINIAUTH_WECHAT_APPID/_SECRET. Setting
// both forms is refused: which one wins would be a guess.
func parseApps(raw, appID, secret string) ([]WeChatApp, error) {
	if raw == "" {
		if appID != "" && secret != "" {
			if !ValidAppID(appID) {
				return nil, fmt.Errorf("MINIAUTH_WECHAT_APPID: %q is not an AppID (letters, digits, _ or -)", appID)
			}
			return []WeChatApp{{AppID: appID, Secret: secret}}, nil
		}
		return nil, nil
	}
	if appID != "" || secret != "" {
		return nil, errors.New("MINIAUTH_WECHAT_APPS and MINIAUTH_WECHAT_APPID/MINIAUTH_WECHAT_SECRET are both set: use one form")
	}
	return parseAppList("MINIAUTH_WECHAT_APPS", raw)
}

// parseAppList reads a list "appid:secret,appid:secret" of the variable
// name.
func parseAppList(name, raw string) ([]WeChatApp, error) {
	var apps []WeChatApp
	seen := map[string]bool{}
	for i, pair := range strings.Split(raw, ",") {
		pair = strings.TrimSpace(pair)
		id, sec, ok := strings.Cut(pair, ":")
		id, sec = strings.TrimSpace(id), strings.TrimSpace(sec)
		switch {
		case !ok || id == "" || sec == "":
			// The pair is not echoed: it holds a secret.
			return nil, fmt.Errorf("%s: entry %d is not appid:secret", name, i+1)
		case !ValidAppID(id):
			return nil, fmt.Errorf("%s: entry %d: %q is not an AppID (letters, digits, _ or -)", name, i+1, id)
		case seen[id]:
			return nil, fmt.Errorf("%s: %s is listed twice", name, id)
		}
		seen[id] = true
		apps = append(apps, WeChatApp{AppID: id, Secret: sec})
	}
	return apps, nil
}

// PrimaryAppID is the first configured app: the one the rows of a single-
// app release belong to when a database is migrated (list the app you
// used so far first). The simulator's id when simulated.
func (c *Config) PrimaryAppID(simulatorAppID string) string {
	if len(c.WeChatApps) == 0 {
		return simulatorAppID
	}
	return c.WeChatApps[0].AppID
}
