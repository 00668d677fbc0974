package database

import (
	"log/slog"
	"time"
)

// progressEvery is how often a long migration step logs how far it is.
const progressEvery = 2 * time.Second

// progress logs a long step's advance: rows done of the total, the rate
// so far and an estimate of the time left, at most once per every.
type progress struct {
	log   *slog.Logger
	step  string
	total int
	every time.Duration

	start, last time.Time
	done        int
}

func newProgress(log *slog.Logger, step string, total int, every time.Duration) *progress {
	now := time.Now()
	log.Info("migrating: "+step, "rows", total)
	return &progress{log: log, step: step, total: total, every: every, start: now, last: now}
}

// add counts n more rows done and logs the advance when it is time.
func (p *progress) add(n int) {
	p.done += n
	now := time.Now()
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	elapsed := now.Sub(p.start)
	rate := float64(p.done) / max(elapsed.Seconds(), 1e-3)
	args := []any{"done", p.done, "total", p.total, "rows_per_s", int(rate)}
	if rate > 0 && p.total > p.done {
		args = append(args, "eta", (time.Duration(float64(p.total-p.done) / rate * float64(time.Second))).Round(time.Second).String())
	}
	p.log.Info("migrating: "+p.step, args...)
}

// finish logs the step's end.
func (p *progress) finish() {
	p.log.Info("migrated: "+p.step, "rows", p.done, "took", time.Since(p.start).Round(time.Millisecond).String())
}
