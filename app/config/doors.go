package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// DefaultWeChatOpenBase is where WeChat's web authorization page lives.
const DefaultWeChatOpenBase = "https://open.weixin.qq.com"

// Doors configures the WeChat doors besides mini programs: an Official
// Account's (公众号) H5 pages and open platform mobile apps.
type Doors struct {
	OAApps     []WeChatApp // MINIAUTH_WECHAT_OA_APPS
	MobileApps []WeChatApp // MINIAUTH_WECHAT_MOBILE_APPS
	// OpenBase is WeChat's authorize page root; "" with the simulator
	// and no MINIAUTH_WECHAT_OPEN_BASE: the server's own simulated page.
	OpenBase string
	// PublicURL is this server's public root, without a trailing slash;
	// "" when not set.
	PublicURL string
	// ReturnURLs are the prefixes an Official Account login may return to.
	ReturnURLs []*url.URL
	// MPVerifyFile is the MP_verify_*.txt file to serve, if any.
	MPVerifyFile string
}

func (c *Config) loadDoorSettings(get func(string, string) string) error {
	d := &c.Doors
	var err error
	if raw := get("MINIAUTH_WECHAT_OA_APPS", ""); raw != "" {
		if d.OAApps, err = parseAppList("MINIAUTH_WECHAT_OA_APPS", raw); err != nil {
			return err
		}
	}
	if raw := get("MINIAUTH_WECHAT_MOBILE_APPS", ""); raw != "" {
		if d.MobileApps, err = parseAppList("MINIAUTH_WECHAT_MOBILE_APPS", raw); err != nil {
			return err
		}
	}
	d.OpenBase = strings.TrimRight(get("MINIAUTH_WECHAT_OPEN_BASE", ""), "/")
	if d.OpenBase != "" {
		if _, err := baseURL(d.OpenBase); err != nil {
			return fmt.Errorf("MINIAUTH_WECHAT_OPEN_BASE: %w", err)
		}
	}
	if raw := get("MINIAUTH_PUBLIC_URL", ""); raw != "" {
		u, err := baseURL(strings.TrimRight(raw, "/"))
		if err != nil {
			return fmt.Errorf("MINIAUTH_PUBLIC_URL: %w", err)
		}
		d.PublicURL = u.String()
	}
	if raw := get("MINIAUTH_OA_RETURN_URLS", ""); raw != "" {
		for _, p := range strings.Split(raw, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			u, err := baseURL(p)
			if err != nil {
				return fmt.Errorf("MINIAUTH_OA_RETURN_URLS: %q: %w", p, err)
			}
			d.ReturnURLs = append(d.ReturnURLs, u)
		}
	}
	d.MPVerifyFile = get("MINIAUTH_MP_VERIFY_FILE", "")
	if len(d.OAApps) > 0 {
		var missing []string
		if d.PublicURL == "" {
			missing = append(missing, "MINIAUTH_PUBLIC_URL")
		}
		if len(d.ReturnURLs) == 0 {
			missing = append(missing, "MINIAUTH_OA_RETURN_URLS")
		}
		if len(missing) > 0 {
			return fmt.Errorf("%s: required with MINIAUTH_WECHAT_OA_APPS (the callback URL and where a login may return)", strings.Join(missing, ", "))
		}
	}
	return nil
}

// baseURL parses an absolute http(s) URL without query, fragment or
// credentials.
func baseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("must start with https:// (or http://), not %q", raw)
	case u.Host == "":
		return nil, fmt.Errorf("has no host: %q", raw)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, fmt.Errorf("must not carry credentials, a query or a fragment: %q", raw)
	}
	return u, nil
}
