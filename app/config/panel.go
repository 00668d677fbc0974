package config

import (
	"fmt"
	"time"
)

// loadPanelSettings reads the admin panel's settings: its time zone, the
// audit log's retention and the second-factor requirement.
func (c *Config) loadPanelSettings(get func(string, string) string) error {
	name := get("MINIAUTH_TIMEZONE", DefaultTimezone)
	loc, err := time.LoadLocation(name)
	// "Local" would follow the host, which is what the setting replaces.
	if err != nil || name == "Local" {
		return fmt.Errorf("MINIAUTH_TIMEZONE: %q is not an IANA time zone like Asia/Shanghai or UTC", name)
	}
	c.Timezone = loc

	c.AuditRetention = DefaultAuditRetention
	if raw := get("MINIAUTH_AUDIT_RETENTION", ""); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d < 0 {
			return fmt.Errorf("MINIAUTH_AUDIT_RETENTION: %q is not a duration like 8760h (0 keeps entries forever)", raw)
		}
		c.AuditRetention = d
	}

	switch raw := get("MINIAUTH_ADMIN_REQUIRE_TOTP", "0"); raw {
	case "0", "false":
	case "1", "true":
		c.AdminRequireTOTP = true
	default:
		return fmt.Errorf("MINIAUTH_ADMIN_REQUIRE_TOTP: must be 1 or 0, not %q", raw)
	}
	return nil
}
