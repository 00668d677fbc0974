package wechatsim

import (
	"net/http"
	"strconv"
	"time"
)

// The APIs a server uses to guard sign-up and the phone bill:
// getUserRiskRank and the phone-number package's usage (WECHAT.md 5.6,
// 5.8).
const (
	PathRiskRank     = "/wxa/getuserriskrank"
	PathChargeUsage  = "/wxa/charge/usage/get"
	SpuPhoneNumber   = "10000077" // 手机号快速验证组件
	SpuRealtimePhone = "10000086" // 手机号实时验证组件
	// TrialPhoneQuota is the free package every mini program starts with.
	TrialPhoneQuota = 1000
)

// guardState is the simulator's risk ranks and phone billing.
type guardState struct {
	ranks     map[string]int // by openid; absent: 0
	riskCalls []RiskCall
	quota     map[string]int64 // by app id; absent: TrialPhoneQuota
	billed    map[string]int64 // taps billed, by app id
}

// RiskCall is one getUserRiskRank request as the simulator received it.
type RiskCall struct {
	AppID, OpenID, ClientIP string
	Scene                   int
}

// SetRiskRank makes getUserRiskRank answer rank (0–4) for openid.
func (s *Server) SetRiskRank(openid string, rank int) {
	s.mu.Lock()
	if s.guard.ranks == nil {
		s.guard.ranks = map[string]int{}
	}
	s.guard.ranks[openid] = rank
	s.mu.Unlock()
}

// RiskCalls lists the getUserRiskRank requests received so far.
func (s *Server) RiskCalls() []RiskCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RiskCall(nil), s.guard.riskCalls...)
}

// SetPhoneQuota sets the calls an app's phone-number packages hold in
// all (default TrialPhoneQuota).
func (s *Server) SetPhoneQuota(appID string, all int64) {
	s.mu.Lock()
	if s.guard.quota == nil {
		s.guard.quota = map[string]int64{}
	}
	s.guard.quota[appID] = all
	s.mu.Unlock()
}

// PhoneBilled is how many phone-button taps WeChat billed to appID.
func (s *Server) PhoneBilled(appID string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.guard.billed[appID]
}

// billTapLocked bills one phone-button tap. s.mu must be held.
func (s *Server) billTapLocked(appID string) {
	if s.guard.billed == nil {
		s.guard.billed = map[string]int64{}
	}
	s.guard.billed[appID]++
}

// serveGuard answers the guard APIs; false: path is not one of them.
func (s *Server) serveGuard(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case PathRiskRank:
		s.riskRank(w, r)
	case PathChargeUsage:
		s.chargeUsage(w, r)
	default:
		return false
	}
	return true
}

// tokenAppOf checks a business call's access token: the app it belongs
// to, or false after answering the errcode.
func (s *Server) tokenAppOf(w http.ResponseWriter, r *http.Request) (string, bool) {
	token := r.URL.Query().Get("access_token")
	s.mu.Lock()
	code := s.checkToken(token)
	app := ""
	if st := s.tokens[token]; st != nil {
		app = st.appID
	}
	s.mu.Unlock()
	switch code {
	case 0:
		return app, true
	case 42001:
		s.writeError(w, code, "access_token expired")
	default:
		s.writeError(w, code, "invalid credential, access_token is invalid or not latest")
	}
	return "", false
}

// riskRank answers POST /wxa/getuserriskrank.
func (s *Server) riskRank(w http.ResponseWriter, r *http.Request) {
	var in struct {
		AppID    string `json:"appid"`
		OpenID   string `json:"openid"`
		Scene    *int   `json:"scene"`
		ClientIP string `json:"client_ip"`
	}
	if !s.readPOST(w, r, &in) {
		return
	}
	app, ok := s.tokenAppOf(w, r)
	if !ok {
		return
	}
	switch {
	case in.AppID != app:
		s.writeError(w, 40013, "invalid appid")
		return
	case in.OpenID == "":
		s.writeError(w, 40003, "invalid openid")
		return
	case in.Scene == nil || *in.Scene < 0 || *in.Scene > 2:
		s.writeError(w, 40129, "invalid scene")
		return
	case in.ClientIP == "":
		s.writeError(w, 47001, "data format error: client_ip")
		return
	}
	s.mu.Lock()
	s.guard.riskCalls = append(s.guard.riskCalls, RiskCall{AppID: in.AppID, OpenID: in.OpenID, ClientIP: in.ClientIP, Scene: *in.Scene})
	rank := s.guard.ranks[in.OpenID]
	n := len(s.guard.riskCalls)
	s.mu.Unlock()
	s.writeJSON(w, map[string]any{"errcode": 0, "errmsg": "getuserriskrank succ", "risk_rank": rank, "unoin_id": 100000 + n})
}

// chargeUsage answers GET (or POST) /wxa/charge/usage/get: the app's
// phone-number package, with the taps billed so far.
func (s *Server) chargeUsage(w http.ResponseWriter, r *http.Request) {
	app, ok := s.tokenAppOf(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	spu := q.Get("spuId")
	limit, err := strconv.Atoi(q.Get("limit"))
	if q.Get("limit") == "" {
		limit, err = 20, nil
	}
	if (spu != SpuPhoneNumber && spu != SpuRealtimePhone) || err != nil || limit < 1 || limit > 20 {
		s.writeError(w, 10120002, "invalid param")
		return
	}
	s.mu.Lock()
	all, set := s.guard.quota[app]
	if !set {
		all = TrialPhoneQuota
	}
	used := int64(0)
	if spu == SpuPhoneNumber {
		used = s.guard.billed[app]
	}
	s.mu.Unlock()
	start := time.Now().AddDate(0, -1, 0).Unix()
	s.writeJSON(w, map[string]any{
		"errcode":      0,
		"errmsg":       "ok",
		"all":          strconv.FormatInt(all, 10),
		"effectiveAll": "0",
		"effectiveUse": strconv.FormatInt(used, 10),
		"total":        1,
		"detailList": []map[string]any{{
			"all": strconv.FormatInt(all, 10), "used": strconv.FormatInt(used, 10), "source": 1,
			"startTime": start, "endTime": 4294967295, "spuId": spu, "skuId": "20000093", "pkgId": "", "status": 1,
		}},
	})
}
