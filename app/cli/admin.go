package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/app/config"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/keys"
)

const adminUsage = `Usage:
  miniauth admin create --username NAME [--role operator|viewer] --password-stdin
                                          (the password is the first line of stdin; the role defaults to operator)
  miniauth admin list
  miniauth admin passwd --username NAME --password-stdin   (signs out every session of NAME)
  miniauth admin delete --username NAME
  miniauth admin role --username NAME --role operator|viewer
  miniauth admin totp --username NAME [--disable]   (enroll a second factor, or remove it)
`

// adminCmd manages admin panel accounts.
func adminCmd(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(env.Stderr, adminUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	sub := args[0]
	if sub == "role" || sub == "totp" {
		return adminPanelCmd(ctx, env, sub, args[1:]) // admin_panel.go
	}
	fs := flag.NewFlagSet("admin "+sub, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	username := fs.String("username", "", "admin username")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	roleName := fs.String("role", "", "create: operator (default) or viewer")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("admin %s: unexpected argument %q\n\n%s", sub, fs.Arg(0), adminUsage)
	}
	needName := sub == "create" || sub == "passwd" || sub == "delete"
	needPassword := sub == "create" || sub == "passwd"
	switch {
	case sub != "list" && !needName:
		return fmt.Errorf("admin: unknown subcommand %q\n\n%s", sub, adminUsage)
	case needName && *username == "":
		return fmt.Errorf("admin %s: --username is required", sub)
	case *roleName != "" && sub != "create":
		return fmt.Errorf("admin %s: --role is only for create (change a role with: admin role --username NAME --role R)", sub)
	case needPassword && !*fromStdin:
		return fmt.Errorf("admin %s: --password-stdin is required (passwords are never taken from arguments, which other users can see)", sub)
	}
	role, err := admins.ParseRole(*roleName)
	if err != nil {
		return fmt.Errorf("admin %s: --role: %w", sub, err)
	}
	var password string
	if needPassword {
		var err error
		if password, err = readPassword(env.Stdin); err != nil {
			return err
		}
	}

	svc, closeDB, err := openAdmins(ctx, env)
	if err != nil {
		return err
	}
	defer closeDB()
	switch sub {
	case "create":
		a, err := svc.CreateWithRole(ctx, *username, password, role)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "admin %q created (id %d, role %s)\n", a.Username, a.ID, a.Role)
		return recordCLI(ctx, svc, audit.AdminCreated, a.Username, "role "+string(a.Role))
	case "passwd":
		if err := svc.SetPassword(ctx, *username, password); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "password of %q changed; its sessions are signed out\n", admins.NormalizeUsername(*username))
		return recordCLI(ctx, svc, audit.PasswordChanged, admins.NormalizeUsername(*username), "")
	case "delete":
		if err := svc.Delete(ctx, *username); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "admin %q deleted\n", admins.NormalizeUsername(*username))
		return recordCLI(ctx, svc, audit.AdminDeleted, admins.NormalizeUsername(*username), "")
	case "list":
		list, err := svc.List(ctx)
		if err != nil {
			return err
		}
		zone := time.UTC
		if cfg, err := loadConfig(env); err == nil {
			zone = cfg.Timezone
		}
		return printAdmins(env.Stdout, list, zone)
	}
	return nil
}

// readPassword reads one line: a trailing newline (and a Windows \r) is
// not part of the password.
func readPassword(r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("no password on stdin")
	}
	line, err := bufio.NewReader(io.LimitReader(r, admins.MaxPassword+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if err := admins.ValidatePassword(line); err != nil {
		return "", err
	}
	return line, nil
}

func openAdmins(ctx context.Context, env *Env) (*admins.Service, func(), error) {
	cfg, db, err := openFor(ctx, env, database.MustHaveSchema, true)
	if err != nil {
		return nil, nil, err
	}
	ks, err := existingKeys(cfg)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return admins.New(db, ks), func() { db.Close() }, nil
}

// existingKeys derives the server's keys when its secret is configured or
// kept in the data dir, and otherwise throwaway ones: the admin commands
// sign nothing, and must not create a secret beside a database whose
// server keeps its secret elsewhere (MINIAUTH_JWT_SECRET).
func existingKeys(cfg *config.Config) (*keys.Set, error) {
	if _, err := os.Stat(filepath.Join(cfg.DataDir, keys.SecretFile)); cfg.JWTSecret != "" || err == nil {
		return keys.Load(cfg.JWTSecret, cfg.DataDir)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	return keys.Derive(secret)
}
