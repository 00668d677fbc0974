// Package userlist is the read side of the admin panel: the users table
// with search, sort and pagination, the dashboard's numbers, and the CSV
// export. Every query is shaped to use an index, so that a page of a
// million users takes milliseconds on SQLite.
package userlist

import (
	"context"
	"fmt"
	"strings"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/predicate"
	"github.com/miniauth/miniauth/ent/session"
	"github.com/miniauth/miniauth/ent/user"
)

// Listing limits.
const (
	DefaultPerPage = 50
	MaxPerPage     = 200
	// CountCap bounds the count of a search: past it the page says
	// "10,000+" instead of counting every match.
	CountCap = 10000
	// TotalTTL is how long the count of all users is reused: counting a
	// million rows costs tens of milliseconds, too much for every page.
	TotalTTL = 10 * time.Second
	// StatsTTL is how long the dashboard's numbers are reused.
	StatsTTL = 30 * time.Second
	// maxQuery bounds a search string, in bytes.
	maxQuery = 128
	// MaxOffset bounds the rows skipped to reach a page, so that
	// (page-1)*perPage never overflows (a wrapped negative OFFSET shows
	// page 1 on SQLite and fails on PostgreSQL), whatever page is asked.
	MaxOffset = 1<<31 - 1
)

// PerPageChoices are the page sizes the panel offers.
var PerPageChoices = []int{20, 50, 100, 200}

// Sort keys of the users table: the column, and "-" for descending.
var sortKeys = map[string]string{
	"id": user.FieldID, "created": user.FieldCreatedAt, "last_login": user.FieldLastLoginAt, "nickname": user.FieldNickname,
}

// Store answers the panel's queries.
type Store struct {
	DB  *database.DB
	Now clock.Clock

	total cached[int]
	stats cached[*Stats]
}

// New is a Store over db.
func New(db *database.DB) *Store { return &Store{DB: db} }

// Query is what the users table shows: a search and a sort.
type Query struct {
	Q    string // nickname prefix, or an exact openid, unionid or phone
	Sort string // a sort key, "-" prefixed for descending; "" is the default
	Role string // only users with this role; "" for any
	// Risk keeps the users of one sign-up risk rank (RiskChoices; "": all).
	Risk string
}

// Normalize trims the search and replaces an unknown sort by the
// default: newest first, or by nickname when searching (the nickname
// index then serves both the filter and the order).
func (q Query) Normalize() Query {
	q.Q = strings.TrimSpace(q.Q)
	if q.Role = strings.TrimSpace(q.Role); !profiles.ValidRole(q.Role) {
		q.Role = ""
	}
	if len(q.Q) > maxQuery {
		q.Q = q.Q[:maxQuery]
	}
	if _, ok := sortKeys[strings.TrimPrefix(q.Sort, "-")]; !ok {
		q.Sort = ""
	}
	if !validRisk(q.Risk) {
		q.Risk = ""
	}
	if q.Sort == "" {
		q.Sort = "-id"
		if q.Q != "" {
			q.Sort = "nickname"
		}
	}
	return q
}

func (q Query) order() []user.OrderOption {
	key := strings.TrimPrefix(q.Sort, "-")
	dir := entsql.OrderAsc()
	if strings.HasPrefix(q.Sort, "-") {
		dir = entsql.OrderDesc()
	}
	if key == "id" {
		return []user.OrderOption{entsql.OrderByField(user.FieldID, dir).ToFunc()}
	}
	// id breaks ties; every index ends with the row id, so the order
	// still comes straight from the index.
	return []user.OrderOption{entsql.OrderByField(sortKeys[key], dir).ToFunc(), entsql.OrderByField(user.FieldID, dir).ToFunc()}
}

// prefixEnd is the smallest string above every string that starts with
// p: together with >= p it is a range predicate that uses the nickname
// index on SQLite and PostgreSQL, unlike LIKE 'p%' (which SQLite only
// indexes under case-sensitive LIKE, and PostgreSQL only with
// text_pattern_ops).
func prefixEnd(p string) string { return p + "\U0010FFFF" }

// filter is the search predicate, and the risk and role filters' if any.
func (s *Store) filter(ctx context.Context, q Query) (predicate.User, error) {
	where, err := s.search(ctx, q)
	if err != nil {
		return nil, err
	}
	var all []predicate.User
	for _, p := range []predicate.User{where, riskFilter(q.Risk), hasRole(q.Role)} {
		if p != nil {
			all = append(all, p)
		}
	}
	switch len(all) {
	case 0:
		return nil, nil
	case 1:
		return all[0], nil
	}
	return user.And(all...), nil
}

// search is the search predicate. A query that names a user exactly
// (openid, unionid or phone) finds that user; otherwise it is a nickname
// prefix.
// hasRole matches users with a role in the stored list (sorted,
// comma-separated). It scans: roles are few per user and the panel's
// role filter is rare, unlike the nickname search.
func hasRole(role string) predicate.User {
	if role == "" {
		return nil
	}
	return user.Or(user.Roles(role), user.RolesHasPrefix(role+","), user.RolesHasSuffix(","+role), user.RolesContains(","+role+","))
}

