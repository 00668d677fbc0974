package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Web sign-in (app/weblogin) defaults.
const (
	DefaultQRPage = "pages/index/index"
	DefaultQREnv  = "release"
	// DefaultQRTTL is how long a browser's sign-in code can be scanned
	// and confirmed.
	DefaultQRTTL = 2 * time.Minute
	// DefaultQRRateLimit is sign-in codes per client IP per minute. Each
	// costs a getwxacodeunlimit call (5,000 a minute for the whole mini
	// program); a person needs one every two minutes at most.
	DefaultQRRateLimit = 60
)

// WebLogin are the settings of web sign-in by scanning a mini program code.
type WebLogin struct {
	Page      string        // MINIAUTH_QR_PAGE: the page the code opens
	Env       string        // MINIAUTH_QR_ENV: release, trial or develop
	TTL       time.Duration // MINIAUTH_QR_TTL
	RateLimit int           // MINIAUTH_QR_RATE_LIMIT, per IP per minute; 0: off
}

func init() {
	Vars = append(Vars,
		Var{"MINIAUTH_QR_PAGE", DefaultQRPage, "web sign-in: the mini program page a sign-in code opens (no leading /); it reads the ticket from query.scene"},
		Var{"MINIAUTH_QR_ENV", DefaultQREnv, "web sign-in: the version the code opens: release, trial or develop"},
		Var{"MINIAUTH_QR_TTL", DefaultQRTTL.String(), "web sign-in: how long a sign-in code can be scanned and confirmed (10s to 10m)"},
		Var{"MINIAUTH_QR_RATE_LIMIT", strconv.Itoa(DefaultQRRateLimit), "web sign-in: sign-in codes per client IP per minute (0: no limit)"},
	)
}

// loadWebLogin reads the web sign-in settings.
func (c *Config) loadWebLogin(get func(string, string) string) error {
	w := WebLogin{Page: get("MINIAUTH_QR_PAGE", DefaultQRPage), Env: strings.ToLower(get("MINIAUTH_QR_ENV", DefaultQREnv))}
	if err := checkPage(w.Page); err != nil {
		return fmt.Errorf("MINIAUTH_QR_PAGE: %q %v", w.Page, err)
	}
	switch w.Env {
	case "release", "trial", "develop":
	default:
		return fmt.Errorf("MINIAUTH_QR_ENV: must be release, trial or develop, not %q", w.Env)
	}
	var err error
	if w.TTL, err = duration(get, "MINIAUTH_QR_TTL", DefaultQRTTL); err != nil {
		return err
	}
	if w.TTL < 10*time.Second || w.TTL > 10*time.Minute {
		return fmt.Errorf("MINIAUTH_QR_TTL: %s is outside 10s to 10m", w.TTL)
	}
	if w.RateLimit, err = intAtLeast(get, "MINIAUTH_QR_RATE_LIMIT", DefaultQRRateLimit, 0, "non-negative"); err != nil {
		return err
	}
	c.WebLogin = w
	return nil
}

// checkPage holds a page path to WeChat's rule: no leading slash, no
// query string, path characters only.
func checkPage(p string) error {
	switch {
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("must not start with /")
	case len(p) > 128:
		return fmt.Errorf("is too long")
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/_-.", r)) {
			return fmt.Errorf("must be a page path like pages/index/index (no query string)")
		}
	}
	return nil
}
