package profiles

import "testing"

func TestDeviceName(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x18003237) NetType/WIFI Language/zh_CN": "WeChat 8.0.50 on iPhone",
		"Mozilla/5.0 (Linux; Android 13; V2218A) AppleWebKit/537.36 Mobile Safari/537.36 MicroMessenger/8.0.49.2600(0x28003133) NetType/4G":                                           "WeChat 8.0.49 on Android",
		"Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) MicroMessenger/8.0.40":                                                                                                         "WeChat 8.0.40 on iPad",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) wechatdevtools/1.06.2310080 MicroMessenger/8.0.5":                                                                                  "WeChat DevTools on Windows",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Safari/605.1.15":                                                                                        "Browser on Mac",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36":                                                               "Chrome on Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0":                                               "Edge on Windows",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:133.0) Gecko/20100101 Firefox/133.0":                                                                                         "Firefox on Mac",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15":                                                       "Safari on Mac",
		"curl/8.5.0":                          "curl",
		"node":                                "node",
		"":                                    "Unknown device",
		"/":                                   "Unknown device",
		"x" + string(make([]byte, 40)) + "/1": "Unknown device",
	} {
		if got := DeviceName(ua); got != want {
			t.Errorf("DeviceName(%q) = %q, want %q", ua, got, want)
		}
	}
}
