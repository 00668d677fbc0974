package userlist_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/cli/fakeusers"
	"github.com/miniauth/miniauth/app/userlist"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/user"
)

// seeded is a store over 3,000 fake users, and all of them for reference.
func seeded(t *testing.T, url string) (*userlist.Store, []*ent.User) {
	t.Helper()
	db := apptest.OpenDB(t, url)
	ctx := context.Background()
	if err := fakeusers.Insert(ctx, db, 3000, fakeusers.Options{Rand: rand.New(rand.NewPCG(1, 2))}); err != nil {
		t.Fatal(err)
	}
	all, err := db.Read.User.Query().Order(ent.Asc(user.FieldID)).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return userlist.New(db), all
}

func ids(us []*ent.User) []int {
	out := make([]int, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestListMatchesReference(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		s, all := seeded(t, b.URL(t))
		ctx := context.Background()
		byCreatedDesc := append([]*ent.User(nil), all...)
		sort.SliceStable(byCreatedDesc, func(i, j int) bool {
			if !byCreatedDesc[i].CreatedAt.Equal(byCreatedDesc[j].CreatedAt) {
				return byCreatedDesc[i].CreatedAt.After(byCreatedDesc[j].CreatedAt)
			}
			return byCreatedDesc[i].ID > byCreatedDesc[j].ID
		})
		cases := []struct {
			sort    string
			page    int
			perPage int
			want    []*ent.User
		}{
			{"", 1, 50, reverse(all)[:50]},
			{"-id", 7, 20, reverse(all)[120:140]},
			{"id", 30, 100, all[2900:3000]},
			{"-created", 3, 50, byCreatedDesc[100:150]},
		}
		for _, c := range cases {
			p, err := s.List(ctx, userlist.Query{Sort: c.sort}, c.page, c.perPage)
			if err != nil {
				t.Fatal(err)
			}
			if !equal(ids(p.Users), ids(c.want)) || p.Total != 3000 || p.Capped {
				t.Errorf("sort %q page %d: got %v… total %d", c.sort, c.page, ids(p.Users)[:3], p.Total)
			}
		}
		// A page past the end shows the last one.
		p, _ := s.List(ctx, userlist.Query{}, 1000, 50)
		if p.Page != 60 || p.HasNext || len(p.Users) != 50 {
			t.Errorf("past the end: page %d, next %v, %d users", p.Page, p.HasNext, len(p.Users))
		}

		// Nickname prefix: every user whose nickname starts with it, in
		// nickname order, and no other.
		for _, prefix := range []string{"Alice", "alice_1", "王", "微信用户"} {
			var want []*ent.User
			for _, u := range all {
				if strings.HasPrefix(u.Nickname, prefix) {
					want = append(want, u)
				}
			}
			sort.SliceStable(want, func(i, j int) bool {
				if want[i].Nickname != want[j].Nickname {
					return want[i].Nickname < want[j].Nickname
				}
				return want[i].ID < want[j].ID
			})
			p, err := s.List(ctx, userlist.Query{Q: " " + prefix + " "}, 1, userlist.MaxPerPage)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 || p.Total != len(want) || !equal(ids(p.Users), ids(want[:min(len(want), userlist.MaxPerPage)])) {
				t.Errorf("prefix %q: %d users, total %d; want %d", prefix, len(p.Users), p.Total, len(want))
			}
		}
		// Exact openid, unionid and phone.
		u := all[1234]
		for _, q := range []string{u.Openid, u.Phone} {
			if q == "" {
				continue
			}
			p, _ := s.List(ctx, userlist.Query{Q: q}, 1, 50)
			if len(p.Users) == 0 || p.Users[0].ID != u.ID && q == u.Openid {
				t.Errorf("exact search %q found %v", q, ids(p.Users))
			}
		}
		if p, _ := s.List(ctx, userlist.Query{Q: u.Openid[:10]}, 1, 50); len(p.Users) != 0 {
			t.Errorf("an openid prefix matched %d users", len(p.Users))
		}

		// Export: every match once, in id order.
		var got []int
		err := s.Export(ctx, userlist.Query{}, func(u *ent.User) error { got = append(got, u.ID); return nil })
		if err != nil || !equal(got, ids(all)) {
			t.Fatalf("export: %d rows, err %v", len(got), err)
		}
	})
}

