// Command importbench measures `miniauth import` of a LeanCloud export:
// it writes an export of -users users (the tests' generator: Chinese and
// emoji nicknames, phones, unionids, duplicates, broken lines), builds the
// miniauth binary, and imports the file into a new SQLite database (or
// -database), reporting the wall time, the process's peak resident memory
// (the kernel's maxrss) and the load average, since the machine may be
// shared.
//
//	go run ./bench/importbench                   # 1,000,000 users, SQLite
//	go run ./bench/importbench -users 100000 -database postgres://…
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/miniauth/miniauth/app/importer/importtest"
)

const appID = "wxbench00000000000"

func main() {
	users := flag.Int("users", 1_000_000, "users in the export")
	database := flag.String("database", "", "MINIAUTH_DATABASE_URL (default: SQLite in a temp dir)")
	binary := flag.String("binary", "", "miniauth binary (default: build it)")
	keep := flag.Bool("keep", false, "keep the temp dir (export and database)")
	flag.Parse()
	if err := run(*users, *database, *binary, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "importbench:", err)
		os.Exit(1)
	}
}

func run(users int, database, binary string, keep bool) error {
	dir, err := os.MkdirTemp("", "importbench-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("temp dir:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if binary == "" {
		binary = filepath.Join(dir, "miniauth")
		cmd := exec.Command("go", "build", "-o", binary, ".")
		cmd.Dir = moduleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	file := filepath.Join(dir, "_User.0.jsonl")
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	start := time.Now()
	e, err := importtest.LeanCloud(f, users, false)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	st, _ := os.Stat(file)
	fmt.Printf("export: %d entries, %.0f MiB, written in %s\n", e.Records, float64(st.Size())/(1<<20), time.Since(start).Round(time.Millisecond))

	cmd := exec.Command(binary, "import", "--from", "leancloud", file, "--disabled-field", importtest.DisabledField)
	cmd.Env = append(cleanEnv(), "MINIAUTH_DATA_DIR="+filepath.Join(dir, "data"), "MINIAUTH_DATABASE_URL="+database,
		"MINIAUTH_WECHAT_APPID="+appID, "MINIAUTH_WECHAT_SECRET=bench-secret")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	loadBefore := loadAvg()
	start = time.Now()
	err = cmd.Run()
	took := time.Since(start)
	loadAfter := loadAvg()
	if err != nil {
		return fmt.Errorf("import: %v\n%s%s", err, out.String(), errOut.String())
	}
	last := strings.TrimSpace(out.String())
	last = last[strings.LastIndex(last, "\n")+1:]
	if last != e.Summary() {
		return fmt.Errorf("import said %q, want %q", last, e.Summary())
	}
	var maxRSS int64
	var cpu time.Duration
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		maxRSS = ru.Maxrss // KiB on Linux
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	rate := float64(e.Records) / took.Seconds()
	fmt.Printf("import: %s in %s (%.0f entries/s), CPU time %s, peak RSS %.0f MiB\n", last, took.Round(100*time.Millisecond), rate,
		cpu.Round(100*time.Millisecond), float64(maxRSS)/1024)
	fmt.Printf("machine: %d CPUs (%s), load average before %s, after %s\n", runtime.NumCPU(), cpuModel(), loadBefore, loadAfter)
	return nil
}

// cleanEnv is this process's environment without MINIAUTH_ settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIAUTH_") {
			env = append(env, kv)
		}
	}
	return env
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if _, v, ok := strings.Cut(l, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
