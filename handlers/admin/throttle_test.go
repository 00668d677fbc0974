package admin_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
)

// signInFrom posts the sign-in form as the client at ip (the server
// trusts loopback as a proxy in these tests).
func (p *panel) signInFrom(t testing.TB, ip, user, pass string) *apptest.Response {
	return p.Do(t, apptest.Request{Method: "POST", Path: "/admin/login", NoType: true,
		Body:   url.Values{"username": {user}, "password": {pass}}.Encode(),
		Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": ip}})
}

// trustLoopback makes X-Forwarded-For stand for other client addresses.
var trustLoopback = map[string]string{"MINIAUTH_TRUSTED_PROXIES": "127.0.0.1/32,::1/128"}

// guessFlood sends the right password and 100 wrong ones at once, each
// from the address ip(i), and counts the answers by status.
func guessFlood(t *testing.T, envs []*apptest.Env, ip func(i int) string, user func(i int) string, right int) map[int]int {
	t.Helper()
	statuses := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i <= 100; i++ {
		pass := fmt.Sprintf("wrong guess number %d", i)
		if i == right {
			pass = adminPassword
		}
		wg.Add(1)
		go func(i int, env *apptest.Env) {
			defer wg.Done()
			r := env.Do(t, apptest.Request{Method: "POST", Path: "/admin/login", NoType: true,
				Body:   url.Values{"username": {user(i)}, "password": {pass}}.Encode(),
				Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": ip(i)}})
			mu.Lock()
			statuses[r.Status]++
			mu.Unlock()
		}(i, envs[i%len(envs)])
	}
	wg.Wait()
	return statuses
}

// checkFlood fails unless at most limit wrong guesses (plus the right
// one) were checked and every other attempt got 429.
func checkFlood(t *testing.T, statuses map[int]int, limit int) {
	t.Helper()
	checked := statuses[http.StatusUnauthorized]
	if checked > limit || checked == 0 || statuses[http.StatusSeeOther] > 1 ||
		checked+statuses[http.StatusSeeOther]+statuses[http.StatusTooManyRequests] != 101 {
		t.Fatalf("101 concurrent sign-ins: %v; want at most %d × 401, at most one 303, the rest 429", statuses, limit)
	}
}

// Guesses sent all at once are throttled like guesses sent in turn: of
// 100 wrong passwords and the right one for one username, at most 5 are
// checked (the right one succeeds only if it is among them); of 100
// guesses on different names from one address, at most 20.
func TestConcurrentGuessesThrottled(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t), Env: trustLoopback})
		envs := []*apptest.Env{p.Env}
		statuses := guessFlood(t, envs, func(i int) string { return fmt.Sprintf("198.51.100.%d", i) },
			func(int) string { return adminName }, 50)
		checkFlood(t, statuses, 5)
		// Unless the right password was among the few checked (a sign-in
		// resets the admin's failures), the name stays locked.
		if r := p.signInFrom(t, "203.0.113.1", adminName, adminPassword); r.Status != http.StatusTooManyRequests &&
			(statuses[http.StatusSeeOther] == 0 || r.Status != http.StatusSeeOther) {
			t.Fatalf("after the flood (%v), the right password got %d, want 429 until the window ends", statuses, r.Status)
		}

		statuses = guessFlood(t, envs, func(int) string { return "192.0.2.77" },
			func(i int) string { return fmt.Sprintf("someone-%d", i) }, -1)
		checkFlood(t, statuses, 20)
		if r := p.signInFrom(t, "192.0.2.78", "someone-else", "wrong password again"); r.Status != http.StatusUnauthorized {
			t.Fatalf("another address was throttled: %d", r.Status)
		}
	})
}

// An IPv6 client is its /64: 100 guesses on different names, each from
// another address of one /64, are throttled like guesses from one
// address; another /64 is not.
func TestIPv6SlashSixtyFourIsOneClient(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		p := startPanel(t, apptest.Options{DatabaseURL: b.URL(t), Env: trustLoopback})
		statuses := guessFlood(t, []*apptest.Env{p.Env}, func(i int) string { return fmt.Sprintf("2001:db8:1:2:%x::%x", i, i+1) },
			func(i int) string { return fmt.Sprintf("someone-%d", i) }, -1)
		checkFlood(t, statuses, 20)
		if r := p.signInFrom(t, "2001:db8:1:2:ffff:ffff:ffff:fffe", "someone-else", "wrong"); r.Status != http.StatusTooManyRequests {
			t.Fatalf("another address of the same /64: %d, want 429", r.Status)
		}
		if r := p.signInFrom(t, "2001:db8:1:3::1", "someone-else", "wrong"); r.Status != http.StatusUnauthorized {
			t.Fatalf("an address of another /64 was throttled: %d", r.Status)
		}
	})
}
