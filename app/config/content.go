package config

import (
	"fmt"
	"net/url"
	"strings"
)

// loadContent reads the content security settings: MINIAUTH_CONTENT_CHECK
// (on by default with WeChat credentials; the simulator's default is off,
// since its verdicts are made up), MINIAUTH_CONTENT_CHECK_FAIL (open:
// store what could not be checked and list it for review; closed: refuse
// it) and MINIAUTH_PUBLIC_URL (where WeChat downloads uploaded avatars).
func (c *Config) loadContent(get func(string, string) string) error {
	def := "off"
	if !c.Simulated() {
		def = "on"
	}
	switch v := strings.ToLower(get("MINIAUTH_CONTENT_CHECK", def)); v {
	case "on", "1", "true":
		c.ContentCheck = true
	case "off", "0", "false":
		c.ContentCheck = false
	default:
		return fmt.Errorf("MINIAUTH_CONTENT_CHECK: must be on or off, not %q", v)
	}
	switch v := strings.ToLower(get("MINIAUTH_CONTENT_CHECK_FAIL", "open")); v {
	case "open":
	case "closed":
		c.ContentCheckFailClosed = true
	default:
		return fmt.Errorf("MINIAUTH_CONTENT_CHECK_FAIL: must be open or closed, not %q", v)
	}
	if raw := get("MINIAUTH_PUBLIC_URL", ""); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("MINIAUTH_PUBLIC_URL: must be the server's public http(s) URL like https://auth.example.com, not %q", raw)
		}
		c.PublicURL = strings.TrimRight(raw, "/")
	}
	return nil
}
