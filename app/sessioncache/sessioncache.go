// Package sessioncache keeps live sessions and their users in memory, so
// that the check every authenticated request makes (is this session still
// live, is its user enabled, who is it) needs no database query.
//
// Correctness rests on three rules, kept by its owner (app/sessions):
//
//   - Every write that ends a session or changes a user calls Forget (or
//     ForgetUser) after it commits and before it answers, so no request
//     after that answer is served from the cache.
//   - A request that missed takes a Ticket before it reads the database and
//     stores what it read with Fill. Fill stores nothing if the user was
//     forgotten (or the cache flushed) since the ticket: the read may have
//     seen the row before a concurrent write committed. Generations are
//     kept per stripe of user ids, so this needs no per-key bookkeeping for
//     keys that are not cached.
//   - Where other processes write too (PostgreSQL), the cache is trusted
//     only while SetTrusted(true) holds: the owner turns it off when its
//     change feed (LISTEN) is down and turns it on again after re-listening,
//     with a Flush in between.
//
// The cache is bounded: past its size the least recently used session is
// evicted. Entries are kept per user id shard, so forgetting a user (and
// with it all their sessions) touches one shard.
package sessioncache

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/miniauth/miniauth/app/clock"
)

// DefaultSize is how many sessions are cached unless configured.
const DefaultSize = 100_000

const (
	shardCount   = 64
	stripesShard = 256 // generation stripes per shard
)

// User is what the cache keeps of a user: the fields requests read.
// Callers must treat it as immutable.
type User struct {
	ID               int
	Openid           string
	Unionid          *string
	Nickname         string
	AvatarURL        string
	Gender           int
	Phone            string
	PhoneCountryCode string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	Roles            string // as stored: sorted, comma-separated
}

// Cache is safe for concurrent use. The zero value is not usable: call New.
type Cache struct {
	shards  [shardCount]shard
	epoch   atomic.Uint64 // bumped by Flush
	trusted atomic.Bool
	now     clock.Clock
}

type shard struct {
	mu       sync.Mutex
	cap      int
	sessions map[int]*entry
	users    map[int]*userEntry
	gens     [stripesShard]uint64
	// LRU list of sessions: head is the most recently used.
	head, tail *entry
}

type entry struct {
	sessionID  int
	nonce      string // the session's random name: the token must carry it
	user       *userEntry
	expires    int64 // unix nanoseconds
	prev, next *entry
}

type userEntry struct {
	u        *User
	sessions []*entry // cached sessions of this user
}

// New makes a cache of at most size sessions (size ≤ 0: a cache that
// stores nothing). It starts trusted; a caller with a change feed calls
// SetTrusted(false) until the feed is up.
func New(size int, now clock.Clock) *Cache {
	c := &Cache{now: now}
	per := 0
	if size > 0 {
		per = (size + shardCount - 1) / shardCount
	}
	for i := range c.shards {
		c.shards[i] = shard{cap: per, sessions: map[int]*entry{}, users: map[int]*userEntry{}}
	}
	c.trusted.Store(true)
	return c
}

func (c *Cache) shard(userID int) *shard {
	return &c.shards[uint(userID)%shardCount]
}

func stripe(userID int) int { return int((uint(userID) / shardCount) % stripesShard) }

// Get returns the cached user of a live session, or nil on a miss. The
// token's session nonce must be the session's: a token naming a reused id
// misses, and the database check refuses it.
func (c *Cache) Get(userID, sessionID int, nonce string) *User {
	if c == nil || !c.trusted.Load() {
		return nil
	}
	s := c.shard(userID)
	now := c.now.Now().UnixNano()
	s.mu.Lock()
	e := s.sessions[sessionID]
	if e == nil || e.user.u.ID != userID || e.nonce != nonce {
		s.mu.Unlock()
		return nil
	}
	if now >= e.expires {
		s.remove(e)
		s.mu.Unlock()
		return nil
	}
	s.touch(e)
	u := e.user.u
	s.mu.Unlock()
	return u
}

// Ticket is taken before reading a session from the database.
type Ticket struct {
	gen, epoch uint64
	ok         bool
}

// Ticket must be taken before the database read whose result Fill stores.
func (c *Cache) Ticket(userID int) Ticket {
	if c == nil || !c.trusted.Load() {
		return Ticket{}
	}
	epoch := c.epoch.Load()
	s := c.shard(userID)
	s.mu.Lock()
	g := s.gens[stripe(userID)]
	s.mu.Unlock()
	return Ticket{gen: g, epoch: epoch, ok: true}
}

