package app_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// TestForwardedForAcrossHeaderLines: X-Forwarded-For lines are one list
// in order. A proxy that appends its own line (HAProxy's option
// forwardfor) leaves the client's forged line first; the address is read
// from the right, past trusted proxies, across all the lines.
func TestForwardedForAcrossHeaderLines(t *testing.T) {
	t.Parallel()
	env := startOn(t, sqliteOnly, map[string]string{"MINIAUTH_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"})
	request := func(lines ...string) string {
		raw := "GET /healthz HTTP/1.1\r\nHost: miniauth\r\n"
		for _, l := range lines {
			raw += "X-Forwarded-For: " + l + "\r\n"
		}
		return raw + "\r\n"
	}
	cases := []struct {
		name  string
		lines []string
		want  string
	}{
		{"proxy appended a line", []string{"6.6.6.6", "203.0.113.7"}, "203.0.113.7"},
		{"forged list, then the proxy's line", []string{"6.6.6.6, 7.7.7.7", "203.0.113.8"}, "203.0.113.8"},
		{"trusted hops across lines", []string{"1.1.1.1", "203.0.113.9, 10.0.0.5", "10.0.0.6"}, "203.0.113.9"},
		{"garbage line after the client", []string{"203.0.113.10", "not-an-ip"}, "127.0.0.1"},
	}
	for _, c := range cases {
		r, err := rawExchange(t, addrOf(env), request(c.lines...))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := accessLogIP(t, env, r.Header.Get("X-Request-Id"), "GET", "/healthz", 200); got != c.want {
			t.Errorf("%s: logged ip %q, want %q", c.name, got, c.want)
		}
	}

	// 100 clients at once, each forging the same first line.
	const n = 100
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := rawExchange(t, addrOf(env), request("6.6.6.6", fmt.Sprintf("198.51.100.%d", i+1)))
			if err != nil || r.Status != http.StatusOK {
				t.Errorf("request %d: %v %v", i, err, r)
				return
			}
			ids[i] = r.Header.Get("X-Request-Id")
		})
	}
	wg.Wait()
	for i, id := range ids {
		if id == "" {
			continue
		}
		if got, want := accessLogIP(t, env, id, "GET", "/healthz", 200), fmt.Sprintf("198.51.100.%d", i+1); got != want {
			t.Errorf("request %d: logged ip %q, want %q", i, got, want)
		}
	}
}
