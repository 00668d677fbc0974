package app

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/config"
)

// A panicking handler becomes a 500 with the contract's JSON, is logged
// with its real status, and the server keeps serving.
func TestPanicBecomesInternalError(t *testing.T) {
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s := &Server{Config: cfg, Log: slog.New(slog.NewJSONHandler(&logs, nil))}
	f := s.baseApp()
	f.Get("/boom", func(*fiber.Ctx) error { panic("something broke") })
	f.Get("/fine", func(c *fiber.Ctx) error { return c.SendString("ok") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go f.Listener(ln)
	t.Cleanup(func() { f.Shutdown() })
	base := "http://" + ln.Addr().String()

	for i := 0; i < 2; i++ { // twice: the first panic did not kill anything
		resp, err := http.Get(base + "/boom")
		if err != nil {
			t.Fatalf("request after a panic: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var got struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if resp.StatusCode != 500 || json.Unmarshal(body, &got) != nil || got.Error.Code != "internal" {
			t.Fatalf("panic answered %d %s, want 500 internal JSON", resp.StatusCode, body)
		}
		if strings.Contains(string(body), "something broke") {
			t.Fatalf("the panic's message reached the client: %s", body)
		}
	}
	resp, err := http.Get(base + "/fine")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("server stopped serving after panics: %v", err)
	}
	resp.Body.Close()
	if !strings.Contains(logs.String(), `"path":"/boom","status":500`) {
		t.Fatalf("access log lacks the 500:\n%s", logs.String())
	}
}
