package quietlog_test

import (
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/quietlog"
)

func TestOneLinePerKeyPerWindow(t *testing.T) {
	c := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := quietlog.New(10*time.Second, c.Now)
	if w, n := l.Allow("full"); !w || n != 0 {
		t.Fatalf("first event: write %v suppressed %d, want a line", w, n)
	}
	for i := 0; i < 5; i++ {
		if w, _ := l.Allow("full"); w {
			t.Fatalf("event %d within the window was written", i+2)
		}
	}
	// Another key has its own window.
	if w, _ := l.Allow("readonly"); !w {
		t.Fatal("a different key was suppressed")
	}
	c.Advance(9 * time.Second)
	if w, _ := l.Allow("full"); w {
		t.Fatal("written before the window ended")
	}
	c.Advance(time.Second)
	if w, n := l.Allow("full"); !w || n != 6 {
		t.Fatalf("after the window: write %v suppressed %d, want a line counting 6", w, n)
	}
	if w, _ := l.Allow("full"); w {
		t.Fatal("the window did not start again")
	}
	if n := l.Take("full"); n != 1 {
		t.Fatalf("Take = %d, want 1", n)
	}
	if w, n := l.Allow("full"); !w || n != 0 {
		t.Fatalf("after Take: write %v suppressed %d, want a fresh line", w, n)
	}
}

// A hundred events at once still make one line.
func TestConcurrentEventsMakeOneLine(t *testing.T) {
	c := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := quietlog.New(0, c.Now)
	var wg sync.WaitGroup
	var mu sync.Mutex
	lines := 0
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if w, _ := l.Allow("k"); w {
				mu.Lock()
				lines++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if lines != 1 {
		t.Fatalf("%d lines for 100 events in one window, want 1", lines)
	}
	c.Advance(quietlog.DefaultWindow)
	if w, n := l.Allow("k"); !w || n != 99 {
		t.Fatalf("next window: write %v suppressed %d, want 99", w, n)
	}
}
