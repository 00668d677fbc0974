package accounts

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/ent"
)

// A change is what a write did that cached sessions must learn of: a
// session ended (sessionID set), or a user changed, was disabled or
// deleted (sessionID 0: every session of the user goes). A write is not
// answered before every listening instance has confirmed that it forgot
// the change, so no instance answers from a stale entry afterwards.
type change struct {
	userID, sessionID int
}

func userChanged(userID int) change { return change{userID: userID} }
func userRevoked(userID int) change { return change{userID: userID} }
func sessionEnded(userID, sessionID int) change {
	return change{userID: userID, sessionID: sessionID}
}

// instanceID tells this process's announcements apart from other
// instances': it forgets its own changes synchronously.
var instanceID = tokens.RandomString(8)

// ackTimeout bounds how long a revocation waits for other instances'
// receipts. An instance that does not answer in time has lost its
// listener (and then checks every request against the database) or is
// stuck; the write is answered anyway, with a warning.
const ackTimeout = 2 * time.Second

// receipt is what announce arranged to wait for after the commit.
type receipt struct {
	nonce uint64
	want  int
	got   chan struct{}
}

// ackWaiters routes receipts to the writes waiting for them.
type ackWaiters struct {
	mu   sync.Mutex
	seq  uint64
	wait map[uint64]chan struct{}
}

func (a *ackWaiters) add(want int) *receipt {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.wait == nil {
		a.wait = map[uint64]chan struct{}{}
	}
	a.seq++
	r := &receipt{nonce: a.seq, want: want, got: make(chan struct{}, want)}
	a.wait[r.nonce] = r.got
	return r
}

func (a *ackWaiters) done(r *receipt) {
	a.mu.Lock()
	delete(a.wait, r.nonce)
	a.mu.Unlock()
}

func (a *ackWaiters) deliver(nonce uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ch := a.wait[nonce]; ch != nil {
		select {
		case ch <- struct{}{}:
		default: // more receipts than counted: a listener joined meanwhile
		}
	}
}

// announce tells other instances of ch, inside the write's transaction
// (PostgreSQL NOTIFY is delivered only if and once it commits), and
// arranges for settle to wait for each one's receipt. With no other
// instance listening it sends nothing: one that starts listening later,
// or whose listener is reconnecting, flushes its cache when it is up.
func (s *Service) announce(ctx context.Context, tx *ent.Client, ch change) (*receipt, error) {
	n, err := s.DB.OtherListeners(ctx, tx)
	if err != nil || n == 0 {
		return nil, err
	}
	r := s.acks.add(n)
	if err := s.DB.Notify(ctx, tx, encodeChange(ch, r.nonce)); err != nil {
		s.acks.done(r)
		return nil, err
	}
	return r, nil
}

// settle applies ch to this instance's cache, then waits until every
// instance listening at the commit has applied it too.
// Writers call it after the commit and before they answer, whether or not
// the write succeeded (a needless forget costs one database read).
func (s *Service) settle(ch change, r *receipt, committed bool) {
	if ch.userID != 0 {
		s.forget(ch)
	}
	if r == nil {
		return
	}
	defer s.acks.done(r)
	if !committed {
		return
	}
	timeout := time.NewTimer(ackTimeout)
	defer timeout.Stop()
	for i := 0; i < r.want; i++ {
		select {
		case <-r.got:
		case <-timeout.C:
			s.Log.Warn("session cache: not every instance confirmed a change in time", "confirmed", i, "instances", r.want, "user_id", ch.userID)
			return
		}
	}
}

func (s *Service) forget(ch change) {
	if ch.sessionID != 0 {
		s.Cache.Forget(ch.userID, ch.sessionID)
	} else {
		s.Cache.ForgetUser(ch.userID)
	}
}

// encodeChange is the NOTIFY payload: origin:user:session:nonce (session 0
// for the whole user; nonce 0 when no receipt is wanted).
func encodeChange(ch change, nonce uint64) string {
	return instanceID + ":" + strconv.Itoa(ch.userID) + ":" + strconv.Itoa(ch.sessionID) + ":" + strconv.FormatUint(nonce, 10)
}

func decodeChange(payload string) (ch change, origin string, nonce uint64, ok bool) {
	parts := strings.Split(payload, ":")
	if len(parts) != 4 {
		return change{}, "", 0, false
	}
	uid, err1 := strconv.Atoi(parts[1])
	sid, err2 := strconv.Atoi(parts[2])
	nonce, err3 := strconv.ParseUint(parts[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || uid <= 0 || sid < 0 {
		return change{}, "", 0, false
	}
	return change{userID: uid, sessionID: sid}, parts[0], nonce, true
}

// FollowChanges keeps the session cache in step with other instances
// until ctx ends (PostgreSQL; on SQLite it returns at once, every write
// being this process's own). While the listening connection is down the
// cache is not trusted: every request is checked against the database, as
// without a cache. Once listening again the cache is flushed (changes made
// meanwhile were not heard) and trusted again.
func (s *Service) FollowChanges(ctx context.Context) {
	if s.Cache == nil {
		return
	}
	s.DB.Listen(ctx, database.Listener{
		Up: func() {
			s.Cache.Flush()
			s.Cache.SetTrusted(true)
			s.Log.Info("session cache: listening for other instances' changes; cache on")
		},
		Down: func(err error) {
			wasOn := s.Cache.Trusted()
			s.Cache.SetTrusted(false)
			if wasOn {
				s.Log.Warn("session cache: change listener down; checking every request against the database until it is back", "err", err)
			}
		},
		Notify: func(channel, payload string) string {
			if channel == database.AckChannel {
				origin, nonce, ok := strings.Cut(payload, ":")
				if n, err := strconv.ParseUint(nonce, 10, 64); ok && err == nil && origin == instanceID {
					s.acks.deliver(n)
				}
				return ""
			}
			ch, origin, nonce, ok := decodeChange(payload)
			if !ok {
				// We cannot tell what changed: forget everything.
				s.Log.Warn("session cache: malformed change notification; flushing")
				s.Cache.Flush()
				return ""
			}
			if origin == instanceID {
				return "" // forgotten already, and not counted
			}
			s.forget(ch)
			if nonce == 0 {
				return ""
			}
			return origin + ":" + strconv.FormatUint(nonce, 10)
		},
	})
}
