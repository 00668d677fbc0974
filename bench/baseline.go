package main

import (
	"fmt"
	"os"
	"time"

	jwtware "github.com/gofiber/contrib/jwt"
	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/keys"
	"github.com/miniauth/miniauth/app/tokens"
)

// runBaselineServer is the baseline: Fiber and contrib/jwt checking the
// same kind of token with the same key and claims, and nothing else.
func runBaselineServer(args []string) {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: bench baseline-server ADDR SECRET")
		os.Exit(2)
	}
	ks, err := keys.Derive([]byte(args[1]))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	f := fiber.New(fiber.Config{DisableStartupMessage: true})
	f.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	// The bare handler: what the generator can drive when the server
	// does nothing. It must be well above the JWT baseline, or the
	// generator, not the server, is what is measured.
	f.Get("/ok", func(c *fiber.Ctx) error { return c.SendString("ok") })
	f.Use(jwtware.New(jwtware.Config{
		SigningKey: jwtware.SigningKey{JWTAlg: jwtware.HS256, Key: ks.UserToken},
		Claims:     &tokens.AccessClaims{},
	}))
	f.Get("/", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"ok": true}) })
	if err := f.Listen(args[0]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func signBaselineToken(secret string) (string, error) {
	ks, err := keys.Derive([]byte(secret))
	if err != nil {
		return "", err
	}
	s := &tokens.Signer{Kind: tokens.Access, Key: ks.UserToken, TTL: time.Hour}
	tok, _, err := s.Sign(1, 1, "")
	return tok, err
}
