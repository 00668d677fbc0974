// Package app wires miniauth together: configuration, database, WeChat
// client, token keys, domain services and the HTTP routes.
package app

import (
	"context"
	"errors"
	"fmt"
	"github.com/miniauth/miniauth/app/sessions"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"github.com/miniauth/miniauth/app/avatars"
	"github.com/miniauth/miniauth/app/config"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/keys"
	"github.com/miniauth/miniauth/app/logins"
	"github.com/miniauth/miniauth/app/metrics"
	"github.com/miniauth/miniauth/app/oalogin"
	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/app/sessioncache"
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/app/weblogin"
	"github.com/miniauth/miniauth/app/wechat"
	"github.com/miniauth/miniauth/app/wechatevents"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/ent/session"
	"github.com/miniauth/miniauth/handlers"
	"github.com/miniauth/miniauth/handlers/admin"
)

// HTTP server limits.
const (
	// ReadBufferSize bounds a request's headers: a request whose headers do
	// not fit (a 4,000-character token) is answered 431
	// request_header_too_large. Real tokens are a few hundred bytes.
	ReadBufferSize  = 4096
	ReadTimeout     = 15 * time.Second
	WriteTimeout    = 60 * time.Second
	IdleTimeout     = 75 * time.Second
	ShutdownTimeout = 10 * time.Second
)

// Server is a ready-to-run miniauth.
type Server struct {
	Config *config.Config
	Log    *slog.Logger
	DB     *database.DB
	Keys   *keys.Set
	// Ring is the asymmetric signing keys of access tokens; nil with
	// MINIAUTH_JWT_ALG=HS256.
	Ring *keys.Ring
	// Sessions is the live-session check, ending sessions and the
	// change feed that keeps every instance's session cache true.
	Sessions *sessions.Service
	// Logins opens sessions: mini program, phone, Official Account and
	// app logins, web sessions, refreshes.
	Logins *logins.Service
	// Profiles is the rest of a user's account: profile, avatars,
	// phone, roles, deletion, disabling.
	Profiles *profiles.Service
	// OALogin signs people in through Official Accounts' H5 pages and
	// mobile apps.
	OALogin *oalogin.Service
	// WebLogin signs browsers in by scanning a mini program code.
	WebLogin *weblogin.Service
	Fiber    *fiber.App
	// Metrics is nil unless MINIAUTH_METRICS_ADDR is set.
	Metrics *metrics.Metrics
	// Events acts on what WeChat's message push delivers (wechatpush.go).
	Events *wechatevents.Service
	own    []Routes // the team's own API (see extend.go)
	// mpVerifyName and mpVerifyContent are the MP_verify_*.txt file
	// WeChat checks a web authorization domain with.
	mpVerifyName    string
	mpVerifyContent []byte

	dataVersion atomic.Int64 // followOtherWriters' last PRAGMA data_version
}

// DatabaseOptions is how the configuration selects the database.
func DatabaseOptions(cfg *config.Config) database.Options {
	url := cfg.DatabaseURL
	if url == "" {
		url = cfg.SQLitePath()
	}
	return database.Options{URL: url, MaxOpenConns: cfg.DBMaxOpenConns, MaxIdleConns: cfg.DBMaxIdleConns, Sync: cfg.SQLiteSync,
		LegacyAppID: cfg.PrimaryAppID(wechatsim.DevelopmentAppID)}
}

