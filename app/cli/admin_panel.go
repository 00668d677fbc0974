package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/ent"
)

// totpTries is how many codes `admin totp` asks for before giving up.
const totpTries = 3

// adminPanelCmd runs `admin role` and `admin totp`, the commands of the
// panel's roles and second factor.
func adminPanelCmd(ctx context.Context, env *Env, sub string, args []string) error {
	fs := flag.NewFlagSet("admin "+sub, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	username := fs.String("username", "", "admin username")
	roleName := fs.String("role", "", "operator or viewer")
	disable := fs.Bool("disable", false, "totp: remove the second factor")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("admin %s: unexpected argument %q\n\n%s", sub, fs.Arg(0), adminUsage)
	case *username == "":
		return fmt.Errorf("admin %s: --username is required", sub)
	case sub == "role" && *roleName == "":
		return fmt.Errorf("admin role: --role operator|viewer is required")
	case sub == "role" && *disable, sub == "totp" && *roleName != "":
		return fmt.Errorf("admin %s: unexpected flag\n\n%s", sub, adminUsage)
	}
	svc, closeDB, err := openAdmins(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	name := admins.NormalizeUsername(*username)
	switch {
	case sub == "role":
		role, err := admins.ParseRole(*roleName)
		if err != nil {
			return fmt.Errorf("admin role: --role: %w", err)
		}
		if err := svc.SetRole(ctx, name, role); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "admin %q is now %s\n", name, role)
		return recordCLI(ctx, svc, audit.RoleChanged, name, "role "+string(role))
	case *disable:
		if err := svc.DisableTOTP(ctx, name); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "second factor of %q removed: password alone signs in\n", name)
		return recordCLI(ctx, svc, audit.TOTPRemoved, name, "")
	default:
		return enrollTOTP(ctx, env, svc, name)
	}
}

// enrollTOTP shows a new secret as an otpauth:// URI and a terminal QR
// code, asks for one code from the app, and prints the recovery codes.
func enrollTOTP(ctx context.Context, env *Env, svc *admins.Service, name string) error {
	e, err := svc.BeginTOTP(ctx, name)
	if err != nil {
		return err
	}
	qr, err := admins.QRTerminal(e.URI)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Scan this QR code with an authenticator app (or enter the key %s by hand):\n\n%s\n%s\n\n",
		admins.EncodeSecret(e.Secret), qr, e.URI)
	if env.Stdin == nil {
		return errors.New("admin totp: no stdin to read the confirmation code from")
	}
	in := bufio.NewReader(io.LimitReader(env.Stdin, 4096))
	for try := 1; ; try++ {
		fmt.Fprint(env.Stdout, "Enter the 6-digit code the app shows: ")
		line, rerr := in.ReadString('\n')
		codes, err := svc.ConfirmTOTP(ctx, name, strings.TrimSpace(line))
		if err == nil {
			fmt.Fprintf(env.Stdout, "\nSecond factor of %q enrolled. Recovery codes (each signs in once; keep them safe, they are not shown again):\n\n", name)
			for _, c := range codes {
				fmt.Fprintln(env.Stdout, "  "+c)
			}
			return recordCLI(ctx, svc, audit.TOTPEnrolled, name, "")
		}
		if !errors.Is(err, admins.ErrWrongCode) {
			return err
		}
		fmt.Fprintln(env.Stdout, "\nThat code is wrong (is the phone's clock right?).")
		if try == totpTries || rerr != nil {
			return fmt.Errorf("admin totp: not confirmed; nothing changed (run the command again)")
		}
	}
}

// recordCLI appends an audit entry for a command run on the server.
func recordCLI(ctx context.Context, svc *admins.Service, action, targetAdmin, detail string) error {
	return audit.New(svc.DB).Record(ctx, audit.Entry{Actor: audit.CLIActor, Action: action, TargetAdmin: targetAdmin, Detail: detail})
}

// printAdmins is `admin list`: with each admin's role and whether a
// second factor is on. Times are in zone (MINIAUTH_TIMEZONE, as the
// panel shows them) with the zone named.
func printAdmins(w io.Writer, list []*ent.Admin, zone *time.Location) error {
	format := func(t time.Time) string { return t.In(zone).Format("2006-01-02 15:04:05 MST") }
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSERNAME\tROLE\t2FA\tCREATED\tLAST SIGN-IN")
	for _, a := range list {
		last := "never"
		if a.LastLoginAt != nil {
			last = format(*a.LastLoginAt)
		}
		twofa := "off"
		if admins.Enrolled(a) {
			twofa = "on"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Username, a.Role, twofa, format(a.CreatedAt), last)
	}
	return tw.Flush()
}
