package app

import (
	"net"
	"sync"
)

// handoff lets servers take turns on one listener: the start-up server
// answers while the database is being opened and migrated, then the real
// one takes over, with no moment when connections are refused. One
// goroutine accepts; each turn's Accept takes from it until the turn is
// closed, which leaves the listener open for the next turn.
type handoff struct {
	ln     net.Listener
	conns  chan accepted
	closed chan struct{}
	once   sync.Once
}

type accepted struct {
	conn net.Conn
	err  error
}

func newHandoff(ln net.Listener) *handoff {
	h := &handoff{ln: ln, conns: make(chan accepted), closed: make(chan struct{})}
	go h.accept()
	return h
}

func (h *handoff) accept() {
	for {
		c, err := h.ln.Accept()
		select {
		case h.conns <- accepted{c, err}:
		case <-h.closed:
			if c != nil {
				c.Close()
			}
			return
		}
		if err != nil {
			select {
			case <-h.closed:
				return
			default:
			}
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				return // the listener is gone: Accept keeps failing
			}
		}
	}
}

// turn is one server's view of the listener. last: closing it closes the
// listener itself (the real server's, at shutdown).
func (h *handoff) turn(last bool) net.Listener {
	return &turn{h: h, last: last, done: make(chan struct{})}
}

// close closes the listener for good.
func (h *handoff) close() error {
	var err error
	h.once.Do(func() {
		close(h.closed)
		err = h.ln.Close()
	})
	return err
}

type turn struct {
	h    *handoff
	last bool
	done chan struct{}
	once sync.Once
}

func (t *turn) Accept() (net.Conn, error) {
	select {
	case <-t.done:
		return nil, net.ErrClosed
	default:
	}
	select {
	case a := <-t.h.conns:
		return a.conn, a.err
	case <-t.done:
		return nil, net.ErrClosed
	case <-t.h.closed:
		return nil, net.ErrClosed
	}
}

func (t *turn) Close() error {
	t.once.Do(func() { close(t.done) })
	if t.last {
		return t.h.close()
	}
	return nil
}

func (t *turn) Addr() net.Addr { return t.h.ln.Addr() }
