package sessioncache_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/sessioncache"
)

var later = time.Now().Add(time.Hour)

func user(id int, nick string) *sessioncache.User {
	return &sessioncache.User{ID: id, Nickname: nick}
}

func TestFillThenGet(t *testing.T) {
	c := sessioncache.New(100, nil)
	if c.Get(1, 10, "n") != nil {
		t.Fatal("empty cache answered")
	}
	c.Fill(c.Ticket(1), 10, "n", later, user(1, "a"))
	if u := c.Get(1, 10, "n"); u == nil || u.Nickname != "a" {
		t.Fatalf("Get after Fill = %v", u)
	}
	// The session belongs to user 1: a token naming another user misses.
	if c.Get(2, 10, "n") != nil || c.Get(1+64, 10, "n") != nil {
		t.Fatal("a session was answered for another user")
	}
	// A token of an earlier session with the same ids (a restored backup
	// reused them) carries another nonce: it misses.
	if c.Get(1, 10, "m") != nil || c.Get(1, 10, "") != nil {
		t.Fatal("a session was answered for a token with another nonce")
	}
}

func TestForgetSessionKeepsTheUsersOtherSessions(t *testing.T) {
	c := sessioncache.New(100, nil)
	c.Fill(c.Ticket(1), 10, "n", later, user(1, "a"))
	c.Fill(c.Ticket(1), 11, "n", later, user(1, "a"))
	c.Forget(1, 10)
	if c.Get(1, 10, "n") != nil {
		t.Fatal("forgotten session still answered")
	}
	if c.Get(1, 11, "n") == nil {
		t.Fatal("the user's other session was dropped")
	}
	c.ForgetUser(1)
	if c.Get(1, 11, "n") != nil || c.Len() != 0 {
		t.Fatalf("ForgetUser left sessions (len %d)", c.Len())
	}
}

func TestExpiredSessionMisses(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	c := sessioncache.New(100, func() time.Time { return time.Unix(0, now.Load()) })
	c.Fill(c.Ticket(1), 10, "n", time.Unix(0, now.Load()).Add(time.Minute), user(1, "a"))
	if c.Get(1, 10, "n") == nil {
		t.Fatal("live session missed")
	}
	now.Add(int64(time.Minute))
	if c.Get(1, 10, "n") != nil {
		t.Fatal("session answered at its expiry")
	}
	if c.Len() != 0 {
		t.Fatal("expired session kept")
	}
}

// A fill whose read may predate a write is not stored.
func TestFillAfterForgetIsDropped(t *testing.T) {
	c := sessioncache.New(100, nil)
	tk := c.Ticket(1)
	c.Forget(1, 10) // a logout committed after the read
	c.Fill(tk, 10, "n", later, user(1, "a"))
	if c.Get(1, 10, "n") != nil {
		t.Fatal("a stale read was cached after the session was forgotten")
	}
	tk = c.Ticket(2)
	c.ForgetUser(2)
	c.Fill(tk, 20, "n", later, user(2, "b"))
	if c.Get(2, 20, "n") != nil {
		t.Fatal("a stale read was cached after the user was forgotten")
	}
	tk = c.Ticket(3)
	c.Flush()
	c.Fill(tk, 30, "n", later, user(3, "c"))
	if c.Get(3, 30, "n") != nil {
		t.Fatal("a read from before a flush was cached")
	}
}

func TestUntrustedCacheNeitherAnswersNorStores(t *testing.T) {
	c := sessioncache.New(100, nil)
	c.Fill(c.Ticket(1), 10, "n", later, user(1, "a"))
	c.SetTrusted(false)
	if c.Get(1, 10, "n") != nil {
		t.Fatal("untrusted cache answered")
	}
	c.Fill(c.Ticket(2), 20, "n", later, user(2, "b"))
	c.Flush()
	c.SetTrusted(true)
	if c.Get(1, 10, "n") != nil || c.Get(2, 20, "n") != nil {
		t.Fatal("entries survived the flush or were stored while untrusted")
	}
}

