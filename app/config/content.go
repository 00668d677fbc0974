package config

import (
	"fmt"
	"strings"
)

// loadContent reads the content security settings: MINIAUTH_CONTENT_CHECK
// (on by default with WeChat credentials; the simulator's default is off,
// since its verdicts are made up), MINIAUTH_CONTENT_CHECK_FAIL (open:
// store what could not be checked and list it for review; closed: refuse
// it). WeChat downloads uploaded avatars from MINIAUTH_PUBLIC_URL
// (Doors.PublicURL).
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
	return nil
}
