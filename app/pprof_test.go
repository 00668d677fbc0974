package app_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
)

// Go's profiler is served only when asked for (MINIAUTH_PPROF=1), only on
// the metrics listener, never on the public one.
func TestPProfOnlyWhenAskedFor(t *testing.T) {
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "default", true: "MINIAUTH_PPROF=1"}[on]
		t.Run(name, func(t *testing.T) {
			addr := freeLoopbackAddr(t)
			vars := map[string]string{"MINIAUTH_METRICS_ADDR": addr}
			if on {
				vars["MINIAUTH_PPROF"] = "1"
			}
			env := apptest.Start(t, apptest.Options{Env: vars})
			waitListening(t, addr)
			if status, _ := getPrivate(t, "http://"+addr+"/metrics"); status != http.StatusOK {
				t.Fatalf("/metrics answered %d", status)
			}
			for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap?debug=1", "/debug/pprof/goroutine?debug=1"} {
				status, body := getPrivate(t, "http://"+addr+path)
				switch {
				case on && (status != http.StatusOK || !strings.Contains(body, "goroutine") && !strings.Contains(body, "heap profile")):
					t.Errorf("%s on the metrics listener with pprof on: %d %.100q", path, status, body)
				case !on && status != http.StatusNotFound:
					t.Errorf("%s on the metrics listener with pprof off: %d, want 404", path, status)
				}
				if r := env.Do(t, apptest.Request{Method: "GET", Path: path}); r.Status != http.StatusNotFound {
					t.Errorf("%s on the public listener: %d, want 404", path, r.Status)
				}
			}
		})
	}
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitListening waits for the metrics listener, which Serve opens after
// the public one that apptest.Start waits for.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	apptest.Eventually(t, 10*time.Second, "something listening on "+addr, func() (bool, string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
}

func getPrivate(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