// search is the predicate of the search box.
func (s *Store) search(ctx context.Context, q Query) (predicate.User, error) {
	if q.Q == "" {
		return nil, nil
	}
	exact, err := s.DB.Read.User.Query().
		Where(user.Or(user.Openid(q.Q), user.Unionid(q.Q), user.Phone(q.Q))).
		Limit(MaxPerPage).IDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("exact search: %w", err)
	}
	if exact, err = s.addIdentityMatches(ctx, q.Q, exact); err != nil {
		return nil, err
	}
	if len(exact) > 0 {
		return user.IDIn(exact...), nil
	}
	return user.And(user.NicknameGTE(q.Q), user.NicknameLT(prefixEnd(q.Q))), nil
}

// Page is one page of the users table.
type Page struct {
	Query   Query
	Users   []*ent.User
	Page    int
	PerPage int
	Total   int  // matching users, at most CountCap when Capped
	Capped  bool // more than CountCap users match
	HasNext bool
}

// Pages is the number of pages, as far as it is known.
func (p *Page) Pages() int { return max(1, (p.Total+p.PerPage-1)/p.PerPage) }

// List returns one page. It pages with a deferred join: the OFFSET walks
// only the sort index (ids), and only the page's rows are read whole.
func (s *Store) List(ctx context.Context, q Query, page, perPage int) (*Page, error) {
	q = q.Normalize()
	perPage = clampPerPage(perPage)
	page = clampPage(page, perPage)
	where, err := s.filter(ctx, q)
	if err != nil {
		return nil, err
	}
	out := &Page{Query: q, Page: page, PerPage: perPage}
	if where == nil {
		out.Total, err = s.Total(ctx)
	} else {
		out.Total, out.Capped, err = s.countCapped(ctx, where)
	}
	if err != nil {
		return nil, err
	}
	// Past the last page, show the last one.
	if !out.Capped && page > out.Pages() {
		page = out.Pages()
		out.Page = page
	}
	ids := s.DB.Read.User.Query()
	if where != nil {
		ids.Where(where)
	}
	idList, err := ids.Order(q.order()...).Offset((page - 1) * perPage).Limit(perPage + 1).IDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("list user ids: %w", err)
	}
	if len(idList) > perPage {
		out.HasNext, idList = true, idList[:perPage]
	}
	if len(idList) == 0 {
		return out, nil
	}
	users, err := s.DB.Read.User.Query().Where(user.IDIn(idList...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	byID := make(map[int]*ent.User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	for _, id := range idList {
		if u := byID[id]; u != nil {
			out.Users = append(out.Users, u)
		}
	}
	return out, nil
}

// clampPage keeps page between 1 and the last page MaxOffset reaches.
func clampPage(page, perPage int) int {
	return min(max(page, 1), MaxOffset/perPage+1)
}

func clampPerPage(n int) int {
	if n <= 0 {
		return DefaultPerPage
	}
	return min(n, MaxPerPage)
}

// countCapped counts matches up to CountCap+1 with a LIMITed subquery.
func (s *Store) countCapped(ctx context.Context, where predicate.User) (int, bool, error) {
	ids, err := s.DB.Read.User.Query().Where(where).Limit(CountCap + 1).IDs(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("count matches: %w", err)
	}
	if len(ids) > CountCap {
		return CountCap, true, nil
	}
	return len(ids), false, nil
}

// Total is the number of users. Past CountCap users, it is counted at
// most once per TotalTTL (a stale count is answered while one goroutine
// counts again); small tables are counted every time: it is cheap, and
// exact.
func (s *Store) Total(ctx context.Context) (int, error) {
	return s.total.get(ctx, s.Now.Now, TotalTTL, func(n int) bool { return n >= CountCap }, s.countTotal)
}

func (s *Store) countTotal(ctx context.Context) (int, error) {
	n, err := s.DB.Read.User.Query().Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// Forget drops the cached dashboard numbers, after a change an admin
// should see at once (disabling a user changes the disabled count).
func (s *Store) Forget() { s.stats.forget() }

// Detail is a user, their WeChat identities, the unionid conflicts they
// are part of, and their latest sessions.
type Detail struct {
	User       *ent.User
	Identities []*ent.Identity
	Conflicts  []*ent.IdentityConflict
	Sessions   []*ent.Session
}

// MaxSessions bounds the sessions shown on a user's page.
const MaxSessions = 50

// Get returns a user's detail, or a not_found problem.
func (s *Store) Get(ctx context.Context, id int) (*Detail, error) {
	u, err := s.DB.Read.User.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, problem.New(problem.NotFound, "no such user")
	}
	if err != nil {
		return nil, fmt.Errorf("load user %d: %w", id, err)
	}
	sessions, err := s.DB.Read.Session.Query().Where(session.UserID(id)).
		Order(ent.Desc(session.FieldID)).Limit(MaxSessions).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load sessions of user %d: %w", id, err)
	}
	d := &Detail{User: u, Sessions: sessions}
	if err := s.loadIdentities(ctx, d); err != nil {
		return nil, err
	}
	return d, nil
}