func TestCountsCapAndCache(t *testing.T) {
	db := apptest.OpenDB(t, "")
	ctx := context.Background()
	if err := fakeusers.Insert(ctx, db, userlist.CountCap+500, fakeusers.Options{Rand: rand.New(rand.NewPCG(3, 4))}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s := userlist.New(db)
	s.Now = func() time.Time { return now }
	p, err := s.List(ctx, userlist.Query{Q: "微"}, 1, 50) // about a fifth match
	if err != nil {
		t.Fatal(err)
	}
	if p.Total > userlist.CountCap || p.Capped != (p.Total == userlist.CountCap) || !p.HasNext {
		t.Fatalf("search count %d capped %v", p.Total, p.Capped)
	}
	if n, _ := s.Total(ctx); n != userlist.CountCap+500 {
		t.Fatalf("total %d", n)
	}
	// Past CountCap, the total is cached: a new user shows up only
	// after TotalTTL (and a background recount).
	if err := fakeusers.Insert(ctx, db, 1, fakeusers.Options{}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Total(ctx); n != userlist.CountCap+500 {
		t.Fatalf("total recounted within its TTL: %d", n)
	}
	now = now.Add(userlist.TotalTTL + time.Second)
	s.Total(ctx) // stale: answered from cache, recounted in the background
	apptest.Eventually(t, 10*time.Second, "total recounted", func() (bool, string) {
		n, _ := s.Total(ctx)
		return n == userlist.CountCap+501, fmt.Sprintf("total %d", n)
	})
}

func TestStats(t *testing.T) {
	db := apptest.OpenDB(t, "")
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	// 30 days of sign-ups, 100 a day, the last at now.
	if err := fakeusers.Insert(ctx, db, 3000, fakeusers.Options{Now: now, Span: 30 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	db.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		return tx.User.Update().Where(user.IDLTE(7)).SetDisabled(true).Exec(ctx)
	})
	disabled, _ := db.Read.User.Query().Where(user.Disabled(true)).Count(ctx)
	s := userlist.New(db)
	s.Now = func() time.Time { return now }
	st, err := s.Stats(ctx, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, d := range st.Signups {
		sum += d.Count
	}
	if st.Total != 3000 || st.Disabled != disabled || len(st.Signups) != userlist.ChartDays || st.MaxSignups < 100 {
		t.Fatalf("stats %+v", st)
	}
	// Day 30 ago is partly outside the chart; today holds half a day.
	if sum < 2800 || sum > 3000 || st.NewToday < 40 || st.NewToday > 60 {
		t.Fatalf("sign-ups in chart %d, today %d", sum, st.NewToday)
	}
	if st.Active7d < 200 {
		t.Fatalf("active in 7 days: %d", st.Active7d)
	}
}

func reverse(us []*ent.User) []*ent.User {
	out := make([]*ent.User, len(us))
	for i, u := range us {
		out[len(us)-1-i] = u
	}
	return out
}

// A page number past every page, up to the largest int, neither wraps
// the OFFSET negative (SQLite would show page 1 under that number) nor
// fails (PostgreSQL refuses a negative OFFSET), on a capped search too,
// where the last page is not known.
func TestPageNumberNeverOverflows(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		db := apptest.OpenDB(t, b.URL(t))
		ctx := context.Background()
		if err := fakeusers.Insert(ctx, db, userlist.CountCap+10, fakeusers.Options{Rand: rand.New(rand.NewPCG(5, 6))}); err != nil {
			t.Fatal(err)
		}
		// Every nickname starts with x: the search "x" is capped.
		err := db.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
			return tx.User.Update().SetNickname("x").Exec(ctx)
		})
		if err != nil {
			t.Fatal(err)
		}
		s := userlist.New(db)
		for _, perPage := range []int{0, 1, 50, userlist.MaxPerPage} {
			for _, page := range []int{math.MaxInt, math.MaxInt - 1, math.MaxInt / 2, math.MaxInt32, userlist.MaxOffset} {
				p, err := s.List(ctx, userlist.Query{Q: "x"}, page, perPage)
				if err != nil {
					t.Fatalf("page %d of %d: %v", page, perPage, err)
				}
				if !p.Capped || len(p.Users) != 0 || p.HasNext {
					t.Fatalf("page %d of %d: capped %v, %d users, next %v; want an empty last page", page, perPage, p.Capped, len(p.Users), p.HasNext)
				}
				if p.Page > userlist.MaxOffset/p.PerPage+1 || p.Page < 1 {
					t.Fatalf("page %d of %d shown as page %d", page, perPage, p.Page)
				}
			}
		}
		// Unsearched, a huge page is the last page.
		p, err := s.List(ctx, userlist.Query{}, math.MaxInt, 50)
		if err != nil || p.Page != p.Pages() || len(p.Users) != (userlist.CountCap+10)%50 {
			t.Fatalf("last page: %v, page %d of %d, %d users", err, p.Page, p.Pages(), len(p.Users))
		}
		// And ordinary deep pages of the capped search still work.
		p, err = s.List(ctx, userlist.Query{Q: "x", Sort: "id"}, 201, 50)
		if err != nil || len(p.Users) != 10 || p.Users[0].ID != 10001 {
			t.Fatalf("page 201 of the capped search: %v, %d users", err, len(p.Users))
		}
	})
}
