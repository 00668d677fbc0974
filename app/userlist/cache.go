package userlist

import (
	"context"
	"sync"
	"time"
)

// refreshTimeout bounds a background recount.
const refreshTimeout = time.Minute

// cached is a value recomputed at most once per ttl, stale-while-revalidate:
// a stale value is answered at once while one goroutine computes it again,
// so that only the first request after start-up waits for the count.
type cached[T any] struct {
	mu         sync.Mutex
	value      T
	at         time.Time // zero: nothing cached
	refreshing bool
}

// get answers the cached value when there is one and worth keeping
// (keep), starting a background refresh when it is older than ttl;
// otherwise it computes the value now. now is the store's clock.
func (c *cached[T]) get(ctx context.Context, now func() time.Time, ttl time.Duration, keep func(T) bool,
	compute func(context.Context) (T, error)) (T, error) {
	c.mu.Lock()
	v, at := c.value, c.at
	usable := !at.IsZero() && keep(v)
	if usable && now().Sub(at) >= ttl && !c.refreshing {
		c.refreshing = true
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
			defer cancel()
			c.compute(ctx, now, compute)
			c.mu.Lock()
			c.refreshing = false
			c.mu.Unlock()
		}()
	}
	c.mu.Unlock()
	if usable {
		return v, nil
	}
	return c.compute(ctx, now, compute)
}

func (c *cached[T]) compute(ctx context.Context, now func() time.Time, compute func(context.Context) (T, error)) (T, error) {
	v, err := compute(ctx)
	if err == nil {
		c.set(v, now())
	}
	return v, err
}

// set caches v as computed at at.
func (c *cached[T]) set(v T, at time.Time) {
	c.mu.Lock()
	c.value, c.at = v, at
	c.mu.Unlock()
}

// forget drops the cached value: the next get computes it.
func (c *cached[T]) forget() {
	c.mu.Lock()
	var zero T
	c.value, c.at = zero, time.Time{}
	c.mu.Unlock()
}
