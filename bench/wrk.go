package main

import (
	"bytes"
	"embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"
)

//go:embed lua/*.lua
var scripts embed.FS

// writeScripts puts each script, prefixed with common.lua, in dir.
func writeScripts(dir string) error {
	common, err := scripts.ReadFile("lua/common.lua")
	if err != nil {
		return err
	}
	for _, name := range []string{"get", "put", "login", "refresh", "plain"} {
		body, err := scripts.ReadFile("lua/" + name + ".lua")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name+".lua"), append(append(slices.Clone(common), '\n'), body...), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// wrkRun is one wrk invocation's summary.
type wrkRun struct {
	requests     int
	duration     time.Duration
	p50, p99     time.Duration
	p999         time.Duration
	statusErrors int
	socketErrors int
}

var benchLine = regexp.MustCompile(`BENCH requests=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+) p999_us=(\d+) status_errors=(\d+) socket_errors=(\d+)`)

// runWrk drives url with script for d.
func runWrk(o options, script, url string, d time.Duration, env []string) (*wrkRun, error) {
	cmd := exec.Command("wrk", "-t", strconv.Itoa(o.threads), "-c", strconv.Itoa(o.concurrency),
		"-d", fmt.Sprintf("%ds", max(1, int(d.Round(time.Second).Seconds()))), "--timeout", "10s", "-s", script, url)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("wrk %s: %v\n%s%s", url, err, out.String(), errb.String())
	}
	m := benchLine.FindStringSubmatch(out.String())
	if m == nil {
		return nil, fmt.Errorf("wrk %s: no summary in its output:\n%s%s", url, out.String(), errb.String())
	}
	n := make([]int, len(m)-1)
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	us := func(v int) time.Duration { return time.Duration(v) * time.Microsecond }
	return &wrkRun{requests: n[0], duration: us(n[1]), p50: us(n[2]), p99: us(n[3]), p999: us(n[4]),
		statusErrors: n[5], socketErrors: n[6]}, nil
}

// result is one case over every round.
type result struct {
	name    string
	runs    []*wrkRun
	rss     int64 // server RSS after the case's last round, KiB
	skipped string
	// cpu is the server's CPU time (user + system) over the case's
	// rounds: divided by the requests, a cost that a busy neighbour on
	// the machine disturbs far less than requests/s.
	cpu time.Duration
}

// cpuPerRequest is the server's CPU time per answered request, 0 when
// not measured.
func (r *result) cpuPerRequest() time.Duration {
	var n int
	for _, x := range r.runs {
		n += x.requests
	}
	if n == 0 || r.cpu == 0 {
		return 0
	}
	return r.cpu / time.Duration(n)
}

func (r *result) rps() float64 {
	var n int
	var d time.Duration
	for _, x := range r.runs {
		n += x.requests - x.statusErrors
		d += x.duration
	}
	if d == 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// pct is the median over the rounds of one percentile (wrk reports
// percentiles per run; they cannot be merged exactly).
func (r *result) pct(f func(*wrkRun) time.Duration) time.Duration {
	var v []time.Duration
	for _, x := range r.runs {
		v = append(v, f(x))
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func (r *result) errors() int {
	n := 0
	for _, x := range r.runs {
		n += x.statusErrors + x.socketErrors
	}
	return n
}
