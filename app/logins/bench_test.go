package logins_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/app/wechatsim"
)

// BenchmarkLogin is a login's work after the HTTP layer on SQLite, as
// go run ./bench drives it: concurrent logins (so the writer groups
// them), every other one a returning user of a warm pool. WeChat is the
// in-process simulator. Compare builds by ns/op and allocs/op.
func BenchmarkLogin(b *testing.B) {
	f := newFixture(b, "")
	const pool = 1000
	for i := range pool {
		code := f.wechat.NewCode(wechatsim.Identity{OpenID: fmt.Sprintf("o_pool_%d", i)})
		if _, err := f.svc.Login(context.Background(), "", code, profiles.Profile{}, device); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			openid := fmt.Sprintf("o_new_%d", i)
			if i%2 == 0 {
				openid = fmt.Sprintf("o_pool_%d", i%pool)
			}
			code := f.wechat.NewCode(wechatsim.Identity{OpenID: openid})
			if _, err := f.svc.Login(context.Background(), "", code, profiles.Profile{}, device); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