// New builds a server: it prepares the data dir, opens and migrates the
// database, and loads or creates the server secret. own are the team's
// own routes, if any.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger, own ...Routes) (*Server, error) {
	for _, o := range own {
		if err := o.check(); err != nil {
			return nil, err
		}
	}
	if err := cfg.PrepareDataDir(); err != nil {
		return nil, err
	}
	ks, err := keys.Load(cfg.JWTSecret, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	opts := DatabaseOptions(cfg)
	opts.Log = log
	db, err := database.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	s := &Server{Config: cfg, Log: log, DB: db, Keys: ks, own: own}
	if s.mpVerifyName, s.mpVerifyContent, err = readMPVerify(cfg.Doors.MPVerifyFile); err != nil {
		db.Close()
		return nil, err
	}
	if cfg.MetricsAddr != "" {
		s.Metrics = metrics.New(func(ctx context.Context) (int, error) {
			return db.Read.Session.Query().Where(session.RevokedAtIsNil(), session.ExpiresAtGT(time.Now().UTC())).Count(ctx)
		})
		s.Metrics.WatchReadiness(db.Faults.Reason, database.Reasons, func() map[string]uint64 {
			out := map[string]uint64{}
			for c, n := range db.Faults.Counts() {
				out[string(c)] = n
			}
			return out
		})
	}
	w := newWeChat(cfg, log, &wechat.DBTokenStore{DB: db, Keys: ks}, s.Metrics)
	access := &tokens.Signer{Kind: tokens.Access, Key: ks.UserToken, TTL: cfg.AccessTTL}
	if keys.Asymmetric(cfg.JWTAlg) {
		if s.Ring, err = keys.OpenRing(ctx, db, ks, cfg.JWTAlg, cfg.AccessTTL, log); err != nil {
			db.Close()
			return nil, err
		}
		access.Keys = s.Ring
	}
	s.Sessions = &sessions.Service{DB: db, Cache: newSessionCache(cfg, db), Log: log}
	s.Profiles = &profiles.Service{
		DB:           db,
		MiniPrograms: w.mini,
		Keys:         ks,
		Log:          log,
		Avatars:      avatars.New(filepath.Join(cfg.DataDir, "uploads", "avatars")),
		Sessions:     s.Sessions,
		Content:      newContentCheck(cfg, log),
	}
	s.Logins = &logins.Service{
		DB:           db,
		MiniPrograms: w.mini,
		Keys:         ks,
		Access:       access,
		RefreshTTL:   cfg.RefreshTTL,
		Log:          log,
		Sessions:     s.Sessions,
		Profiles:     s.Profiles,
	}
	s.Events = s.newEvents()
	s.Profiles.Guard = s.guard()
	s.WebLogin = s.newWebLogin()
	s.OALogin = &oalogin.Service{
		DB: db, Keys: ks, Logins: s.Logins, OA: w.oa, Mobile: w.mobile,
		OpenBase: cfg.Doors.OpenBase, PublicURL: cfg.Doors.PublicURL, ReturnURLs: cfg.Doors.ReturnURLs,
		Log: log,
	}
	if s.OALogin.OpenBase == "" && !cfg.Simulated() {
		s.OALogin.OpenBase = config.DefaultWeChatOpenBase
	}
	s.Fiber = s.routes()
	return s, nil
}

// newSessionCache is the per-request session cache, or nil when
// MINIAUTH_SESSION_CACHE is 0. On PostgreSQL other instances write too:
// the cache starts untrusted and is trusted once Serve's change listener
// is up (sessions.FollowChanges).
func newSessionCache(cfg *config.Config, db *database.DB) *sessioncache.Cache {
	if cfg.SessionCache == 0 {
		return nil
	}
	c := sessioncache.New(cfg.SessionCache, nil)
	if db.Dialect == dialect.Postgres {
		c.SetTrusted(false)
	}
	return c
}

// weChatDoors are the WeChat clients of each door: mini programs,
// Official Accounts and mobile apps.
type weChatDoors struct {
	mini, oa, mobile *wechat.Clients // oa and mobile nil: that door is closed
}

