// Command bench measures miniauth's throughput on loopback.
//
// It builds and starts the real miniauth binary against a simulated WeChat
// (in this process, on an httptest.Server), and, as the baseline, a bare
// Fiber server that checks the same JWT with contrib/jwt and does no
// database work. Both are separate processes measured by the same load
// generator in the same run, so the ratios between them hold on any
// machine. Every phase is bounded by -duration.
//
//	go run ./bench                      # SQLite, default settings
//	go run ./bench -duration 10s -concurrency 64
//	go run ./bench -database postgres://user@127.0.0.1/db -instances 2
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

type options struct {
	duration    time.Duration
	rounds      int
	concurrency int
	users       int
	database    string
	instances   int
	binary      string
	sync        string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "baseline-server" {
		runBaselineServer(os.Args[2:])
		return
	}
	var o options
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured time per endpoint, split over -rounds")
	flag.IntVar(&o.rounds, "rounds", 5, "interleaved rounds: each measures every endpoint for duration/rounds, so a noisy neighbour hits all of them alike")
	flag.IntVar(&o.concurrency, "concurrency", 32, "concurrent connections")
	flag.IntVar(&o.users, "users", 1000, "users logged in before GET /api/me is measured")
	flag.StringVar(&o.database, "database", "", "MINIAUTH_DATABASE_URL for miniauth (default: SQLite in a temp dir)")
	flag.IntVar(&o.instances, "instances", 1, "miniauth processes sharing the database (needs -database postgres://… for more than 1)")
	flag.StringVar(&o.binary, "binary", "", "miniauth binary to run (default: build it)")
	flag.StringVar(&o.sync, "sqlite-sync", "full", "MINIAUTH_SQLITE_SYNC for SQLite runs")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.instances > 1 && !strings.HasPrefix(o.database, "postgres") {
		return fmt.Errorf("-instances %d needs -database postgres://…: SQLite is one process's file", o.instances)
	}
	tmp, err := os.MkdirTemp("", "miniauth-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if o.binary == "" {
		o.binary = filepath.Join(tmp, "miniauth")
		fmt.Fprintln(os.Stderr, "building miniauth…")
		build := exec.Command("go", "build", "-o", o.binary, ".")
		build.Dir = moduleRoot()
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build miniauth: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	wx := startWeChat()
	defer wx.Close()

	secret := strings.Repeat("b", 40)
	base, err := startBaseline(ctx, secret)
	if err != nil {
		return err
	}
	defer base.Stop()

	var servers []*process
	for i := 0; i < o.instances; i++ {
		p, err := startMiniauth(ctx, o, filepath.Join(tmp, fmt.Sprintf("data%d", i)), wx.URL, secret)
		if err != nil {
			return err
		}
		defer p.Stop()
		servers = append(servers, p)
	}
	urls := make([]string, len(servers))
	for i, s := range servers {
		urls[i] = s.URL
	}

	fmt.Printf("machine: %d CPUs (%s/%s), %s; concurrency %d, %s per endpoint in %d interleaved rounds, %d miniauth instance(s), database %s\n\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, cpuModel(), o.concurrency, o.duration, o.rounds, o.instances, dbName(o))

	fmt.Fprintln(os.Stderr, "logging in", o.users, "users…")
	tokens, openids, err := prepareUsers(urls, wx, o.users)
	if err != nil {
		return err
	}
	baseToken, err := signBaselineToken(secret)
	if err != nil {
		return err
	}

	phases := []struct {
		name string
		fn   requestFunc
	}{
		{"baseline: bare Fiber + contrib/jwt", getWithToken([]string{base.URL}, []string{baseToken}, "/")},
		{"GET /api/me", getWithToken(urls, tokens, "/api/me")},
		{"POST /api/auth/login (half new, half returning)", loginRequests(urls, wx, openids)},
	}
	results := make([]*result, len(phases))
	slice := o.duration / time.Duration(max(1, o.rounds))
	for round := 1; round <= max(1, o.rounds); round++ {
		fmt.Fprintf(os.Stderr, "round %d/%d: %s per endpoint…\n", round, o.rounds, slice)
		for i, ph := range phases {
			r := load(ph.name, o.concurrency, slice, ph.fn)
			if results[i] == nil {
				results[i] = r
			} else {
				results[i].merge(r)
			}
		}
	}
	fmt.Println()
	printTable(results, results[0])
	return nil
}

func dbName(o options) string {
	if o.database == "" {
		return "SQLite (synchronous=" + o.sync + ")"
	}
	return "PostgreSQL"
}

func moduleRoot() string {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "."
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			if i := strings.Index(line, ":"); i >= 0 {
				return strings.TrimSpace(line[i+1:])
			}
		}
	}
	return "unknown CPU"
}
