// Package config reads miniauth's settings from the environment.
//
// Every tunable has a named default here, and every invalid value stops
// start-up with one line that names the variable.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	// The zone database inside the binary: MINIAUTH_TIMEZONE must work on
	// a minimal image without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/miniauth/miniauth/app/database/dburl"
)

// Defaults, in one place.
const (
	DefaultAddr          = ":8080"
	DefaultDataDir       = "./data"
	DefaultEnv           = "development"
	DefaultWeChatAPIBase = "https://api.weixin.qq.com"
	// DefaultWeChatTimeout is a WeChat call's deadline: WeChat's own
	// answers come in well under a second, and a login must not hang.
	DefaultWeChatTimeout  = 5 * time.Second
	DefaultAccessTTL      = 2 * time.Hour
	DefaultRefreshTTL     = 720 * time.Hour
	DefaultDBMaxOpenConns = 10
	// DefaultDBMaxIdleConns equals the open limit: with fewer idle slots
	// than open connections, every burst closes connections only to open
	// new ones (a PostgreSQL backend fork each), which halved the
	// throughput of two instances in the bench.
	DefaultDBMaxIdleConns = DefaultDBMaxOpenConns
	DefaultSQLiteSync     = "full"
	// DefaultLoginRateLimit is logins and refreshes per client IP per
	// minute (100 a second). It stops floods before they reach WeChat's
	// quota; it is generous because mobile carriers put many users behind
	// one address, and because behind a proxy left out of
	// MINIAUTH_TRUSTED_PROXIES every user shares the proxy's budget.
	DefaultLoginRateLimit = 6000
	// DefaultSessionCache is how many live sessions each instance keeps
	// in memory for the per-request check (about 0.4 KiB each).
	DefaultSessionCache = 100_000
	// DefaultTimezone is where most operators of a WeChat mini program
	// are: the admin panel's and CSV's times, and its "today".
	DefaultTimezone = "Asia/Shanghai"
	// DefaultAuditRetention keeps a year of admin audit entries.
	DefaultAuditRetention = 8760 * time.Hour
)

// Config is the whole runtime configuration.
type Config struct {
	Addr          string
	DataDir       string
	DatabaseURL   string // empty: SQLite file inside DataDir
	Env           string // "development" or "production"
	WeChatAppID   string
	WeChatSecret  string
	WeChatAPIBase string
	// WeChatTimeout is the deadline of one WeChat call (≤ 5 s).
	WeChatTimeout time.Duration
	// WeChatApps are the mini programs served, from MINIAUTH_WECHAT_APPS
	// or the single MINIAUTH_WECHAT_APPID/_SECRET (apps.go); empty: the
	// built-in simulator.
	WeChatApps     []WeChatApp
	JWTSecret      string // empty: generated once and kept in DataDir
	AccessTTL      time.Duration
	RefreshTTL     time.Duration
	TrustedProxies []netip.Prefix
	MetricsAddr    string // empty: no metrics listener
	PProf          bool   // serve /debug/pprof/ on the metrics listener
	DBMaxOpenConns int
	DBMaxIdleConns int
	SQLiteSync     string // "full" (durable, default) or "normal" (opt-in, faster)
	LoginRateLimit int    // per client IP per minute; 0 turns it off
	SessionCache   int    // sessions cached in memory; 0 turns the cache off
	// Timezone is the zone of the admin panel's and CSV's times.
	Timezone *time.Location
	// AuditRetention is how long audit entries are kept; 0 keeps them.
	AuditRetention time.Duration
	// AdminRequireTOTP refuses sign-in to admins without a second factor.
	AdminRequireTOTP bool
	// Guard is the sign-up risk gate and the phone cost guard (guard.go).
	Guard Guard
	// The other WeChat doors (doors.go): Official Accounts' H5 pages and
	// open platform mobile apps.
	Doors Doors
}

// Var documents one environment variable for --help and docs/configuration.md.
type Var struct {
	Name, Default, Help string
}