// newWeChat is a real WeChat client per configured app, or the simulator
// when no mini program is configured (config.Load refuses that in
// production). The simulator serves any app id a login names, for every
// door that has no real apps configured.
func newWeChat(cfg *config.Config, log *slog.Logger, tokens wechat.TokenStore, m *metrics.Metrics) weChatDoors {
	var observe func(string, time.Duration, string)
	if m != nil {
		observe = m.ObserveWeChat
	}
	real := func(apps []config.WeChatApp) *wechat.Clients {
		if len(apps) == 0 {
			return nil
		}
		var clients []*wechat.Client
		for _, a := range apps {
			clients = append(clients, wechat.New(wechat.Options{BaseURL: cfg.WeChatAPIBase, AppID: a.AppID, Secret: a.Secret, Timeout: cfg.WeChatTimeout,
				Tokens: tokens, Log: log, Observe: observe}))
		}
		return wechat.NewClients(clients...)
	}
	d := weChatDoors{mini: real(cfg.WeChatApps), oa: real(cfg.Doors.OAApps), mobile: real(cfg.Doors.MobileApps)}
	if !cfg.Simulated() {
		return d
	}
	sim := wechatsim.NewDevelopment()
	log.Warn("NO WECHAT CREDENTIALS: the built-in WeChat simulator answers, every login is FAKE " +
		"(any code logs in a user derived from it). Set MINIAUTH_WECHAT_APPID and MINIAUTH_WECHAT_SECRET for real logins.")
	simulated := func(appID string) *wechat.Client {
		return wechat.New(wechat.Options{BaseURL: "http://wechat-simulator.invalid", AppID: appID, Secret: sim.Secret, Timeout: cfg.WeChatTimeout,
			Transport: sim.Transport(), Tokens: tokens, Log: log, Observe: observe})
	}
	d.mini = wechat.NewSimulatedClients(simulated(sim.AppID), simulated)
	if d.oa == nil {
		d.oa = wechat.NewSimulatedClients(simulated("wxsimulatedofficial0"), simulated)
	}
	if d.mobile == nil {
		d.mobile = wechat.NewSimulatedClients(simulated("wxsimulatedmobile00"), simulated)
	}
	return d
}

// baseApp is the Fiber app with the middleware every request passes:
// request id and client IP, metrics, the access log (which also answers
// errors) and panic recovery.
func (s *Server) baseApp() *fiber.App {
	var faults *database.Faults
	if s.DB != nil {
		faults = s.DB.Faults
	}
	onError := handlers.ErrorHandler(s.Log, faults)
	f := fiber.New(fiber.Config{
		AppName: "miniauth",
		// Bodies are streamed, and handlers.LimitBody decides per route how
		// much is read (bodyRule). With streaming, fasthttp reads
		// min(BodyLimit, Content-Length, 8 KiB) bytes before the handlers
		// run; BodyLimit 1 lets them run as soon as the headers and the
		// first byte are in, so an oversized or unauthenticated body is
		// refused without waiting for more. Pre-parsing multipart forms
		// would read a whole upload before the bearer token is checked.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		BodyLimit:                    1,
		ReadBufferSize:               ReadBufferSize,
		ReadTimeout:                  ReadTimeout,
		WriteTimeout:                 WriteTimeout,
		IdleTimeout:                  IdleTimeout,
		ErrorHandler:                 onError,
		Views:                        s.views(),
		DisableStartupMessage:        true,
		// Fiber's own X-Forwarded-For handling is off; handlers.Identify
		// does it against MINIAUTH_TRUSTED_PROXIES.
		EnableTrustedProxyCheck: false,
	})
	f.Server().Handler = handlers.VerifyAnyMethod(f.Server().Handler)
	f.Use(handlers.Identify(s.Config.TrustedProxies))
	if s.Metrics != nil {
		// Outside AccessLog, which turns errors into responses, so that
		// it sees every final status.
		f.Use(handlers.Metrics(s.Metrics))
	}
	f.Use(handlers.AccessLog(s.Log, onError))
	f.Use(recover.New())
	f.Use(handlers.LimitBody(bodyRule))
	return f
}

