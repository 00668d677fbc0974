package admin

import (
	"bufio"
	"context"
	"encoding/csv"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/app/userlist"
	"github.com/miniauth/miniauth/ent"
)

// ExportTimeout bounds one CSV export.
const ExportTimeout = 10 * time.Minute

var csvHeader = []string{"id", "openid", "unionid", "nickname", "avatar_url", "gender", "phone", "phone_country_code",
	"disabled", "login_count", "last_login_at", "created_at", "updated_at", "identities"}

// ExportCSV is GET /admin/users.csv?q=: the users of the current search,
// streamed row by row as they are read, never built in memory.
func (h *Handler) ExportCSV(c *fiber.Ctx) error {
	q := userlist.Query{Q: strings.Clone(c.Query("q")), Risk: strings.Clone(c.Query("risk"))}
	name := "miniauth-users-" + time.Now().In(h.loc()).Format("20060102-1504") + ".csv"
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	adminID := currentAdmin(c).ID
	detail := "q=" + q.Q
	if q.Q == "" {
		detail = "all users"
	}
	if err := h.record(c, audit.Entry{Action: audit.CSVExported, Detail: detail}); err != nil {
		return err
	}
	loc := h.loc()
	// The writer runs after this handler returns, when c is no longer
	// ours: it uses only the values copied above.
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		ctx, cancel := context.WithTimeout(context.Background(), ExportTimeout)
		defer cancel()
		// A byte order mark makes Excel read the file as UTF-8, which
		// Chinese nicknames need.
		w.WriteString("\ufeff")
		cw := csv.NewWriter(w)
		cw.Write(csvHeader)
		rows := 0
		err := h.Users.Export(ctx, q, func(u *ent.User) error {
			if err := cw.Write(csvRow(u, loc)); err != nil {
				return err
			}
			if rows++; rows%500 == 0 {
				cw.Flush()
				// A flush error means the client went away: stop reading.
				return w.Flush()
			}
			return nil
		})
		cw.Flush()
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			h.Log.Warn("CSV export stopped", "admin_id", adminID, "rows", rows, "err", err)
			return
		}
		h.Log.Info("CSV export", "admin_id", adminID, "rows", rows)
	})
	return nil
}

// csvRow is one user; times are RFC 3339 in the panel's zone, so the
// offset travels with them (2026-11-29T14:52:00+08:00).
func csvRow(u *ent.User, loc *time.Location) []string {
	unionid := ""
	if u.Unionid != nil {
		unionid = *u.Unionid
	}
	return []string{
		strconv.Itoa(u.ID), cell(u.Openid), cell(unionid), cell(u.Nickname), cell(u.AvatarURL),
		strconv.Itoa(u.Gender), cell(u.Phone), cell(u.PhoneCountryCode), strconv.FormatBool(u.Disabled),
		strconv.Itoa(u.LoginCount), csvTime(u.LastLoginAt, loc), csvTime(&u.CreatedAt, loc), csvTime(&u.UpdatedAt, loc),
		cell(identitiesCell(u.Edges.Identities)),
	}
}

// identitiesCell joins a user's identities into one cell, one per mini
// program: "appid:openid" or "appid:openid:unionid", separated by "; ".
func identitiesCell(ids []*ent.Identity) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = id.Appid + ":" + id.Openid
		if id.Unionid != nil {
			parts[i] += ":" + *id.Unionid
		}
	}
	return strings.Join(parts, "; ")
}

// cell neutralises CSV injection: a spreadsheet runs a cell that starts
// with = + - @ (or a tab or line break that hides one) as a formula, so
// such a cell gets a leading apostrophe (OWASP's advice). Invisible
// characters in front (a zero-width space, a BOM, a soft hyphen…) do not
// hide the trigger, and the full-width and small forms count too, since
// spreadsheets in Chinese locales read ＝ as =.
func cell(s string) string {
	for _, r := range s {
		if invisible(r) {
			continue
		}
		if strings.ContainsRune(formulaTriggers, r) {
			return "'" + s
		}
		break
	}
	return s
}

const formulaTriggers = "=+-@\t\r\n" + "＝＋－＠" + "﹦﹢﹣﹫"

// invisible reports whether r shows nothing: format characters (zero-width
// spaces and joiners, BOM, soft hyphen, bidi marks, word joiner…) and the
// other default-ignorable code points that a spreadsheet skips.
func invisible(r rune) bool {
	switch r {
	case '\u034f', '\u115f', '\u1160', '\u17b4', '\u17b5', '\u3164', '\uffa0':
		return true
	}
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r)
}

func csvTime(t *time.Time, loc *time.Location) string {
	if t == nil {
		return ""
	}
	return t.In(loc).Format(time.RFC3339)
}