// Vars lists every environment variable miniauth reads.
var Vars = []Var{
	{"MINIAUTH_ADDR", DefaultAddr, "listen address"},
	{"MINIAUTH_DATA_DIR", DefaultDataDir, "SQLite file, uploads and the generated secret"},
	{"MINIAUTH_DATABASE_URL", "sqlite file in the data dir", "postgres://user:pass@host/db, sqlite:///path/file.db or a plain file path (no other scheme)"},
	{"MINIAUTH_ENV", DefaultEnv, "development or production"},
	{"MINIAUTH_WECHAT_APPID", "", "mini program AppID (empty outside production: built-in simulator)"},
	{"MINIAUTH_WECHAT_SECRET", "", "mini program AppSecret"},
	{"MINIAUTH_WECHAT_APPS", "", "several mini programs: appid:secret,appid:secret (instead of MINIAUTH_WECHAT_APPID/_SECRET)"},
	{"MINIAUTH_WECHAT_API_BASE", DefaultWeChatAPIBase, "WeChat API base URL"},
	{"MINIAUTH_WECHAT_TIMEOUT", DefaultWeChatTimeout.String(), "deadline of one WeChat API call, retries included (at most 5s)"},
	{"MINIAUTH_RISK_MAX_RANK", "", "0-4: a login that would create a user is refused when WeChat's getUserRiskRank is higher (empty: not asked)"},
	{"MINIAUTH_PHONE_DAILY_BUDGET", "0", "phone numbers fetched per mini program per day before the phone button is no longer offered (0: no budget)"},
	{"MINIAUTH_PHONE_USER_DAILY", strconv.Itoa(DefaultPhoneUserDaily), "phone numbers one user may fetch per day (0: no cap)"},
	{"MINIAUTH_PHONE_IP_DAILY", strconv.Itoa(DefaultPhoneIPDaily), "phone numbers fetched from one client IP per day (0: no cap)"},
	{"MINIAUTH_PHONE_COOLDOWN", DefaultPhoneCooldown.String(), "pause after a user's phone fetch before the button is offered again (0: none)"},
	{"MINIAUTH_PHONE_BILLING_POLL", DefaultPhoneBillingPoll.String(), "how often WeChat's phone billing (/wxa/charge/usage/get) is read (0: never)"},
	{"MINIAUTH_JWT_SECRET", "", "server secret, 32+ characters or base64:<text> (empty: 32 random bytes kept in the data dir, mode 0600)"},
	{"MINIAUTH_ACCESS_TTL", DefaultAccessTTL.String(), "access token lifetime (Go duration)"},
	{"MINIAUTH_REFRESH_TTL", DefaultRefreshTTL.String(), "refresh token / session lifetime (Go duration)"},
	{"MINIAUTH_TRUSTED_PROXIES", "", "comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For is believed"},
	{"MINIAUTH_METRICS_ADDR", "", "separate listen address for /metrics (empty: metrics off)"},
	{"MINIAUTH_PPROF", "0", "1: also serve Go's profiler /debug/pprof/ on the metrics listener"},
	{"MINIAUTH_DB_MAX_OPEN_CONNS", strconv.Itoa(DefaultDBMaxOpenConns), "PostgreSQL pool: max open connections"},
	{"MINIAUTH_DB_MAX_IDLE_CONNS", strconv.Itoa(DefaultDBMaxIdleConns), "PostgreSQL pool: max idle connections"},
	{"MINIAUTH_LOGIN_RATE_LIMIT", strconv.Itoa(DefaultLoginRateLimit), "logins and refreshes per client IP per minute (0: no limit)"},
	{"MINIAUTH_SESSION_CACHE", strconv.Itoa(DefaultSessionCache), "live sessions kept in memory for the per-request check (0: check the database every request)"},
	{"MINIAUTH_TIMEZONE", DefaultTimezone, "IANA time zone of the admin panel's and CSV's times"},
	{"MINIAUTH_AUDIT_RETENTION", DefaultAuditRetention.String(), "how long admin audit entries are kept (0: forever)"},
	{"MINIAUTH_ADMIN_REQUIRE_TOTP", "", "1: admins without a second factor (TOTP) cannot sign in"},
	{"MINIAUTH_SQLITE_SYNC", DefaultSQLiteSync, "full (a 200 is on disk) or normal (faster; a power cut may lose the last writes)"},
	{"MINIAUTH_PUBLIC_URL", "", "this server's public base URL, e.g. https://auth.example.com (builds the Official Account callback URL)"},
	{"MINIAUTH_WECHAT_OA_APPS", "", "Official Accounts (公众号) for H5 login: appid:secret,appid:secret"},
	{"MINIAUTH_WECHAT_MOBILE_APPS", "", "open platform mobile apps for app login: appid:secret,appid:secret"},
	{"MINIAUTH_WECHAT_OPEN_BASE", DefaultWeChatOpenBase, "WeChat's authorize page base URL (Official Account H5 login)"},
	{"MINIAUTH_OA_RETURN_URLS", "", "comma-separated URL prefixes an Official Account login may return to"},
	{"MINIAUTH_MP_VERIFY_FILE", "", "path of the MP_verify_*.txt file WeChat asks for (served at /<its name>)"},
}

