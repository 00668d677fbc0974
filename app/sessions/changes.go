package sessions

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect"

	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/sessioncache"
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

// Changes is what a write changed that cached sessions must learn of.
// A write declares each change on the Changes it is handed (write), in
// the transaction that makes it; write does the rest, so that no write
// can end a session or change a user and leave a cache answering the old
// state.
type Changes struct {
	list    []change
	replace *replacement
}

// replacement is a user whose new row the local cache keeps (instead of
// forgetting it), so that the next request is still a hit.
type replacement struct {
	ticket sessioncache.Ticket
	user   *ent.User
}

// UserChanged: the user's profile, identities, roles or phone changed;
// every cached session of theirs reads it again.
func (c *Changes) UserChanged(userID int) { c.add(userChanged(userID)) }

// UserRevoked: the user was disabled or deleted, or all their sessions
// ended.
func (c *Changes) UserRevoked(userID int) { c.add(userRevoked(userID)) }

// SessionEnded: one session ended.
func (c *Changes) SessionEnded(userID, sessionID int) { c.add(sessionEnded(userID, sessionID)) }

func (c *Changes) add(ch change) {
	for _, have := range c.list {
		if have == ch {
			return
		}
	}
	c.list = append(c.list, ch)
}

// UserReplaced: u is the user's new row. Other instances forget the user;
// this one keeps u for the user's cached sessions, if nothing else changed
// the user since t was taken (before the write began).
func (c *Changes) UserReplaced(t sessioncache.Ticket, u *ent.User) {
	c.UserChanged(u.ID)
	c.replace = &replacement{ticket: t, user: u}
}

// write runs fn in a write transaction (Writer.Do, which may run it more
// than once) and carries out what fn declared on ch: every change is
// announced to other instances inside the transaction (a NOTIFY is
// delivered if and once it commits, to every instance listening then),
// and after the commit this instance's cache is settled and the write
// waits for the other instances' receipts. Whether or not it committed,
// the declared users and sessions are forgotten here (a needless forget
// costs one database read).
func (s *Service) Write(ctx context.Context, fn func(ctx context.Context, tx *ent.Client, ch *Changes) error) error {
	var ch *Changes
	var rc *receipt
	err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		if rc != nil { // an attempt that did not commit
			s.acks.done(rc)
		}
		ch, rc = &Changes{}, nil
		if err := fn(ctx, tx, ch); err != nil {
			return err
		}
		var err error
		rc, err = s.announce(ctx, tx, ch.list)
		return err
	})
	s.settle(ch, rc, err == nil)
	return err
}

// announce notifies other instances of each change, inside tx. It always
// notifies, even when no other instance is listening now: one whose
// listener is reconnecting may be listening by the commit, and a notice
// it does not hear is one it flushed its cache for. The count of
// listeners only decides how many receipts settle waits for; the last
// notice asks for them (instances handle notices in order).
func (s *Service) announce(ctx context.Context, tx *ent.Client, list []change) (*receipt, error) {
	if len(list) == 0 || s.DB.Dialect != dialect.Postgres {
		return nil, nil
	}
	n, err := s.DB.OtherListeners(ctx, tx)
	if err != nil {
		return nil, err
	}
	var r *receipt
	if n > 0 {
		r = s.acks.add(n)
	}
	for i, c := range list {
		var nonce uint64
		if r != nil && i == len(list)-1 {
			nonce = r.nonce
		}
		if err := s.DB.Notify(ctx, tx, encodeChange(c, nonce)); err != nil {
			if r != nil {
				s.acks.done(r)
			}
			return nil, err
		}
	}
	return r, nil
}

// settle applies ch to this instance's cache, then waits until every
// instance listening at the commit has applied it too.
func (s *Service) settle(ch *Changes, r *receipt, committed bool) {
	if ch != nil {
		if committed && ch.replace != nil {
			s.Cache.ReplaceUser(ch.replace.ticket, cacheUser(ch.replace.user))
		}
		for _, c := range ch.list {
			if committed && ch.replace != nil && c == userChanged(ch.replace.user.ID) {
				continue // replaced above
			}
			s.forget(c)
		}
	}
	if r == nil {
		return
	}
	defer s.acks.done(r)
	if !committed {
		return
	}
	userID := 0
	if ch != nil && len(ch.list) > 0 {
		userID = ch.list[0].userID
	}
	timeout := time.NewTimer(ackTimeout)
	defer timeout.Stop()
	for i := 0; i < r.want; i++ {
		select {
		case <-r.got:
		case <-timeout.C:
			s.Log.Warn("session cache: not every instance confirmed a change in time", "confirmed", i, "instances", r.want, "user_id", userID)
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
