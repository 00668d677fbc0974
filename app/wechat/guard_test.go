package wechat

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/miniauth/miniauth/app/wechatsim"
)

func TestRiskRank(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.SetRiskRank("o_risky", 3)
	rank, err := f.client.RiskRank(t.Context(), "o_risky", RiskSceneSignUp, "203.0.113.9")
	if err != nil || rank != 3 {
		t.Fatalf("rank %d, %v", rank, err)
	}
	calls := f.sim.RiskCalls()
	if len(calls) != 1 || calls[0] != (wechatsim.RiskCall{AppID: f.client.AppID(), OpenID: "o_risky", ClientIP: "203.0.113.9", Scene: 0}) {
		t.Fatalf("sent %+v", calls)
	}
	f.sim.Fail(PathRiskRank, wechatsim.Failure{ErrCode: 61010})
	var we *Error
	if _, err := f.client.RiskRank(t.Context(), "o_risky", RiskSceneSignUp, "203.0.113.9"); !errors.As(err, &we) || we.Code != 61010 {
		t.Fatalf("errcode answer: %v", err)
	}
}

func TestPhoneUsage(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.SetPhoneQuota(f.client.AppID(), 2000)
	f.sim.NewPhoneCode("13800000000", "86")
	f.sim.NewPhoneCode("13800000001", "86")
	u, err := f.client.PhoneUsage(t.Context())
	if err != nil || *u != (Usage{All: 2000, Used: 2}) {
		t.Fatalf("usage %+v, %v", u, err)
	}
}

// TestPhoneUsageShapes: the community-posted answer before billing began
// (all set, effectiveUse absent: the packages are added up), and the
// deprecated effectiveAll.
func TestPhoneUsageShapes(t *testing.T) {
	for name, c := range map[string]struct {
		body string
		want Usage
	}{
		"real trial answer": {`{"errcode":0,"all":"1000","effectiveAll":"0","total":1,"detailList":[{"all":"1000","used":"0","source":1,"startTime":1692979200,"spuId":"10000077","pkgId":"","endTime":4294967295,"skuId":"20000093","status":2}]}`, Usage{All: 1000}},
		"effectiveAll only": {`{"errcode":0,"effectiveAll":"500","effectiveUse":"12"}`, Usage{All: 500, Used: 12}},
		"numbers":           {`{"errcode":0,"all":3000,"effectiveUse":7}`, Usage{All: 3000, Used: 7}},
	} {
		t.Run(name, func(t *testing.T) {
			c := c
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/cgi-bin/stable_token" {
					w.Write([]byte(`{"access_token":"tok","expires_in":7200}`))
					return
				}
				if r.Method != http.MethodGet || r.URL.Query().Get("spuId") != SpuPhoneNumber || r.URL.Query().Get("access_token") != "tok" {
					t.Errorf("request %s %s", r.Method, r.URL)
				}
				w.Header().Set("Content-Type", "text/plain")
				w.Write([]byte(c.body))
			}))
			defer srv.Close()
			cl := New(Options{BaseURL: srv.URL, AppID: "wxapp", Secret: "s"})
			u, err := cl.PhoneUsage(t.Context())
			if err != nil || *u != c.want {
				t.Fatalf("got %+v, %v", u, err)
			}
		})
	}
}