// Fill stores a live session read from the database after t was taken,
// unless the user was forgotten or the cache flushed since: then the read
// may predate a write, and nothing is stored.
func (c *Cache) Fill(t Ticket, sessionID int, nonce string, expires time.Time, u *User) {
	if c == nil || !t.ok || !c.trusted.Load() {
		return
	}
	s := c.shard(u.ID)
	if s.cap == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gens[stripe(u.ID)] != t.gen || c.epoch.Load() != t.epoch {
		return
	}
	if old := s.sessions[sessionID]; old != nil {
		s.remove(old)
	}
	ue := s.users[u.ID]
	if ue == nil {
		ue = &userEntry{}
		s.users[u.ID] = ue
	}
	// The newest read wins: any write in between would have moved the
	// generation on.
	ue.u = u
	e := &entry{sessionID: sessionID, nonce: nonce, user: ue, expires: expires.UnixNano()}
	ue.sessions = append(ue.sessions, e)
	s.sessions[sessionID] = e
	s.pushFront(e)
	for len(s.sessions) > s.cap {
		s.remove(s.tail)
	}
}

// Forget drops one session of a user (it ended), and makes fills in
// flight for that user store nothing.
func (c *Cache) Forget(userID, sessionID int) {
	if c == nil {
		return
	}
	s := c.shard(userID)
	s.mu.Lock()
	s.gens[stripe(userID)]++
	if e := s.sessions[sessionID]; e != nil {
		s.remove(e)
	}
	s.mu.Unlock()
}

// ForgetUser drops a user and all their cached sessions (the user changed,
// was disabled or deleted).
func (c *Cache) ForgetUser(userID int) {
	if c == nil {
		return
	}
	s := c.shard(userID)
	s.mu.Lock()
	s.gens[stripe(userID)]++
	if ue := s.users[userID]; ue != nil {
		s.removeUser(ue)
	}
	s.mu.Unlock()
}

// ReplaceUser forgets a user and then caches u as their current profile
// for the sessions still cached, if nothing else changed the user since t
// was taken (before the write that produced u). PUT /api/me uses it so that
// the next GET /api/me is still a hit.
func (c *Cache) ReplaceUser(t Ticket, u *User) {
	if c == nil {
		return
	}
	s := c.shard(u.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := stripe(u.ID)
	clean := t.ok && s.gens[st] == t.gen && c.epoch.Load() == t.epoch && c.trusted.Load()
	s.gens[st]++
	ue := s.users[u.ID]
	if ue == nil {
		return
	}
	if clean {
		ue.u = u
		return
	}
	s.removeUser(ue)
}

// Flush empties the cache and voids every ticket taken before it.
func (c *Cache) Flush() {
	if c == nil {
		return
	}
	c.epoch.Add(1)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.sessions)
		clear(s.users)
		s.head, s.tail = nil, nil
		s.mu.Unlock()
	}
}

// SetTrusted turns the cache on or off. While off, Get always misses and
// Fill stores nothing. Turning it off does not flush; turn it on only after
// a Flush that follows re-establishing the change feed.
func (c *Cache) SetTrusted(on bool) {
	if c != nil {
		c.trusted.Store(on)
	}
}

// Trusted reports whether the cache answers.
func (c *Cache) Trusted() bool { return c != nil && c.trusted.Load() }

// Len is how many sessions are cached.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.sessions)
		s.mu.Unlock()
	}
	return n
}

func (s *shard) remove(e *entry) {
	delete(s.sessions, e.sessionID)
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
	ue := e.user
	for i, x := range ue.sessions {
		if x == e {
			last := len(ue.sessions) - 1
			ue.sessions[i] = ue.sessions[last]
			ue.sessions[last] = nil
			ue.sessions = ue.sessions[:last]
			break
		}
	}
	if len(ue.sessions) == 0 && s.users[ue.u.ID] == ue {
		delete(s.users, ue.u.ID)
	}
}

// removeUser drops a user and every cached session of theirs.
func (s *shard) removeUser(ue *userEntry) {
	for len(ue.sessions) > 0 {
		s.remove(ue.sessions[len(ue.sessions)-1])
	}
	delete(s.users, ue.u.ID)
}

func (s *shard) pushFront(e *entry) {
	e.prev, e.next = nil, s.head
	if s.head != nil {
		s.head.prev = e
	}
	s.head = e
	if s.tail == nil {
		s.tail = e
	}
}

func (s *shard) touch(e *entry) {
	if s.head == e {
		return
	}
	// unlink, then push to the front
	e.prev.next = e.next
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	s.pushFront(e)
}
