package admin

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/audit"
)

// AuditData fills the audit log page: the filter as typed, and the page.
type AuditData struct {
	Admin, Action, User, From, To string
	Filtered                      bool
	Actions                       []string
	Page                          *audit.Page
	Prev, Next                    string
}

// auditPerPage is the audit page's length.
const auditPerPage = 50

// AuditLog is GET /admin/audit?admin=&action=&user=&from=&to=&page=: the
// entries newest first. from and to are days (YYYY-MM-DD) in the panel's
// zone, both included; values that do not parse are ignored.
func (h *Handler) AuditLog(c *fiber.Ctx) error {
	d := AuditData{
		Admin:   strings.Clone(strings.TrimSpace(c.Query("admin"))),
		Action:  strings.Clone(c.Query("action")),
		User:    strings.Clone(strings.TrimSpace(c.Query("user"))),
		From:    strings.Clone(c.Query("from")),
		To:      strings.Clone(c.Query("to")),
		Actions: audit.Actions,
	}
	f := audit.Filter{Actor: d.Admin}
	if isAction(d.Action) {
		f.Action = d.Action
	} else {
		d.Action = ""
	}
	if n, err := strconv.Atoi(d.User); err == nil && n > 0 {
		f.UserID = n
	} else {
		d.User = ""
	}
	if day, err := time.ParseInLocation(time.DateOnly, d.From, h.loc()); err == nil {
		f.From = day
	} else {
		d.From = ""
	}
	if day, err := time.ParseInLocation(time.DateOnly, d.To, h.loc()); err == nil {
		f.To = day.AddDate(0, 0, 1)
	} else {
		d.To = ""
	}
	d.Filtered = d.Admin != "" || d.Action != "" || d.User != "" || d.From != "" || d.To != ""
	page, _ := strconv.Atoi(c.Query("page"))
	p, err := h.Audit.List(c.UserContext(), f, page, auditPerPage)
	if err != nil {
		return err
	}
	d.Page = p
	if p.Page > 1 {
		d.Prev = d.url(p.Page - 1)
	}
	if p.HasNext && p.Page < audit.MaxPage {
		d.Next = d.url(p.Page + 1)
	}
	return h.render(c, fiber.StatusOK, "audit", &Page{Nav: "audit", Data: d})
}

func isAction(a string) bool {
	for _, x := range audit.Actions {
		if x == a {
			return true
		}
	}
	return false
}

// url is the audit page n with the same filter.
func (d AuditData) url(n int) string {
	v := url.Values{}
	for k, s := range map[string]string{"admin": d.Admin, "action": d.Action, "user": d.User, "from": d.From, "to": d.To} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if n > 1 {
		v.Set("page", strconv.Itoa(n))
	}
	if len(v) == 0 {
		return "/admin/audit"
	}
	return "/admin/audit?" + v.Encode()
}