// Usage is the text of `miniauth --help`.
func Usage() string {
	var b strings.Builder
	b.WriteString(`miniauth: WeChat mini program login backend in one binary.

Usage:
  miniauth [serve]                 run the server
  miniauth admin create --username NAME --password-stdin
  miniauth admin list | passwd --username NAME --password-stdin | delete --username NAME
  miniauth admin create --username NAME --role operator|viewer --password-stdin
  miniauth admin role --username NAME --role operator|viewer
  miniauth admin totp --username NAME [--disable]   enroll (or remove) a second factor
  miniauth dev seed --users N      create N fake users (for trying the admin panel at scale)
  miniauth migrate [--dry-run]     create the database or bring its schema up to date (or print its SQL)
  miniauth backup FILE             consistent online copy of the SQLite database, checked
  miniauth copy --from URL --to URL  move every user, session and admin to another database
  miniauth version                 print the version

Every command reads the variables below, as the server does, and names the
database it acts on in its first line (on stderr). Only serve and migrate
create a database; the other commands stop if it does not exist.

Environment:
`)
	for _, v := range Vars {
		def := v.Default
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(&b, "  %-28s %s [default: %s]\n", v.Name, v.Help, def)
	}
	return b.String()
}

// Production reports whether MINIAUTH_ENV is production.
func (c *Config) Production() bool { return c.Env == "production" }

// Simulated reports whether logins go to the built-in WeChat simulator.
func (c *Config) Simulated() bool { return len(c.WeChatApps) == 0 }

