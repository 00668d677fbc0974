package profiles

import (
	"regexp"
	"strings"
)

var (
	wechatVersion = regexp.MustCompile(`MicroMessenger/(\d+(?:\.\d+){0,2})`)
	devtools      = regexp.MustCompile(`(?i)wechatdevtools`)
)

// DeviceName describes a session's device for its user from the user
// agent, e.g. "WeChat 8.0.50 on iPhone". Unknown agents get their first
// product name; an empty one "Unknown device". Never the raw header: it
// can be long and is not for display.
func DeviceName(ua string) string {
	if ua == "" {
		return "Unknown device"
	}
	client := ""
	switch {
	case devtools.MatchString(ua):
		client = "WeChat DevTools"
	case wechatVersion.MatchString(ua):
		client = "WeChat " + wechatVersion.FindStringSubmatch(ua)[1]
	default:
		client = browserName(ua) // a web sign-in's browser
	}
	platform := ""
	for _, p := range []struct{ marker, name string }{
		{"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Android", "Android"}, {"HarmonyOS", "HarmonyOS"},
		{"Windows", "Windows"}, {"Macintosh", "Mac"}, {"Mac OS X", "Mac"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, p.marker) {
			platform = p.name
			break
		}
	}
	switch {
	case client != "" && platform != "":
		return client + " on " + platform
	case client != "":
		return client
	case platform != "":
		return "Browser on " + platform
	}
	name, _, _ := strings.Cut(ua, "/")
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 32 {
		return "Unknown device"
	}
	return name
}

// browserName is the browser of a desktop or mobile web user agent, or
// "". Order matters: Edge and Chrome also say Safari, Edge also Chrome.
func browserName(ua string) string {
	switch {
	case strings.Contains(ua, "Edg/"):
		return "Edge"
	case strings.Contains(ua, "Firefox/"):
		return "Firefox"
	case strings.Contains(ua, "Chrome/") || strings.Contains(ua, "Chromium/"):
		return "Chrome"
	case strings.Contains(ua, "Safari/") && strings.Contains(ua, "Version/"):
		return "Safari"
	}
	return ""
}
