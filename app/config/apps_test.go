package config

import (
	"strings"
	"testing"
)

func TestWeChatApps(t *testing.T) {
	load := func(vars map[string]string) (*Config, error) {
		return Load(func(k string) string { return vars[k] })
	}
	c, err := load(map[string]string{"MINIAUTH_WECHAT_APPS": " wxaaaa:secret-a , wxbbbb:secret:b "})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.WeChatApps) != 2 || c.WeChatApps[0] != (WeChatApp{"wxaaaa", "secret-a"}) || c.WeChatApps[1] != (WeChatApp{"wxbbbb", "secret:b"}) {
		t.Fatalf("apps: %+v", c.WeChatApps)
	}
	if c.Simulated() || c.PrimaryAppID("sim") != "wxaaaa" {
		t.Error("configured apps are not simulated; the first is primary")
	}
	c, err = load(map[string]string{"MINIAUTH_WECHAT_APPID": "wxone", "MINIAUTH_WECHAT_SECRET": "s"})
	if err != nil || len(c.WeChatApps) != 1 || c.WeChatApps[0].AppID != "wxone" {
		t.Fatalf("single app: %v %+v", err, c)
	}
	c, err = load(map[string]string{"MINIAUTH_WECHAT_APPS": "wxaaaa:s", "MINIAUTH_ENV": "production"})
	if err != nil || c.Simulated() {
		t.Fatalf("production with MINIAUTH_WECHAT_APPS: %v", err)
	}
	if c, _ := load(map[string]string{}); !c.Simulated() || c.PrimaryAppID("sim") != "sim" {
		t.Error("no credentials: simulated")
	}
	const secret = "zz-secret-zz"
	for _, c := range []struct {
		vars map[string]string
		want []string
	}{
		{map[string]string{"MINIAUTH_WECHAT_APPS": "wxa:" + secret, "MINIAUTH_WECHAT_APPID": "wxb"}, []string{"MINIAUTH_WECHAT_APPS", "MINIAUTH_WECHAT_APPID"}},
		{map[string]string{"MINIAUTH_WECHAT_APPS": "wxa:" + secret, "MINIAUTH_WECHAT_SECRET": "x"}, []string{"MINIAUTH_WECHAT_APPS", "MINIAUTH_WECHAT_SECRET"}},
		{map[string]string{"MINIAUTH_WECHAT_APPS": "wxa:" + secret + ",wxb" + secret}, []string{"MINIAUTH_WECHAT_APPS", "entry 2"}},
		{map[string]string{"MINIAUTH_WECHAT_APPS": "wxa:"}, []string{"MINIAUTH_WECHAT_APPS"}},
		{map[string]string{"MINIAUTH_WECHAT_APPS": "wxa:" + secret + ",wxa:t"}, []string{"MINIAUTH_WECHAT_APPS", "twice"}},
		{map[string]string{"MINIAUTH_WECHAT_APPS": "wx a:" + secret}, []string{"MINIAUTH_WECHAT_APPS"}},
		{map[string]string{"MINIAUTH_WECHAT_APPID": "wx/../x", "MINIAUTH_WECHAT_SECRET": secret}, []string{"MINIAUTH_WECHAT_APPID"}},
	} {
		_, err := load(c.vars)
		if err == nil {
			t.Errorf("%v: accepted", c.vars)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not name %q", c.vars, err, w)
			}
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q echoes a secret", err)
		}
	}
}
