package admin

import (
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/miniauth/miniauth/ent"
)

// Page is what every template gets.
type Page struct {
	Admin  string // the signed-in admin's username; "" on the sign-in page
	CSRF   string
	Nav    string // the active navigation entry
	Error  string
	Notice string
	Data   any
}

// render answers with a page of the panel.
func (h *Handler) render(c *fiber.Ctx, status int, view string, p *Page) error {
	if a := currentAdmin(c); a != nil {
		p.Admin = a.Username
		p.CSRF = h.Admins.CSRFToken(currentSession(c))
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Render(view, p)
}

// ErrorData fills the error page.
type ErrorData struct {
	Status  int
	Title   string
	Message string
}

// errorPage answers with the panel's HTML error page.
func (h *Handler) errorPage(c *fiber.Ctx, status int, message string) error {
	title := utils.StatusMessage(status)
	if message == "" {
		message = defaultMessages[status]
	}
	return h.render(c, status, "error", &Page{Data: ErrorData{Status: status, Title: title, Message: message}})
}

var defaultMessages = map[int]string{
	fiber.StatusBadRequest:            "The request was malformed.",
	fiber.StatusForbidden:             "The form expired or came from another site. Go back, reload the page and try again.",
	fiber.StatusNotFound:              "There is nothing at this address.",
	fiber.StatusRequestEntityTooLarge: "The form is too large.",
	fiber.StatusTooManyRequests:       "Too many attempts. Wait a few minutes and try again.",
	fiber.StatusInternalServerError:   "Something went wrong on the server. The error was logged.",
}

// statusError is an error that should be shown as a page with a status.
type statusError struct {
	status  int
	message string
}

func (e *statusError) Error() string { return strconv.Itoa(e.status) + " " + e.message }

func pageError(status int, message string) error { return &statusError{status, message} }

// notFound is the page for a missing user or URL.
func notFound(what string) error { return pageError(fiber.StatusNotFound, what) }

// asPage maps an error to the status and message of its page.
func asPage(err error) (int, string, bool) {
	var se *statusError
	if errors.As(err, &se) {
		return se.status, se.message, true
	}
	if ent.IsNotFound(err) {
		return fiber.StatusNotFound, "", true
	}
	var fe *fiber.Error
	if errors.As(err, &fe) && fe.Code < 500 {
		return fe.Code, "", true
	}
	return fiber.StatusInternalServerError, "", false
}