func TestReplaceUser(t *testing.T) {
	c := sessioncache.New(100, nil)
	c.Fill(c.Ticket(1), 10, "n", later, user(1, "old"))
	tk := c.Ticket(1)
	c.ReplaceUser(tk, user(1, "new"))
	if u := c.Get(1, 10, "n"); u == nil || u.Nickname != "new" {
		t.Fatalf("after ReplaceUser: %v", u)
	}
	// Another change between the ticket and the replacement: the user
	// is dropped instead of replaced.
	tk = c.Ticket(1)
	c.ForgetUser(1)
	c.Fill(c.Ticket(1), 10, "n", later, user(1, "other"))
	c.ReplaceUser(tk, user(1, "mine"))
	if u := c.Get(1, 10, "n"); u != nil {
		t.Fatalf("a raced replacement was kept: %v", u)
	}
}

func TestBoundEvictsLeastRecentlyUsed(t *testing.T) {
	const size = 64 * 4 // four per shard
	c := sessioncache.New(size, nil)
	for sid := 1; sid <= 10*size; sid++ {
		uid := sid
		c.Fill(c.Ticket(uid), sid, "n", later, user(uid, "u"))
		if n := c.Len(); n > size {
			t.Fatalf("%d sessions cached, bound %d", n, size)
		}
	}
	// The newest are cached; the oldest went.
	if c.Get(10*size, 10*size, "n") == nil {
		t.Fatal("newest session evicted")
	}
	if c.Get(1, 1, "n") != nil {
		t.Fatal("oldest session kept past the bound")
	}
	// Using a session keeps it: fill its shard again, it stays.
	uid := 10*size - 64 // same shard as 10*size
	c.Get(uid, uid, "n")
	for k := 1; k <= 3; k++ {
		id := 20*size + 64*k
		c.Fill(c.Ticket(id), id, "n", later, user(id, "u"))
	}
	if c.Get(uid, uid, "n") == nil {
		t.Fatal("a recently used session was evicted before older ones")
	}
}

func TestZeroSizeStoresNothing(t *testing.T) {
	c := sessioncache.New(0, nil)
	c.Fill(c.Ticket(1), 10, "n", later, user(1, "a"))
	if c.Get(1, 10, "n") != nil {
		t.Fatal("zero-size cache answered")
	}
	var nilCache *sessioncache.Cache
	nilCache.Fill(nilCache.Ticket(1), 10, "n", later, user(1, "a"))
	if nilCache.Get(1, 10, "n") != nil {
		t.Fatal("nil cache answered")
	}
	nilCache.Forget(1, 10)
	nilCache.ForgetUser(1)
}

// Many goroutines play the race the generations close: readers that miss
// read the "database" (a flag) and fill, while a writer revokes (sets the
// flag, then forgets). All readers work on the user being revoked, and
// yield between their read and their fill. Once a revocation has
// returned, no Get may answer the revoked session.
func TestConcurrentFillsNeverResurrectARevokedSession(t *testing.T) {
	c := sessioncache.New(100_000, nil)
	const users = 100
	var revoked [users + 1]atomic.Bool  // committed in the "database"
	var answered [users + 1]atomic.Bool // the revocation's write returned
	var current atomic.Int64
	current.Store(1)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var violations atomic.Int64
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				uid := int(current.Load())
				if uid > 1 && i%2 == 0 {
					uid-- // now and then the one just revoked
				}
				sid := uid * 1000
				wasAnswered := answered[uid].Load()
				if u := c.Get(uid, sid, "n"); u != nil {
					if wasAnswered {
						violations.Add(1)
					}
					continue
				}
				tk := c.Ticket(uid)
				if revoked[uid].Load() { // the "database read"
					continue
				}
				runtime.Gosched() // widen the window between read and fill
				c.Fill(tk, sid, "n", later, user(uid, "x"))
			}
		}()
	}
	for uid := 1; uid <= users; uid++ {
		current.Store(int64(uid))
		time.Sleep(200 * time.Microsecond)
		revoked[uid].Store(true) // commit
		runtime.Gosched()
		if uid%2 == 0 {
			c.Forget(uid, uid*1000)
		} else {
			c.ForgetUser(uid)
		}
		answered[uid].Store(true)
	}
	time.Sleep(5 * time.Millisecond)
	close(stop)
	wg.Wait()
	if n := violations.Load(); n > 0 {
		t.Fatalf("%d requests were answered from the cache after their session was revoked", n)
	}
	for uid := 1; uid <= users; uid++ {
		if c.Get(uid, uid*1000, "n") != nil {
			t.Fatalf("user %d's revoked session is still cached", uid)
		}
	}
}