// Load reads the configuration from getenv (os.Getenv in production) and
// validates it. It does not touch the disk; see PrepareDataDir.
func Load(getenv func(string) string) (*Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := &Config{
		Addr:          get("MINIAUTH_ADDR", DefaultAddr),
		DataDir:       get("MINIAUTH_DATA_DIR", DefaultDataDir),
		DatabaseURL:   get("MINIAUTH_DATABASE_URL", ""),
		Env:           get("MINIAUTH_ENV", DefaultEnv),
		WeChatAppID:   get("MINIAUTH_WECHAT_APPID", ""),
		WeChatSecret:  get("MINIAUTH_WECHAT_SECRET", ""),
		WeChatAPIBase: strings.TrimRight(get("MINIAUTH_WECHAT_API_BASE", DefaultWeChatAPIBase), "/"),
		JWTSecret:     getenv("MINIAUTH_JWT_SECRET"),
		MetricsAddr:   get("MINIAUTH_METRICS_ADDR", ""),
		SQLiteSync:    strings.ToLower(get("MINIAUTH_SQLITE_SYNC", DefaultSQLiteSync)),
	}
	var err error
	if c.Env != "development" && c.Env != "production" {
		return nil, fmt.Errorf("MINIAUTH_ENV: must be development or production, not %q", c.Env)
	}
	if c.AccessTTL, err = duration(get, "MINIAUTH_ACCESS_TTL", DefaultAccessTTL); err != nil {
		return nil, err
	}
	if c.RefreshTTL, err = duration(get, "MINIAUTH_REFRESH_TTL", DefaultRefreshTTL); err != nil {
		return nil, err
	}
	if c.WeChatTimeout, err = duration(get, "MINIAUTH_WECHAT_TIMEOUT", DefaultWeChatTimeout); err != nil {
		return nil, err
	}
	if c.WeChatTimeout > DefaultWeChatTimeout {
		return nil, fmt.Errorf("MINIAUTH_WECHAT_TIMEOUT: %s is longer than %s (a login would hang past WeChat's own limits)", c.WeChatTimeout, DefaultWeChatTimeout)
	}
	if c.RefreshTTL < c.AccessTTL {
		return nil, fmt.Errorf("MINIAUTH_REFRESH_TTL: %s is shorter than MINIAUTH_ACCESS_TTL %s", c.RefreshTTL, c.AccessTTL)
	}
	if c.DBMaxOpenConns, err = intAtLeast(get, "MINIAUTH_DB_MAX_OPEN_CONNS", DefaultDBMaxOpenConns, 1, "positive"); err != nil {
		return nil, err
	}
	if c.DBMaxIdleConns, err = intAtLeast(get, "MINIAUTH_DB_MAX_IDLE_CONNS", DefaultDBMaxIdleConns, 1, "positive"); err != nil {
		return nil, err
	}
	if c.LoginRateLimit, err = intAtLeast(get, "MINIAUTH_LOGIN_RATE_LIMIT", DefaultLoginRateLimit, 0, "non-negative"); err != nil {
		return nil, err
	}
	if c.SessionCache, err = intAtLeast(get, "MINIAUTH_SESSION_CACHE", DefaultSessionCache, 0, "non-negative"); err != nil {
		return nil, err
	}
	if c.SQLiteSync != "full" && c.SQLiteSync != "normal" {
		return nil, fmt.Errorf("MINIAUTH_SQLITE_SYNC: must be full or normal, not %q", c.SQLiteSync)
	}
	if err := c.loadPanelSettings(get); err != nil {
		return nil, err
	}
	if err := c.loadGuardSettings(get); err != nil {
		return nil, err
	}
	if err := c.loadDoorSettings(get); err != nil {
		return nil, err
	}
	if c.PProf, err = flag(get, "MINIAUTH_PPROF"); err != nil {
		return nil, err
	}
	if c.PProf && c.MetricsAddr == "" {
		// The profiler is only ever served on the private listener.
		return nil, errors.New("MINIAUTH_PPROF: needs MINIAUTH_METRICS_ADDR (the profiler is served only on the metrics listener)")
	}
	if c.DatabaseURL != "" {
		if _, err := dburl.Parse(c.DatabaseURL); err != nil {
			return nil, fmt.Errorf("MINIAUTH_DATABASE_URL: %w", err)
		}
	}
	if c.TrustedProxies, err = prefixes(get("MINIAUTH_TRUSTED_PROXIES", "")); err != nil {
		return nil, fmt.Errorf("MINIAUTH_TRUSTED_PROXIES: %w", err)
	}
	if !strings.HasPrefix(c.WeChatAPIBase, "http://") && !strings.HasPrefix(c.WeChatAPIBase, "https://") {
		return nil, fmt.Errorf("MINIAUTH_WECHAT_API_BASE: must be an http(s) URL, not %q", c.WeChatAPIBase)
	}
	if s := c.JWTSecret; s != "" && len(s) < 32 {
		return nil, errors.New("MINIAUTH_JWT_SECRET: must be at least 32 characters (or empty to generate one)")
	}
	if c.WeChatApps, err = parseApps(get("MINIAUTH_WECHAT_APPS", ""), c.WeChatAppID, c.WeChatSecret); err != nil {
		return nil, err
	}
	var missing []string
	if len(c.WeChatApps) > 0 {
		return c, nil
	}
	if c.WeChatAppID == "" && c.WeChatSecret != "" || c.Production() && c.WeChatAppID == "" {
		missing = append(missing, "MINIAUTH_WECHAT_APPID")
	}
	if c.WeChatSecret == "" && c.WeChatAppID != "" || c.Production() && c.WeChatSecret == "" {
		missing = append(missing, "MINIAUTH_WECHAT_SECRET")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: required (MINIAUTH_ENV=%s)", strings.Join(missing, ", "), c.Env)
	}
	return c, nil
}

// PrepareDataDir creates the data dir and checks that it is writable.
func (c *Config) PrepareDataDir() error {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("MINIAUTH_DATA_DIR: %v", err)
	}
	probe, err := os.CreateTemp(c.DataDir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("MINIAUTH_DATA_DIR: %s is not writable: %v", c.DataDir, errors.Unwrap(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// SQLitePath is the database file when no MINIAUTH_DATABASE_URL is set.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "miniauth.db") }

func duration(get func(string, string) string, name string, def time.Duration) (time.Duration, error) {
	raw := get(name, "")
	if raw == "" {
		return def, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive duration like 15m or 2h", name, raw)
	}
	return d, nil
}

// flag reads an on/off setting: 1 or true, 0 or false.
func flag(get func(string, string) string, name string) (bool, error) {
	switch raw := strings.ToLower(get(name, "0")); raw {
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	default:
		return false, fmt.Errorf("%s: must be 1 or 0, not %q", name, raw)
	}
}

// intAtLeast reads an integer setting that must be least or more; what
// names that bound in the error ("positive", "non-negative").
func intAtLeast(get func(string, string) string, name string, def, least int, what string) (int, error) {
	raw := get(name, "")
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < least {
		return 0, fmt.Errorf("%s: %q is not a %s integer", name, raw, what)
	}
	return n, nil
}

func prefixes(raw string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if strings.Contains(part, "/") {
			p, err := netip.ParsePrefix(part)
			if err != nil {
				return nil, fmt.Errorf("%q is not an IP or CIDR", part)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP or CIDR", part)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
