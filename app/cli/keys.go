package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/app/config"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/keys"
)

const keysUsage = `Usage:
  miniauth keys list     the signing keys: kid, algorithm, created, retiring at
  miniauth keys rotate   a new key signs from now on (every server within 10 s); the
                         previous one stays published until its tokens have expired
Signing keys exist with MINIAUTH_JWT_ALG=ES256 or EdDSA; run these with the servers'
settings (MINIAUTH_JWT_SECRET or data dir, database, MINIAUTH_ACCESS_TTL).
`

// keysCmd lists and rotates the asymmetric signing keys of access tokens.
func keysCmd(ctx context.Context, env *Env, args []string) error {
	if len(args) != 1 || (args[0] != "list" && args[0] != "rotate") {
		fmt.Fprint(env.Stderr, keysUsage)
		if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return nil
		}
		return errUsage
	}
	cfg, db, err := openFor(ctx, env, database.MustHaveSchema, true)
	if err != nil {
		return err
	}
	defer db.Close()
	if args[0] == "list" {
		list, err := keys.List(ctx, db)
		if err != nil {
			return err
		}
		return printKeys(env, cfg, list)
	}
	ks, err := sealingKeys(cfg)
	if err != nil {
		return err
	}
	next, previous, err := keys.Rotate(ctx, db, ks, cfg.JWTAlg, cfg.AccessTTL, nil)
	if err != nil {
		return fmt.Errorf("keys rotate: %w", err)
	}
	detail := fmt.Sprintf("%s key %s signs", next.Alg, next.Kid)
	fmt.Fprintf(env.Stdout, "%s key %s signs from now on (every server within %s)\n", next.Alg, next.Kid, 2*keys.PollInterval)
	if previous != nil {
		fmt.Fprintf(env.Stdout, "key %s stays published until %s, when its last tokens have expired\n",
			previous.Kid, previous.RetiresAt.Local().Format(time.DateTime))
		detail += fmt.Sprintf("; %s published until %s", previous.Kid, previous.RetiresAt.UTC().Format(time.RFC3339))
	}
	return audit.New(db).Record(ctx, audit.Entry{Actor: audit.CLIActor, Action: audit.SigningKeyRotated, Detail: detail})
}

// sealingKeys are derived from the servers' secret, which seals the private keys: a
// throwaway one (as the admin commands may use) would seal a key no
// server can open.
func sealingKeys(cfg *config.Config) (*keys.Set, error) {
	if _, err := os.Stat(filepath.Join(cfg.DataDir, keys.SecretFile)); cfg.JWTSecret == "" && err != nil {
		return nil, errors.New("keys rotate: the server secret is not here: set MINIAUTH_JWT_SECRET (or MINIAUTH_DATA_DIR) as the servers have it")
	}
	return keys.Load(cfg.JWTSecret, cfg.DataDir)
}

func printKeys(env *Env, cfg *config.Config, list []keys.KeyInfo) error {
	if !keys.Asymmetric(cfg.JWTAlg) {
		fmt.Fprintf(env.Stderr, "MINIAUTH_JWT_ALG is %s: access tokens are signed with the server secret, not these keys\n", cfg.JWTAlg)
	}
	if len(list) == 0 {
		fmt.Fprintln(env.Stdout, "no signing keys (a server with MINIAUTH_JWT_ALG=ES256 or EdDSA creates one when it starts)")
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tCREATED\tRETIRING AT")
	for _, k := range list {
		retiring := "- (signing)"
		if k.RetiresAt != nil {
			retiring = k.RetiresAt.Local().Format(time.DateTime)
			if !k.RetiresAt.After(time.Now()) {
				retiring += " (retired)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Kid, k.Alg, k.CreatedAt.Local().Format(time.DateTime), retiring)
	}
	return tw.Flush()
}
