package handlers

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/weblogin"
)

// WebLogin serves web sign-in by scanning a mini program code: the
// browser's side (a ticket, its code, the poll) and the mini program's
// (scan, confirm, deny).
type WebLogin struct {
	Tickets *weblogin.Service
}

type ticketJSON struct {
	Ticket    string `json:"ticket"`
	PollToken string `json:"poll_token"`
	ExpiresIn int    `json:"expires_in"`
	ImageURL  string `json:"image_url"`
}

// Create is POST /api/auth/qr {"appid"?}: a new sign-in for the browser.
// An empty body is taken as {}.
func (h *WebLogin) Create(c *fiber.Ctx) error {
	appID := ""
	if len(c.Request().Body()) > 0 || c.Get(fiber.HeaderContentType) != "" {
		b, err := ReadBody(c, "appid")
		if err != nil {
			return err
		}
		appID = readAppID(b)
		if err := b.Err(nil); err != nil {
			return err
		}
	}
	t, err := h.Tickets.Create(c.UserContext(), appID, Client(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(ticketJSON{Ticket: t.ID, PollToken: t.PollToken, ExpiresIn: t.ExpiresIn,
		ImageURL: "/api/auth/qr/" + t.ID + "/image"})
}

// Image is GET /api/auth/qr/:ticket/image: the ticket's mini program
// code, drawn by WeChat once and kept for the ticket's life.
func (h *WebLogin) Image(c *fiber.Ctx) error {
	img, expires, err := h.Tickets.Image(c.UserContext(), c.Params("ticket"))
	if err != nil {
		return err
	}
	left := max(int(time.Until(expires)/time.Second), 0)
	c.Set(fiber.HeaderCacheControl, "private, max-age="+strconv.Itoa(left))
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderContentType, img.ContentType)
	return c.Send(img.Bytes)
}

type pollJSON struct {
	Status       string    `json:"status"`
	AccessToken  string    `json:"access_token,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	ExpiresIn    int       `json:"expires_in,omitempty"`
	User         *UserJSON `json:"user,omitempty"`
}

// Poll is POST /api/auth/qr/:ticket/poll {"poll_token","wait"?}: how the
// sign-in stands, waiting up to wait seconds for a change. The first
// "confirmed" carries the login answer.
func (h *WebLogin) Poll(c *fiber.Ctx) error {
	b, err := ReadBody(c, "poll_token", "wait")
	if err != nil {
		return err
	}
	token, err := b.RequiredString("poll_token")
	if err != nil {
		return err
	}
	wait := b.Int("wait")
	bad := map[string]string{}
	if len(token) > 128 {
		bad["poll_token"] = "is too long"
	}
	if wait != nil && (*wait < 0 || *wait > int(weblogin.MaxWait/time.Second)) {
		bad["wait"] = "must be 0 to " + strconv.Itoa(int(weblogin.MaxWait/time.Second)) + " seconds"
	}
	if err := b.Err(bad); err != nil {
		return err
	}
	var d time.Duration
	if wait != nil {
		d = time.Duration(*wait) * time.Second
	}
	r, err := h.Tickets.Poll(c.UserContext(), c.Params("ticket"), token, d, Client(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	out := pollJSON{Status: r.Status}
	if g := r.Grant; g != nil {
		u := User(g.User)
		out.AccessToken, out.RefreshToken, out.TokenType, out.ExpiresIn, out.User = g.AccessToken, g.RefreshToken, "Bearer", g.ExpiresIn, &u
	}
	return c.JSON(out)
}

// Scan is POST /api/auth/qr/:ticket/scan (Bearer, from the mini program):
// the user scanned the code; the answer says where the sign-in comes from.
func (h *WebLogin) Scan(c *fiber.Ctx) error {
	info, err := h.Tickets.Scan(c.UserContext(), c.Params("ticket"), CurrentUser(c).ID, CurrentSession(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"status": weblogin.StatusScanned, "ip": info.IP, "device": info.Device})
}

// Confirm is POST /api/auth/qr/:ticket/confirm (Bearer): the user who
// scanned lets the browser in.
func (h *WebLogin) Confirm(c *fiber.Ctx) error {
	if err := h.Tickets.Confirm(c.UserContext(), c.Params("ticket"), CurrentUser(c).ID, CurrentSession(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// Deny is POST /api/auth/qr/:ticket/deny (Bearer): the user refuses.
func (h *WebLogin) Deny(c *fiber.Ctx) error {
	if err := h.Tickets.Deny(c.UserContext(), c.Params("ticket"), CurrentUser(c).ID, CurrentSession(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// webPageCSP is the demo page's policy, the panel's plus fetch to this
// server: only its own script and stylesheet, no inline script.
const webPageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// WebPageHeaders go on the demo page and its files.
func WebPageHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", webPageCSP)
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "same-origin")
	return c.Next()
}
