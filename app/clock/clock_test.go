package clock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/clock"
)

func TestZeroClockIsSystemTimeInUTC(t *testing.T) {
	var c clock.Clock
	before := time.Now()
	got := c.Now()
	if got.Location() != time.UTC || got.Before(before.Add(-time.Second)) || got.After(time.Now().Add(time.Second)) {
		t.Fatalf("zero clock says %v", got)
	}
}

func TestClockAnswersInUTC(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	at := time.Date(2026, 1, 2, 8, 0, 0, 0, shanghai)
	got := clock.Clock(func() time.Time { return at }).Now()
	if got.Location() != time.UTC || !got.Equal(at) {
		t.Fatalf("got %v, want %v in UTC", got, at)
	}
}

func TestManualMovesOnlyWhenTold(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := clock.NewManual(start)
	c := clock.Clock(m.Now)
	if !c.Now().Equal(start) {
		t.Fatalf("got %v", c.Now())
	}
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() { defer wg.Done(); m.Advance(time.Second); _ = c.Now() }()
	}
	wg.Wait()
	if want := start.Add(100 * time.Second); !c.Now().Equal(want) {
		t.Fatalf("after 100 concurrent seconds: %v, want %v", c.Now(), want)
	}
}

func TestShiftedRunsWithTheSystemClock(t *testing.T) {
	var s clock.Shifted
	s.Shift(-time.Hour)
	s.Shift(3 * time.Hour)
	got := s.Now().Sub(time.Now())
	if got < 2*time.Hour-time.Second || got > 2*time.Hour {
		t.Fatalf("shifted by %v, want 2h", got)
	}
}
