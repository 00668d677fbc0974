package wechat

import (
	"errors"
	"sync"
)

// MaxSimulatedApps bounds the apps a development simulator makes up on
// demand, so that a client inventing app ids cannot grow memory.
const MaxSimulatedApps = 64

// Errors of Clients.Pick.
var (
	// ErrAppRequired: several apps are configured and the request named none.
	ErrAppRequired = errors.New("appid is required: several mini programs are configured")
	// ErrUnknownApp: the request named an app that is not configured.
	ErrUnknownApp = errors.New("appid is not a configured mini program")
)

// Clients are the WeChat applications of one kind that miniauth serves,
// by AppID (its mini programs, or its Official Accounts, or its mobile
// apps), one Client each, so each has its own stable access token cache.
type Clients struct {
	order   []string
	clients map[string]*Client
	// simulate, when set, makes a client for any app id (the development
	// simulator serves any).
	simulate func(appID string) *Client

	mu        sync.Mutex
	simulated map[string]*Client
}

// NewClients serves the given clients; the first is the default.
func NewClients(clients ...*Client) *Clients {
	a := &Clients{clients: map[string]*Client{}}
	for _, c := range clients {
		a.order = append(a.order, c.AppID())
		a.clients[c.AppID()] = c
	}
	return a
}

// NewSimulatedClients serves def and makes a client for any other app id
// with make, up to MaxSimulatedApps.
func NewSimulatedClients(def *Client, make func(appID string) *Client) *Clients {
	a := NewClients(def)
	a.simulate, a.simulated = make, map[string]*Client{}
	return a
}

// Default is the first app.
func (a *Clients) Default() *Client { return a.clients[a.order[0]] }

// IDs are the configured app ids, the default first.
func (a *Clients) IDs() []string { return append([]string(nil), a.order...) }

// Pick is the app a request names: with one app (or the simulator) the
// name may be empty; with several it is required.
func (a *Clients) Pick(appID string) (*Client, error) {
	if appID == "" {
		if len(a.order) > 1 {
			return nil, ErrAppRequired
		}
		return a.Default(), nil
	}
	if c, ok := a.Get(appID); ok {
		return c, nil
	}
	return nil, ErrUnknownApp
}

// Get is the client of appID, if it is served. An empty id (a session
// from before several apps were served) is the default app.
func (a *Clients) Get(appID string) (*Client, bool) {
	if appID == "" {
		return a.Default(), true
	}
	if c, ok := a.clients[appID]; ok {
		return c, true
	}
	if a.simulate == nil {
		return nil, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.simulated[appID]; ok {
		return c, true
	}
	if len(a.simulated) >= MaxSimulatedApps {
		return nil, false
	}
	c := a.simulate(appID)
	a.simulated[appID] = c
	return c, true
}
