package admin

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/userlist"
)

// UsersData fills the users table.
type UsersData struct {
	Page           *userlist.Page
	SortParam      string // the sort as given in the URL ("" for the default)
	Sort           map[string]SortLink
	Pager          Pager
	PerPageChoices []int
	ExportURL      string
	// RiskChoices are the risk filter's values (userlist.RiskChoices).
	RiskChoices []string
}

// SortLink is a column header's link and its direction arrow.
type SortLink struct {
	URL   string
	Arrow string
}

// Pager is the page links under the table.
type Pager struct {
	First, Prev, Next, Last string
	Links                   []PageLink
}

// PageLink is one numbered page link, or a gap.
type PageLink struct {
	N       int
	URL     string
	Current bool
	Gap     bool
}

// listState is the table's state, as carried by the URL.
type listState struct {
	q, sort, risk string
	perPage       int
}

func (s listState) url(page int) string {
	v := url.Values{}
	if s.q != "" {
		v.Set("q", s.q)
	}
	if s.sort != "" {
		v.Set("sort", s.sort)
	}
	if s.risk != "" {
		v.Set("risk", s.risk)
	}
	if s.perPage != userlist.DefaultPerPage {
		v.Set("per_page", strconv.Itoa(s.perPage))
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/admin/users"
	}
	return "/admin/users?" + v.Encode()
}

// UserList is GET /admin/users?q=&page=&per_page=&sort=.
func (h *Handler) UserList(c *fiber.Ctx) error {
	// A number too large for an int comes back as the largest int, which
	// the store clamps to the last page it can reach.
	page, _ := strconv.Atoi(c.Query("page"))
	perPage, _ := strconv.Atoi(c.Query("per_page"))
	q := userlist.Query{Q: strings.Clone(c.Query("q")), Sort: strings.Clone(c.Query("sort")), Risk: strings.Clone(c.Query("risk"))}
	p, err := h.Users.List(c.UserContext(), q, page, perPage)
	if err != nil {
		return err
	}
	sortParam := q.Sort
	if q.Normalize().Sort != sortParam {
		sortParam = "" // unknown: the default applies
	}
	st := listState{q: p.Query.Q, sort: sortParam, risk: p.Query.Risk, perPage: p.PerPage}
	data := UsersData{
		Page:           p,
		SortParam:      sortParam,
		Sort:           sortLinks(st, p.Query.Sort),
		Pager:          pager(st, p),
		PerPageChoices: userlist.PerPageChoices,
		ExportURL:      exportURL(p.Query.Q, p.Query.Risk),
		RiskChoices:    userlist.RiskChoices,
	}
	return h.render(c, fiber.StatusOK, "users", &Page{Nav: "users", Data: data})
}

// sortLinks link each sortable column to its order, flipping the
// direction of the current one. Sorting goes back to page 1.
func sortLinks(st listState, current string) map[string]SortLink {
	links := map[string]SortLink{}
	for _, key := range []string{"id", "created", "last_login"} {
		next, arrow := "-"+key, ""
		switch current {
		case "-" + key:
			next, arrow = key, " ↓"
		case key:
			arrow = " ↑"
		}
		s := st
		s.sort = next
		links[key] = SortLink{URL: s.url(1), Arrow: arrow}
	}
	return links
}

// pager links the first, previous, next and last pages and a window of
// numbered pages around the current one. When the count is capped, the
// last page is unknown and not linked.
func pager(st listState, p *userlist.Page) Pager {
	var pg Pager
	if p.Page > 1 {
		pg.First, pg.Prev = st.url(1), st.url(p.Page-1)
	}
	if p.HasNext {
		pg.Next = st.url(p.Page + 1)
		if !p.Capped {
			pg.Last = st.url(p.Pages())
		}
	}
	last := p.Pages()
	if p.Capped {
		last = p.Page
		if p.HasNext {
			last++
		}
	}
	from, to := max(1, p.Page-2), min(last, p.Page+2)
	if from > 1 {
		pg.Links = append(pg.Links, PageLink{N: 1, URL: st.url(1)})
		if from > 2 {
			pg.Links = append(pg.Links, PageLink{Gap: true})
		}
	}
	for n := from; n <= to; n++ {
		pg.Links = append(pg.Links, PageLink{N: n, URL: st.url(n), Current: n == p.Page})
	}
	if to < last && !p.Capped {
		if to < last-1 {
			pg.Links = append(pg.Links, PageLink{Gap: true})
		}
		pg.Links = append(pg.Links, PageLink{N: last, URL: st.url(last)})
	}
	return pg
}

func exportURL(q, risk string) string {
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	if risk != "" {
		v.Set("risk", risk)
	}
	if len(v) == 0 {
		return "/admin/users.csv"
	}
	return "/admin/users.csv?" + v.Encode()
}