// bodyRule is how much body each route may read. Only the avatar upload
// reads megabytes, and only after its token is checked; the JSON API reads
// at most 1 MiB; everything else a few KiB. Fiber routes ignore case and a
// trailing slash, so the rule does too.
func bodyRule(method, path string) handlers.BodyRule {
	p := strings.TrimRight(strings.ToLower(path), "/")
	switch {
	case method == fiber.MethodPost && p == "/api/me/avatar":
		return handlers.BodyRule{Limit: handlers.MaxAvatarBody, Streamed: true}
	case strings.HasPrefix(p, strings.TrimRight(handlers.PushPathPrefix, "/")):
		return handlers.BodyRule{Limit: handlers.MaxPushBody}
	case p == strings.ToLower(handlers.VerifyPath):
		return handlers.BodyRule{Limit: 0} // proxies send none; reading one is work for nobody
	case strings.HasPrefix(p, "/api/"):
		return handlers.BodyRule{Limit: handlers.MaxJSONBody}
	case p == "/admin" || strings.HasPrefix(p, "/admin/"):
		return handlers.BodyRule{Limit: admin.MaxFormBody}
	}
	return handlers.BodyRule{Limit: handlers.MaxSmallBody}
}

// Serve answers on ln until ctx ends, then shuts down gracefully: it stops
// accepting, gives in-flight requests ShutdownTimeout to finish, and
// closes the database.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 2)
	go func() { errc <- s.Fiber.Listener(lingerListener{ln}) }()
	go s.purgeSessions(ctx)
	follow, stopFollowing := context.WithCancel(ctx)
	defer stopFollowing()
	go s.Sessions.FollowChanges(follow)
	go s.followOtherWriters(ctx)
	go s.sweepAvatars(ctx)
	go s.WebLogin.Run(ctx)
	go s.Events.Run(ctx)
	go s.watchPhoneCosts(ctx)
	if s.Metrics != nil {
		msrv := &http.Server{Addr: s.Config.MetricsAddr, Handler: metricsMux(s.Metrics, s.Config.PProf), ReadHeaderTimeout: 10 * time.Second}
		mln, err := net.Listen("tcp", s.Config.MetricsAddr)
		if err != nil {
			s.Fiber.Shutdown()
			s.DB.Close()
			return fmt.Errorf("MINIAUTH_METRICS_ADDR: %v", err)
		}
		s.Log.Info("metrics listening", "addr", mln.Addr().String(), "path", "/metrics")
		go msrv.Serve(mln)
		defer msrv.Close()
	}
	select {
	case err := <-errc:
		s.DB.Close()
		return err
	case <-ctx.Done():
	}
	s.Log.Info("shutting down", "grace", ShutdownTimeout.String())
	err := s.Fiber.ShutdownWithTimeout(ShutdownTimeout)
	if cerr := s.DB.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	s.Log.Info("stopped")
	return nil
}

// purgeInterval is how often ended sessions are purged.
const purgeInterval = time.Hour

