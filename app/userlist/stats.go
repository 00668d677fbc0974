package userlist

import (
	"context"
	"fmt"
	"time"

	"github.com/miniauth/miniauth/ent/user"
)

// ChartDays is how many days the sign-up chart covers.
const ChartDays = 30

// Stats are the dashboard's numbers.
type Stats struct {
	Total      int
	NewToday   int
	Active7d   int // signed in during the last 7 days
	Disabled   int
	Signups    []DayCount // oldest first, ChartDays of them
	MaxSignups int
	At         time.Time
}

// DayCount is the sign-ups of one day.
type DayCount struct {
	Day   time.Time
	Count int
}

// Stats returns the dashboard's numbers, computed at most once per
// StatsTTL: stale numbers are answered at once while one goroutine
// computes them again. Days are calendar days of loc (the server's time
// zone when nil).
func (s *Store) Stats(ctx context.Context, loc *time.Location) (*Stats, error) {
	if loc == nil {
		loc = time.Local
	}
	// Small tables are counted every time: cheap and exact.
	return s.stats.get(ctx, s.Now.Now, StatsTTL, func(st *Stats) bool { return st.Total >= CountCap },
		func(ctx context.Context) (*Stats, error) { return s.computeStats(ctx, loc) })
}

// computeStats counts. Each count is a range over an indexed time column
// (except disabled, a scan), written in Ent so that SQLite and PostgreSQL
// run the same code.
func (s *Store) computeStats(ctx context.Context, loc *time.Location) (*Stats, error) {
	now := s.Now.Now()
	y, m, d := now.In(loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, loc)
	users := s.DB.Read.User
	st := &Stats{At: now}
	var err error
	if st.Total, err = users.Query().Count(ctx); err != nil {
		return nil, fmt.Errorf("count users: %w", err)
	}
	if st.Active7d, err = users.Query().Where(user.LastLoginAtGTE(now.Add(-7 * 24 * time.Hour))).Count(ctx); err != nil {
		return nil, fmt.Errorf("count active users: %w", err)
	}
	if st.Disabled, err = users.Query().Where(user.Disabled(true)).Count(ctx); err != nil {
		return nil, fmt.Errorf("count disabled users: %w", err)
	}
	for i := ChartDays - 1; i >= 0; i-- {
		from := today.AddDate(0, 0, -i)
		to := from.AddDate(0, 0, 1)
		n, err := users.Query().Where(user.CreatedAtGTE(from.UTC()), user.CreatedAtLT(to.UTC())).Count(ctx)
		if err != nil {
			return nil, fmt.Errorf("count sign-ups: %w", err)
		}
		st.Signups = append(st.Signups, DayCount{Day: from, Count: n})
		st.MaxSignups = max(st.MaxSignups, n)
	}
	st.NewToday = st.Signups[len(st.Signups)-1].Count
	s.total.set(st.Total, now)
	return st, nil
}
