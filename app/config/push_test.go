package config

import (
	"strings"
	"testing"
)

func TestPushSettings(t *testing.T) {
	load := func(vars map[string]string) (*Config, error) {
		return Load(func(k string) string { return vars[k] })
	}
	const key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	c, err := load(map[string]string{"MINIAUTH_WECHAT_PUSH_TOKEN": "tok123", "MINIAUTH_WECHAT_PUSH_AES_KEY": key})
	if err != nil {
		t.Fatal(err)
	}
	apps := c.PushApps("wxsim")
	if a, ok := apps["wxsim"]; !ok || a.Token != "tok123" || len(a.AESKey) != 32 {
		t.Fatalf("single app, simulated: %+v", apps)
	}
	c, err = load(map[string]string{"MINIAUTH_WECHAT_APPS": "wxa:s1,wxb:s2", "MINIAUTH_WECHAT_PUSH": "wxa:tokA:" + key + ", wxb:tokB"})
	if err != nil {
		t.Fatal(err)
	}
	apps = c.PushApps("wxsim")
	if len(apps) != 2 || apps["wxa"].AESKey == nil || apps["wxb"].AESKey != nil || apps["wxb"].Token != "tokB" {
		t.Fatalf("several apps: %+v", apps)
	}
	if c, _ := load(map[string]string{}); len(c.PushApps("wxsim")) != 0 {
		t.Error("push configured by default")
	}
	for _, c := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"MINIAUTH_WECHAT_PUSH_AES_KEY": key}, "MINIAUTH_WECHAT_PUSH_TOKEN"},
		{map[string]string{"MINIAUTH_WECHAT_PUSH_TOKEN": "t"}, "MINIAUTH_WECHAT_PUSH_TOKEN"},
		{map[string]string{"MINIAUTH_WECHAT_PUSH_TOKEN": "tok-123"}, "letters and digits"},
		{map[string]string{"MINIAUTH_WECHAT_PUSH_TOKEN": "tok123", "MINIAUTH_WECHAT_PUSH_AES_KEY": key[:42]}, "MINIAUTH_WECHAT_PUSH_AES_KEY"},
		{map[string]string{"MINIAUTH_WECHAT_PUSH_TOKEN": "tok123", "MINIAUTH_WECHAT_PUSH": "wxa:tok123"}, "both set"},
		{map[string]string{"MINIAUTH_WECHAT_APPS": "wxa:s1,wxb:s2", "MINIAUTH_WECHAT_PUSH_TOKEN": "tok123"}, "several mini programs"},
		{map[string]string{"MINIAUTH_WECHAT_APPS": "wxa:s1", "MINIAUTH_WECHAT_PUSH": "wxc:tok123"}, "not a configured mini program"},
		{map[string]string{"MINIAUTH_WECHAT_PUSH": "wxa:tok123,wxa:tok456"}, "listed twice"},
		{map[string]string{"MINIAUTH_WECHAT_PUSH": "wxa"}, "entry 1"},
		{map[string]string{"MINIAUTH_WECHAT_PUSH": "wxa:tok123:" + key + "x"}, "EncodingAESKey"},
	} {
		_, err := load(c.vars)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.vars, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), key[:20]) || strings.Contains(err.Error(), "tok123") {
			t.Errorf("error echoes a secret: %v", err)
		}
	}
}
