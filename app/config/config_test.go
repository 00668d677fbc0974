package config_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/config"
)

func load(vars map[string]string) (*config.Config, error) {
	return config.Load(func(k string) string { return vars[k] })
}

func TestDefaults(t *testing.T) {
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		Addr: ":8080", DataDir: "./data", Env: "development", WeChatAPIBase: "https://api.weixin.qq.com",
		AccessTTL: 2 * time.Hour, RefreshTTL: 720 * time.Hour, DBMaxOpenConns: config.DefaultDBMaxOpenConns,
		DBMaxIdleConns: config.DefaultDBMaxIdleConns, SQLiteSync: "full",
	}
	if c.Addr != want.Addr || c.DataDir != want.DataDir || c.Env != want.Env || c.WeChatAPIBase != want.WeChatAPIBase ||
		c.AccessTTL != want.AccessTTL || c.RefreshTTL != want.RefreshTTL || c.DBMaxOpenConns != want.DBMaxOpenConns ||
		c.DBMaxIdleConns != want.DBMaxIdleConns || c.SQLiteSync != want.SQLiteSync ||
		c.DatabaseURL != "" || c.JWTSecret != "" || len(c.TrustedProxies) != 0 || c.PProf {
		t.Errorf("defaults:\n got %+v\nwant %+v", *c, want)
	}
	if !c.Simulated() || c.Production() {
		t.Error("without credentials in development the simulator answers")
	}
	if c.SQLitePath() != filepath.Join("data", "miniauth.db") {
		t.Errorf("SQLite path %q", c.SQLitePath())
	}
}

