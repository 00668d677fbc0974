package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
)

// The admin sign-in throttle is one budget for the whole service: 100
// wrong passwords and the right one for one username, sent at once to
// two instances sharing PostgreSQL, get at most 5 passwords checked (the
// right one only if it is among them), and 429 for the rest.
func TestClusterAdminGuessesThrottledAcrossInstances(t *testing.T) {
	c := startCluster(t, "MINIAUTH_TRUSTED_PROXIES", "127.0.0.1/32")
	const password = "correct horse battery staple"
	create := exec.Command(apptest.Binary(t), "admin", "create", "--username", "ops", "--password-stdin")
	create.Env = append(os.Environ(), "MINIAUTH_DATABASE_URL="+c.dbURL, "MINIAUTH_DATA_DIR="+t.TempDir())
	create.Stdin = strings.NewReader(password + "\n")
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("admin create: %v\n%s", err, out)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	statuses := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i <= 100; i++ {
		pass := fmt.Sprintf("wrong guess number %d", i)
		if i == 50 {
			pass = password
		}
		base := c.a.URL
		if i%2 == 1 {
			base = c.b.URL
		}
		wg.Add(1)
		go func(base, ip, pass string) {
			defer wg.Done()
			req, _ := http.NewRequest("POST", base+"/admin/login", strings.NewReader(url.Values{"username": {"ops"}, "password": {pass}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", ip)
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		}(base, fmt.Sprintf("198.51.100.%d", i), pass)
	}
	wg.Wait()
	checked := statuses[http.StatusUnauthorized]
	if checked == 0 || checked > 5 || statuses[http.StatusSeeOther] > 1 ||
		checked+statuses[http.StatusSeeOther]+statuses[http.StatusTooManyRequests] != 101 {
		t.Fatalf("101 concurrent sign-ins on two instances: %v; want at most 5 × 401, at most one 303, the rest 429", statuses)
	}
}
