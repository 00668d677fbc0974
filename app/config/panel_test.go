package config_test

import (
	"strings"
	"testing"
	"time"
)

func TestPanelSettingsDefaults(t *testing.T) {
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Timezone == nil || c.Timezone.String() != "Asia/Shanghai" {
		t.Errorf("default zone %v, want Asia/Shanghai", c.Timezone)
	}
	if c.AuditRetention != 8760*time.Hour || c.AdminRequireTOTP {
		t.Errorf("audit retention %v, require TOTP %v", c.AuditRetention, c.AdminRequireTOTP)
	}
}

func TestPanelSettings(t *testing.T) {
	c, err := load(map[string]string{"MINIAUTH_TIMEZONE": "Europe/Berlin", "MINIAUTH_AUDIT_RETENTION": "0", "MINIAUTH_ADMIN_REQUIRE_TOTP": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Timezone.String() != "Europe/Berlin" || c.AuditRetention != 0 || !c.AdminRequireTOTP {
		t.Errorf("got zone %v retention %v totp %v", c.Timezone, c.AuditRetention, c.AdminRequireTOTP)
	}
}

func TestBadPanelSettingsAreOneLine(t *testing.T) {
	for name, value := range map[string]string{
		"MINIAUTH_TIMEZONE":           "Mars/Olympus",
		"MINIAUTH_AUDIT_RETENTION":    "-1h",
		"MINIAUTH_ADMIN_REQUIRE_TOTP": "yes please",
	} {
		_, err := load(map[string]string{name: value})
		if err == nil {
			t.Errorf("%s=%q accepted", name, value)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, name+": ") || strings.Contains(msg, "\n") {
			t.Errorf("%s=%q: error %q is not one line naming the variable", name, value, msg)
		}
	}
	for _, local := range []string{"Local"} {
		if _, err := load(map[string]string{"MINIAUTH_TIMEZONE": local}); err == nil {
			t.Errorf("MINIAUTH_TIMEZONE=%s accepted", local)
		}
	}
}