// purgeSessions deletes long-ended sessions now and then until ctx ends.
// Several instances may do it at once: deleting is idempotent.
func (s *Server) purgeSessions(ctx context.Context) {
	t := time.NewTicker(purgeInterval)
	defer t.Stop()
	for {
		n, err := s.Sessions.PurgeEnded(ctx, time.Now().UTC().Add(-sessions.SessionRetention))
		switch {
		case err != nil && ctx.Err() == nil:
			s.Log.Warn("purge ended sessions", "err", err)
		case n > 0:
			s.Log.Info("purged ended sessions", "sessions", n, "retention", sessions.SessionRetention.String())
		}
		s.purgeAudit(ctx)
		s.purgePushEvents(ctx)
		if n, err := s.OALogin.Purge(ctx, time.Now().UTC().Add(-oalogin.Retention)); err != nil && ctx.Err() == nil {
			s.Log.Warn("purge Official Account authorizations", "err", err)
		} else if n > 0 {
			s.Log.Debug("purged Official Account authorizations", "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepAvatars removes avatar files no one uses at start-up and then
// every purgeInterval until ctx ends (profiles.Service.SweepAvatars).
func (s *Server) sweepAvatars(ctx context.Context) {
	t := time.NewTicker(purgeInterval)
	defer t.Stop()
	for {
		n, err := s.Profiles.SweepAvatars(ctx, time.Now().Add(-profiles.AvatarSweepGrace))
		switch {
		case err != nil && ctx.Err() == nil:
			s.Log.Warn("sweep avatar files", "err", err)
		case n > 0:
			s.Log.Info("swept unused avatar files", "files", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// metricsMux serves the private listener: metrics, and with MINIAUTH_PPROF=1
// Go's profiler for the operator chasing a slow request. The profiler is
// off by default: a metrics port opened to a scraper on another host
// would otherwise also hand out heap dumps and CPU time.
func metricsMux(m *metrics.Metrics, withPProf bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	if !withPProf {
		return mux
	}
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// otherWritersPoll is how often a SQLite server looks for writes made by
// another process.
const otherWritersPoll = 250 * time.Millisecond

// followOtherWriters keeps the session cache true to writes made by other
// processes on SQLite (a CLI command such as `miniauth user roles`): they
// cannot tell this process, as PostgreSQL's NOTIFY does, so it looks for
// them every otherWritersPoll until ctx ends.
func (s *Server) followOtherWriters(ctx context.Context) {
	if s.DB.Dialect != dialect.SQLite || s.Sessions.Cache == nil {
		return
	}
	t := time.NewTicker(otherWritersPoll)
	defer t.Stop()
	for {
		if err := s.NoticeOtherWriters(ctx); err != nil && ctx.Err() == nil {
			s.Log.Warn("look for other processes' writes", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// NoticeOtherWriters flushes the session cache if another process wrote
// to the SQLite database since the last look (elsewhere it does nothing). SQLite's data_version, read
// on the one write connection, changes only when another connection
// commits, and this process writes through that connection alone: a
// change is another process's write.
func (s *Server) NoticeOtherWriters(ctx context.Context) error {
	if s.DB.Dialect != dialect.SQLite || s.Sessions.Cache == nil {
		return nil
	}
	var v int64
	if err := s.DB.SQL.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		return err
	}
	if old := s.dataVersion.Swap(v); old != 0 && old != v {
		s.Sessions.Cache.Flush()
	}
	return nil
}

// mpVerifyName is the shape of WeChat's domain-ownership file name.
var mpVerifyName = regexp.MustCompile(`^MP_verify_[A-Za-z0-9]{1,64}\.txt$`)

// readMPVerify reads MINIAUTH_MP_VERIFY_FILE, the file WeChat asks to
// find at the root of a web authorization domain ("": none).
func readMPVerify(path string) (string, []byte, error) {
	if path == "" {
		return "", nil, nil
	}
	name := filepath.Base(path)
	if !mpVerifyName.MatchString(name) {
		return "", nil, fmt.Errorf("MINIAUTH_MP_VERIFY_FILE: %q is not named MP_verify_<letters and digits>.txt, as WeChat's file is", name)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, fmt.Errorf("MINIAUTH_MP_VERIFY_FILE: %w", err)
	}
	if len(b) > 1024 {
		return "", nil, fmt.Errorf("MINIAUTH_MP_VERIFY_FILE: %s is %d bytes; WeChat's file is a few", path, len(b))
	}
	return name, b, nil
}

// userTokenKey is how the API verifies access tokens: the signing key
// ring's published keys, or the HS256 key.
func (s *Server) userTokenKey() handlers.UserTokenKey {
	if s.Ring != nil {
		return handlers.UserTokenKey{Keyfunc: s.Ring.Keyfunc}
	}
	return handlers.UserTokenKey{Key: s.Keys.UserToken}
}
