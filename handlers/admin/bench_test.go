package admin_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/cli/fakeusers"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/userlist"
)

// BenchUsersEnv overrides how many users BenchmarkUsersPage seeds.
const BenchUsersEnv = "MINIAUTH_BENCH_USERS"

// BenchmarkUsersPage measures /admin/users at a million users (seeded in
// a few seconds by fakeusers.Insert): the time from request to the whole
// rendered page over loopback, so server-side render time plus well
// under a millisecond of HTTP. Run it with
//
//	go test -run '^$' -bench UsersPage -benchtime 50x ./handlers/admin/
//
// It is a benchmark, so the ordinary test run never seeds a million rows.
func BenchmarkUsersPage(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv(BenchUsersEnv)); err == nil && v > 0 {
		n = v
	}
	dir := b.TempDir()
	ctx := context.Background()
	db, err := database.Open(ctx, database.Options{URL: filepath.Join(dir, "miniauth.db")})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := fakeusers.Insert(ctx, db, n, fakeusers.Options{}); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d users in %v (%.0f users/s)", n, time.Since(start).Round(time.Millisecond), float64(n)/time.Since(start).Seconds())
	mid, err := db.Read.User.Get(ctx, n/2)
	if err != nil {
		b.Fatal(err)
	}
	db.Close()

	p := startPanel(b, apptest.Options{DataDir: dir})
	cookie := p.signIn(b)
	deep := strconv.Itoa(n / 2 / userlist.DefaultPerPage)
	last := strconv.Itoa((n + userlist.DefaultPerPage - 1) / userlist.DefaultPerPage)
	cases := []struct{ name, query string }{
		{"first_page", ""},
		{"deep_page", "page=" + deep},
		{"last_page", "page=" + last},
		{"deep_page_by_created", "sort=-created&page=" + deep},
		{"nickname_prefix", "q=Alice"},
		{"nickname_prefix_broad", "q=" + url.QueryEscape("微信用户")},
		{"exact_openid", "q=" + url.QueryEscape(mid.Openid)},
		{"exact_phone", "q=" + url.QueryEscape(mid.Phone)},
	}
	for _, c := range cases {
		path := "/admin/users"
		if c.query != "" {
			path += "?" + c.query
		}
		b.Run(c.name, func(b *testing.B) {
			expectHTML(b, p.get(b, path, cookie), 200, `id="users-table"`) // warm: caches and pages
			b.ResetTimer()
			for b.Loop() {
				if r := p.get(b, path, cookie); r.Status != 200 {
					b.Fatalf("%s: %d", path, r.Status)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
		})
	}
}
