package admin

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/ent/admin"
	"github.com/miniauth/miniauth/handlers"
	"github.com/miniauth/miniauth/handlers/admin/i18n"
)

// Page is what every template gets.
type Page struct {
	Admin  string // the signed-in admin's username; "" on the sign-in page
	Viewer bool   // the signed-in admin may only look
	CSRF   string
	Nav    string // the active navigation entry
	Error  string
	Notice string
	Data   any

	Lang  *i18n.Lang
	Langs []LangLink
	Zone  string // the panel's time zone, e.g. Asia/Shanghai
}

// LangLink is one entry of the language switch.
type LangLink struct {
	Code, Name, URL string
	Current         bool
}

// Language tells the views which catalogue to render with.
func (p *Page) Language() string { return p.Lang.Code }

// render answers with a page of the panel.
func (h *Handler) render(c *fiber.Ctx, status int, view string, p *Page) error {
	if a := currentAdmin(c); a != nil {
		p.Admin = a.Username
		p.Viewer = a.Role == admin.RoleViewer
		p.CSRF = h.Admins.CSRFToken(currentSession(c))
	}
	p.Lang = lang(c)
	p.Zone = h.loc().String()
	p.Langs = langLinks(c, p.Lang)
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderContentLanguage, p.Lang.Code)
	c.Vary(fiber.HeaderAcceptLanguage, fiber.HeaderCookie)
	// The views are called directly, not through c.Render: its first
	// calls fill a lazily built list of mounted apps without a lock, a
	// data race when the first pages render concurrently (fiber v2.52).
	views := c.App().Config().Views
	if views == nil {
		return errors.New("admin panel: no views configured")
	}
	// A failed render leaves a partial body, which the error page resets.
	c.Response().ResetBody()
	if err := views.Render(c.Response().BodyWriter(), view, p); err != nil {
		return fmt.Errorf("render %s: %w", view, err)
	}
	return nil
}

// langLinks point the switch at /admin/lang, which sets the cookie and
// comes back to this page (GET pages; after a form post, the dashboard).
func langLinks(c *fiber.Ctx, current *i18n.Lang) []LangLink {
	back := "/admin/"
	if c.Method() == fiber.MethodGet {
		back = c.OriginalURL()
	}
	var out []LangLink
	for _, l := range i18n.All() {
		u := "/admin/lang?" + url.Values{"to": {l.Code}, "back": {back}}.Encode()
		out = append(out, LangLink{Code: l.Code, Name: l.Name, URL: u, Current: l == current})
	}
	return out
}

// ErrorData fills the error page.
type ErrorData struct {
	Status  int
	Title   string
	Message string
}

// errorPage answers with the panel's HTML error page; messageKey is a
// catalogue key ("" for the status's usual message).
func (h *Handler) errorPage(c *fiber.Ctx, status int, messageKey string) error {
	l := lang(c)
	title := l.T("error.title." + strconv.Itoa(status))
	if !l.Has("error.title." + strconv.Itoa(status)) {
		title = l.T("error.title.500")
	}
	if messageKey == "" {
		messageKey = "error." + strconv.Itoa(status)
		if !l.Has(messageKey) {
			messageKey = "error.500"
		}
	}
	return h.render(c, status, "error", &Page{Data: ErrorData{Status: status, Title: title, Message: l.T(messageKey)}})
}

// pageError is a refusal of the panel: a domain error whose message is a
// catalogue key ("" for the usual message of its code's status).
func pageError(code, messageKey string) error { return &problem.Error{Code: code, Message: messageKey} }

// notFound is the page for a missing user, session or URL.
func notFound(messageKey string) error { return pageError(problem.NotFound, messageKey) }

// pageOf is the status and message key of an error's page. Domain errors
// have the status of their code in the API's one table (handlers.Status),
// and their message when it is one of the catalogue's keys; Fiber's own
// errors keep their status. Anything else is internal (known is false).
func pageOf(l *i18n.Lang, err error) (status int, messageKey string, known bool) {
	if p, ok := problem.As(err); ok && p.Code != problem.Internal {
		if l.Has(p.Message) {
			messageKey = p.Message
		}
		return handlers.Status(p.Code), messageKey, true
	}
	var fe *fiber.Error
	if errors.As(err, &fe) && fe.Code < 500 {
		return fe.Code, "", true
	}
	if database.IsFault(err) {
		return fiber.StatusServiceUnavailable, "", true
	}
	return fiber.StatusInternalServerError, "", false
}