func TestEverySetting(t *testing.T) {
	c, err := load(map[string]string{
		"MINIAUTH_ADDR":              "127.0.0.1:9000",
		"MINIAUTH_DATA_DIR":          "/var/lib/miniauth",
		"MINIAUTH_DATABASE_URL":      "postgres://u:p@db/miniauth",
		"MINIAUTH_ENV":               "production",
		"MINIAUTH_WECHAT_APPID":      "wx123",
		"MINIAUTH_WECHAT_SECRET":     "s3cret",
		"MINIAUTH_WECHAT_API_BASE":   "https://wechat.example/",
		"MINIAUTH_JWT_SECRET":        strings.Repeat("k", 32),
		"MINIAUTH_ACCESS_TTL":        "15m",
		"MINIAUTH_REFRESH_TTL":       "24h",
		"MINIAUTH_TRUSTED_PROXIES":   "10.0.0.1, 192.168.0.0/16,::1",
		"MINIAUTH_DB_MAX_OPEN_CONNS": "20",
		"MINIAUTH_DB_MAX_IDLE_CONNS": "3",
		"MINIAUTH_SQLITE_SYNC":       "NORMAL",
		"MINIAUTH_METRICS_ADDR":      "127.0.0.1:9090",
		"MINIAUTH_PPROF":             "1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.DataDir != "/var/lib/miniauth" || c.DatabaseURL != "postgres://u:p@db/miniauth" ||
		!c.Production() || c.Simulated() || c.WeChatAppID != "wx123" || c.WeChatSecret != "s3cret" ||
		c.WeChatAPIBase != "https://wechat.example" || c.JWTSecret != strings.Repeat("k", 32) ||
		c.AccessTTL != 15*time.Minute || c.RefreshTTL != 24*time.Hour || c.DBMaxOpenConns != 20 ||
		c.DBMaxIdleConns != 3 || c.SQLiteSync != "normal" || c.MetricsAddr != "127.0.0.1:9090" || !c.PProf {
		t.Errorf("settings not read: %+v", *c)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("::1/128")}
	if len(c.TrustedProxies) != len(want) {
		t.Fatalf("trusted proxies %v", c.TrustedProxies)
	}
	for i := range want {
		if c.TrustedProxies[i] != want[i] {
			t.Errorf("proxy %d = %v, want %v", i, c.TrustedProxies[i], want[i])
		}
	}
}

// TestInvalidValues: each bad value stops start-up with one line naming
// the variable.
func TestInvalidValues(t *testing.T) {
	creds := map[string]string{"MINIAUTH_WECHAT_APPID": "wx1", "MINIAUTH_WECHAT_SECRET": "s"}
	cases := []struct {
		name  string
		vars  map[string]string
		names []string // every one must be in the message
	}{
		{"access TTL not a duration", map[string]string{"MINIAUTH_ACCESS_TTL": "two hours"}, []string{"MINIAUTH_ACCESS_TTL"}},
		{"access TTL without unit", map[string]string{"MINIAUTH_ACCESS_TTL": "7200"}, []string{"MINIAUTH_ACCESS_TTL"}},
		{"access TTL zero", map[string]string{"MINIAUTH_ACCESS_TTL": "0s"}, []string{"MINIAUTH_ACCESS_TTL"}},
		{"access TTL negative", map[string]string{"MINIAUTH_ACCESS_TTL": "-1h"}, []string{"MINIAUTH_ACCESS_TTL"}},
		{"WeChat timeout past 5s", map[string]string{"MINIAUTH_WECHAT_TIMEOUT": "30s"}, []string{"MINIAUTH_WECHAT_TIMEOUT"}},
		{"WeChat timeout not a duration", map[string]string{"MINIAUTH_WECHAT_TIMEOUT": "fast"}, []string{"MINIAUTH_WECHAT_TIMEOUT"}},
		{"refresh TTL bad", map[string]string{"MINIAUTH_REFRESH_TTL": "forever"}, []string{"MINIAUTH_REFRESH_TTL"}},
		{"refresh shorter than access", map[string]string{"MINIAUTH_ACCESS_TTL": "2h", "MINIAUTH_REFRESH_TTL": "1h"}, []string{"MINIAUTH_REFRESH_TTL"}},
		{"env unknown", map[string]string{"MINIAUTH_ENV": "staging"}, []string{"MINIAUTH_ENV"}},
		{"production without credentials", map[string]string{"MINIAUTH_ENV": "production"}, []string{"MINIAUTH_WECHAT_APPID", "MINIAUTH_WECHAT_SECRET"}},
		{"production without secret", map[string]string{"MINIAUTH_ENV": "production", "MINIAUTH_WECHAT_APPID": "wx1"}, []string{"MINIAUTH_WECHAT_SECRET"}},
		{"secret without appid", map[string]string{"MINIAUTH_WECHAT_SECRET": "s"}, []string{"MINIAUTH_WECHAT_APPID"}},
		{"appid without secret", map[string]string{"MINIAUTH_WECHAT_APPID": "wx1"}, []string{"MINIAUTH_WECHAT_SECRET"}},
		{"API base not a URL", merge(creds, map[string]string{"MINIAUTH_WECHAT_API_BASE": "api.weixin.qq.com"}), []string{"MINIAUTH_WECHAT_API_BASE"}},
		{"short JWT secret", map[string]string{"MINIAUTH_JWT_SECRET": "short"}, []string{"MINIAUTH_JWT_SECRET"}},
		{"trusted proxy garbage", map[string]string{"MINIAUTH_TRUSTED_PROXIES": "10.0.0.1,nginx"}, []string{"MINIAUTH_TRUSTED_PROXIES"}},
		{"trusted proxy bad CIDR", map[string]string{"MINIAUTH_TRUSTED_PROXIES": "10.0.0.0/33"}, []string{"MINIAUTH_TRUSTED_PROXIES"}},
		{"pool size not a number", map[string]string{"MINIAUTH_DB_MAX_OPEN_CONNS": "many"}, []string{"MINIAUTH_DB_MAX_OPEN_CONNS"}},
		{"pool size zero", map[string]string{"MINIAUTH_DB_MAX_IDLE_CONNS": "0"}, []string{"MINIAUTH_DB_MAX_IDLE_CONNS"}},
		{"sqlite sync unknown", map[string]string{"MINIAUTH_SQLITE_SYNC": "off"}, []string{"MINIAUTH_SQLITE_SYNC"}},
		{"database URL of another database", map[string]string{"MINIAUTH_DATABASE_URL": "mysql://u:secretpw@h/db"}, []string{"MINIAUTH_DATABASE_URL", "mysql"}},
		{"database URL with file scheme", map[string]string{"MINIAUTH_DATABASE_URL": "file:/var/lib/secretpw.db"}, []string{"MINIAUTH_DATABASE_URL"}},
		{"database URL postgres unparsable", map[string]string{"MINIAUTH_DATABASE_URL": "postgres://u:secretpw@h:port/db"}, []string{"MINIAUTH_DATABASE_URL"}},
		{"pprof not a flag", map[string]string{"MINIAUTH_METRICS_ADDR": ":9090", "MINIAUTH_PPROF": "yes"}, []string{"MINIAUTH_PPROF"}},
		{"pprof without a metrics listener", map[string]string{"MINIAUTH_PPROF": "1"}, []string{"MINIAUTH_PPROF", "MINIAUTH_METRICS_ADDR"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := load(c.vars)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("message is more than one line: %q", msg)
			}
			for _, n := range c.names {
				if !strings.Contains(msg, n) {
					t.Errorf("message %q does not name %s", msg, n)
				}
			}
			for k, v := range c.vars {
				if (strings.Contains(k, "SECRET") && len(v) > 1 && strings.Contains(msg, v)) || strings.Contains(msg, "secretpw") {
					t.Errorf("message %q repeats the value of %s", msg, k)
				}
			}
		})
	}
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func TestPrepareDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	c, err := load(map[string]string{"MINIAUTH_DATA_DIR": dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PrepareDataDir(); err != nil {
		t.Fatalf("creating a data dir: %v", err)
	}
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() || st.Mode().Perm()&0o077 != 0 {
		t.Fatalf("data dir %v (%v): must be a directory private to its owner", st.Mode(), err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("the write check left files behind: %v", left)
	}

	// A data dir that cannot be created (its parent is a file). Running
	// as root, permissions alone would not stop a write.
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	c, _ = load(map[string]string{"MINIAUTH_DATA_DIR": filepath.Join(file, "data")})
	err = c.PrepareDataDir()
	if err == nil || !strings.HasPrefix(err.Error(), "MINIAUTH_DATA_DIR") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("unusable data dir: err = %v, want one line starting with MINIAUTH_DATA_DIR", err)
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(t.TempDir(), "ro")
		os.Mkdir(ro, 0o500)
		c, _ = load(map[string]string{"MINIAUTH_DATA_DIR": ro})
		if err := c.PrepareDataDir(); err == nil || !strings.Contains(err.Error(), "MINIAUTH_DATA_DIR") {
			t.Fatalf("read-only data dir: err = %v", err)
		}
	}
}

// TestUsageListsEveryVariable: --help documents every variable the
// contract names and every one Load reads.
func TestUsageListsEveryVariable(t *testing.T) {
	usage := config.Usage()
	names := []string{
		"MINIAUTH_ADDR", "MINIAUTH_DATA_DIR", "MINIAUTH_DATABASE_URL", "MINIAUTH_ENV", "MINIAUTH_WECHAT_APPID",
		"MINIAUTH_WECHAT_SECRET", "MINIAUTH_WECHAT_API_BASE", "MINIAUTH_JWT_SECRET", "MINIAUTH_ACCESS_TTL",
		"MINIAUTH_REFRESH_TTL", "MINIAUTH_TRUSTED_PROXIES",
	}
	for _, v := range config.Vars {
		names = append(names, v.Name)
	}
	// And every variable Load actually asks for.
	config.Load(func(k string) string {
		names = append(names, k)
		return ""
	})
	for _, n := range names {
		if !strings.Contains(usage, n) {
			t.Errorf("--help does not list %s", n)
		}
	}
	for _, def := range []string{"2h0m0s", "720h0m0s", ":8080", "./data", "https://api.weixin.qq.com"} {
		if !strings.Contains(usage, def) {
			t.Errorf("--help does not show the default %s", def)
		}
	}
}
