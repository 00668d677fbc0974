package app

import (
	"io"
	"net"
	"sync"
	"time"
)

// Lingering close: how long and how much of a client's unread request a
// closing connection still reads and discards.
const (
	LingerTime  = 2 * time.Second
	LingerBytes = 16 << 20
)

// lingerListener makes every accepted TCP connection close gracefully.
//
// The server refuses some requests from their headers alone (a body too
// large for the route, headers larger than the read buffer) and then
// closes the connection while the client is still sending. Closing a
// socket with unread data makes the kernel send a reset, which destroys
// the answer still in flight: the client sees "connection reset" instead
// of the 413 or 431. Like Apache and nginx ("lingering close"), the
// connection is half-closed after the answer and the rest of the request
// is read and thrown away, for at most LingerTime and LingerBytes, in the
// background; nothing is buffered.
type lingerListener struct {
	net.Listener
}

func (l lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		return &lingerConn{TCPConn: tc}, nil
	}
	return c, nil
}

type lingerConn struct {
	*net.TCPConn
	once sync.Once
}

// Close sends the client our FIN (after everything written so far) and
// drains what it still sends before releasing the socket.
func (c *lingerConn) Close() error {
	var err error
	c.once.Do(func() {
		if err = c.TCPConn.CloseWrite(); err != nil {
			err = c.TCPConn.Close()
			return
		}
		go func() {
			c.TCPConn.SetReadDeadline(time.Now().Add(LingerTime))
			io.CopyN(io.Discard, c.TCPConn, LingerBytes)
			c.TCPConn.Close()
		}()
	})
	return err
}
