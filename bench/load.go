package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/miniauth/miniauth/app/wechatsim"
)

// requestFunc sends the i-th request of a phase and reports success.
type requestFunc func(client *http.Client, i int) error

type result struct {
	name     string
	ok, fail int
	elapsed  time.Duration
	lat      []time.Duration
	firstErr error
}

// merge adds another round's measurements.
func (r *result) merge(o *result) {
	r.ok += o.ok
	r.fail += o.fail
	r.elapsed += o.elapsed
	r.lat = append(r.lat, o.lat...)
	slices.Sort(r.lat)
	if r.firstErr == nil {
		r.firstErr = o.firstErr
	}
}

func (r *result) rps() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r *result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(float64(len(r.lat))*p))]
}

// load runs fn from c workers for d and collects latencies.
func load(name string, c int, d time.Duration, fn requestFunc) *result {
	tr := &http.Transport{MaxIdleConnsPerHost: c * 2, MaxConnsPerHost: c * 2, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	var counter atomic.Int64
	var mu sync.Mutex
	res := &result{name: name}
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			ok, fail := 0, 0
			var firstErr error
			for time.Now().Before(deadline) {
				i := int(counter.Add(1))
				t0 := time.Now()
				err := fn(client, i)
				if err != nil {
					fail++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				ok++
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.ok += ok
			res.fail += fail
			res.lat = append(res.lat, lat...)
			if res.firstErr == nil {
				res.firstErr = firstErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.lat)
	return res
}

func printTable(results []*result, baseline *result) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "endpoint\trequests/s\tp50\tp99\tvs baseline\terrors\t")
	for _, r := range results {
		fmt.Fprintf(w, "%s\t%.0f\t%s\t%s\t%.1f%%\t%d\t\n", r.name, r.rps(),
			r.pct(0.50).Round(10*time.Microsecond), r.pct(0.99).Round(10*time.Microsecond),
			100*r.rps()/baseline.rps(), r.fail)
	}
	w.Flush()
	for _, r := range results {
		if r.firstErr != nil {
			fmt.Printf("first error in %q: %v\n", r.name, r.firstErr)
		}
	}
}

func expect(resp *http.Response, err error, status int) error {
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

func getWithToken(urls, tokens []string, path string) requestFunc {
	return func(client *http.Client, i int) error {
		req, _ := http.NewRequest("GET", urls[i%len(urls)]+path, nil)
		req.Header.Set("Authorization", "Bearer "+tokens[i%len(tokens)])
		return expectOK(client.Do(req))
	}
}

func postLogin(client *http.Client, url, code string) (*http.Response, error) {
	body, _ := json.Marshal(map[string]string{"code": code})
	return client.Post(url+"/api/auth/login", "application/json", bytes.NewReader(body))
}

// loginRequests alternates new users and returning ones, each with a
// fresh single-use code from the simulated WeChat.
func loginRequests(urls []string, wx *wechat, returning []string) requestFunc {
	var fresh atomic.Int64
	return func(client *http.Client, i int) error {
		openid := returning[i%len(returning)]
		if i%2 == 0 {
			openid = "bench_new_" + strconv.FormatInt(fresh.Add(1), 10)
		}
		code := wx.Sim.NewCode(wechatsim.Identity{OpenID: openid})
		return expectOK(postLogin(client, urls[i%len(urls)], code))
	}
}

// prepareUsers logs n users in and returns their access tokens and openids.
func prepareUsers(urls []string, wx *wechat, n int) ([]string, []string, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	tokens := make([]string, n)
	openids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			openids[i] = "bench_user_" + strconv.Itoa(i)
			code := wx.Sim.NewCode(wechatsim.Identity{OpenID: openids[i]})
			resp, err := postLogin(client, urls[i%len(urls)], code)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			var g struct {
				AccessToken string `json:"access_token"`
			}
			if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&g) != nil {
				errs <- fmt.Errorf("login %d: status %d", i, resp.StatusCode)
				return
			}
			tokens[i] = g.AccessToken
		}(i)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, nil, err
	}
	return tokens, openids, nil
}

func expectOK(resp *http.Response, err error) error { return expect(resp, err, 200) }
