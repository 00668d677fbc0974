package weblogin

import "sync"

// Bounds on browsers waiting at once. A poll over a bound answers at
// once instead of waiting: waiting costs a goroutine, not a database
// connection, but a flood of polls must not grow memory without end.
const (
	maxWaitersPerTicket = 4
	maxWaiters          = 10_000
)

// hub wakes the polls waiting on a ticket when it changes: a write of
// this instance after its commit, or another instance's NOTIFY.
type hub struct {
	mu      sync.Mutex
	tickets map[string]*waiting
	total   int
	closed  bool
}

type waiting struct {
	ch chan struct{} // closed on the next change
	n  int
}

// subscribe returns a channel closed at the ticket's next change, and
// the function that gives the place up; ok is false when no wait is
// possible (a bound is reached, or the server is stopping).
func (h *hub) subscribe(id string) (ch <-chan struct{}, done func(), ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.total >= maxWaiters {
		return nil, nil, false
	}
	if h.tickets == nil {
		h.tickets = map[string]*waiting{}
	}
	w := h.tickets[id]
	if w == nil {
		w = &waiting{ch: make(chan struct{})}
		h.tickets[id] = w
	}
	if w.n >= maxWaitersPerTicket {
		return nil, nil, false
	}
	w.n++
	h.total++
	var once sync.Once
	return w.ch, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.total--
			w.n--
			if w.n == 0 && h.tickets[id] == w {
				delete(h.tickets, id)
			}
		})
	}, true
}

// wake tells the ticket's waiters that it changed.
func (h *hub) wake(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if w := h.tickets[id]; w != nil {
		close(w.ch)
		delete(h.tickets, id)
	}
}

// wakeAll wakes every waiter: changes may have been missed.
func (h *hub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, w := range h.tickets {
		close(w.ch)
		delete(h.tickets, id)
	}
}

// close wakes everyone and refuses further waits: the server is stopping.
func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.wakeAll()
}
