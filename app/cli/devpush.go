package cli

import (
	"context"
	"flag"
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/miniauth/miniauth/app"
	"github.com/miniauth/miniauth/app/wechatsim"
)

const devPushUsage = `Usage:
  miniauth dev push [--url URL] [--appid APPID] [--xml] EVENT ARGS…

Delivers one message push event to a running miniauth the way WeChat does:
signed with the app's Token and, in safe mode, encrypted with its
EncodingAESKey (from the same MINIAUTH_WECHAT_PUSH* variables as the
server; with the built-in simulator and none set, the simulator's public
development settings). EVENT is one of:

  check-url                     the console's URL check (GET, echostr)
  revoke OPENID ITEMS           user_authorization_revoke, RevokeInfo ITEMS
                                (6 nickname+avatar, 19 nickname, 20 avatar, 8 phone)
  cancel OPENID                 user_authorization_cancellation (account closed)
  modified OPENID               user_info_modified (WeChat cleaned the profile)
  media OPENID TRACE_ID VERDICT wxa_media_check: pass, review, risky or fail (-1008)

OPENID is the user's openid in that mini program (the admin panel's user
page shows it). The answer's status and body are printed.
`

// devPush pushes one event to a running server (development only).
func devPush(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("dev push", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() { fmt.Fprint(env.Stderr, devPushUsage) }
	url := fs.String("url", "", "the server's base URL (default: http://127.0.0.1 on MINIAUTH_ADDR's port)")
	appID := fs.String("appid", "", "the mini program (default: the only one with push settings)")
	xml := fs.Bool("xml", false, "send XML instead of JSON (the console's data format)")
	force := fs.Bool("force", false, "push even when MINIAUTH_ENV=production")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(env.Stderr, devPushUsage)
		return errUsage
	}
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	if cfg.Production() && !*force {
		return fmt.Errorf("dev push: refusing to forge WeChat events for a production server (MINIAUTH_ENV=production); pass --force if you mean it")
	}
	apps := app.PushApps(cfg)
	if *appID == "" {
		var ids []string
		for id := range apps {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		if len(ids) != 1 {
			return fmt.Errorf("dev push: --appid is required: message push is configured for %d mini programs (%s)", len(ids), strings.Join(ids, ", "))
		}
		*appID = ids[0]
	}
	pa, ok := apps[*appID]
	if !ok {
		return fmt.Errorf("dev push: no message push settings for %s (MINIAUTH_WECHAT_PUSH)", *appID)
	}
	base := *url
	if base == "" {
		_, port, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			return fmt.Errorf("dev push: cannot tell the server's port from MINIAUTH_ADDR %q; pass --url", cfg.Addr)
		}
		base = "http://127.0.0.1:" + port
	}
	p := &wechatsim.Pusher{URL: strings.TrimRight(base, "/") + "/api/wechat/push/" + pa.AppID, AppID: pa.AppID,
		Token: pa.Token, AESKey: pa.AESKey, XML: *xml}
	need := func(n int) error {
		if len(rest) != n+1 {
			fmt.Fprint(env.Stderr, devPushUsage)
			return errUsage
		}
		return nil
	}
	var ev wechatsim.PushEvent
	switch rest[0] {
	case "check-url":
		if err := need(0); err != nil {
			return err
		}
		ok, err := p.CheckURL(ctx)
		if err != nil {
			return fmt.Errorf("dev push: %v", err)
		}
		if !ok {
			return fmt.Errorf("dev push: %s did not echo the URL check", p.URL)
		}
		fmt.Fprintln(env.Stdout, "URL check passed:", p.URL)
		return nil
	case "revoke":
		if err := need(2); err != nil {
			return err
		}
		ev = wechatsim.Revoke(rest[1], rest[2])
	case "cancel":
		if err := need(1); err != nil {
			return err
		}
		ev = wechatsim.Cancellation(rest[1])
	case "modified":
		if err := need(1); err != nil {
			return err
		}
		ev = wechatsim.InfoModified(rest[1])
	case "media":
		if err := need(3); err != nil {
			return err
		}
		switch rest[3] {
		case "pass", "review", "risky":
			ev = wechatsim.MediaCheck(rest[1], rest[2], rest[3])
		case "fail":
			ev = wechatsim.PushEvent{Event: "wxa_media_check", OpenID: rest[1], TraceID: rest[2], ErrCode: -1008}
		default:
			return fmt.Errorf("dev push: the verdict must be pass, review, risky or fail, not %q", rest[3])
		}
	default:
		fmt.Fprint(env.Stderr, devPushUsage)
		return errUsage
	}
	status, body, err := p.Push(ctx, ev)
	if err != nil {
		return fmt.Errorf("dev push: %v", err)
	}
	fmt.Fprintf(env.Stdout, "%s → %d %s\n", ev.Event, status, body)
	if status != 200 {
		return fmt.Errorf("dev push: the server refused the event")
	}
	return nil
}
