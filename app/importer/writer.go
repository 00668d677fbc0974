package importer

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"maps"

	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/identity"
	"github.com/miniauth/miniauth/ent/user"
)

// writeAttempts bounds the reruns of a batch whose rows a concurrent
// login took between its checks and its inserts (PostgreSQL with
// --force; on SQLite the checks run under the write lock).
const writeAttempts = 5

// writer decides each batch's fate against the database and writes it.
type writer struct {
	db     *database.DB
	opts   Options
	counts *Counts
	report *json.Encoder
	// baseline is the highest user id before the import: an openid held
	// by a user above it was taken by an earlier entry of this file
	// (duplicate_openid), one at or below it by a user who was already
	// there (present).
	baseline int
	// seen stands in, in a dry run, for what earlier batches would have
	// written.
	seen *claims
}

func (w *writer) start(ctx context.Context) error {
	if w.opts.DryRun {
		w.seen = newClaims()
		return nil
	}
	err := w.db.ReadSQL.QueryRowContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM users").Scan(&w.baseline)
	if err != nil {
		return fmt.Errorf("read the highest user id: %w", err)
	}
	return nil
}

// snapshot is a copy of the counts so far.
func (w *writer) snapshot() Counts {
	c := *w.counts
	c.Reasons = maps.Clone(w.counts.Reasons)
	return c
}

// write decides and writes one batch, then counts and reports it.
func (w *writer) write(ctx context.Context, items []item) error {
	var p *plan
	var err error
	if w.opts.DryRun {
		if p, err = w.classify(ctx, w.db.Read, items); err != nil {
			return err
		}
		for _, nu := range p.users {
			w.seen.add(nu)
		}
	} else {
		for attempt := 1; ; attempt++ {
			err = w.db.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
				var err error
				if p, err = w.classify(ctx, tx, items); err != nil {
					return err
				}
				return w.insert(ctx, tx, p)
			})
			if err == nil || !ent.IsConstraintError(err) || attempt == writeAttempts {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("write the users of %s: %w", posRange(items), err)
		}
	}
	w.counts.Read += len(items)
	w.counts.Imported += len(p.users)
	w.counts.Present += p.present
	w.counts.Skipped += p.skipped
	for _, e := range p.entries {
		w.counts.Reasons[e.Reason]++
		if w.report != nil {
			if err := w.report.Encode(e); err != nil {
				return fmt.Errorf("write the report: %w", err)
			}
		}
	}
	return nil
}

func posRange(items []item) string {
	pos := func(it item) Pos {
		if it.c != nil {
			return it.c.Pos
		}
		return it.bad.Pos
	}
	a, b := pos(items[0]), pos(items[len(items)-1])
	if a.Line > 0 {
		return fmt.Sprintf("lines %d–%d", a.Line, b.Line)
	}
	return fmt.Sprintf("records %d–%d", a.Record, b.Record)
}

// newUser is a candidate that will be created, with what the checks left
// of it.
type newUser struct {
	c              *Candidate
	openid         string // users.openid
	unionid        string // "" when another user has it
	phone, phoneCC string // "" when another user has it
	// unionOwner is the user who has the unionid (0: nobody, or a user
	// of this batch: unionOwnerIndex, 1-based).
	unionOwner      int
	unionOwnerIndex int
}

// plan is a batch's fate.
type plan struct {
	users            []*newUser
	present, skipped int
	entries          []Entry
}

func (p *plan) skip(e Entry) {
	e.Skipped = true
	p.skipped++
	p.entries = append(p.entries, e)
}

// found is what the database already holds of a batch's keys.
type found struct {
	identities  map[string]int // identKey → user id
	unionids    map[string]int // unionid → user id
	phones      map[string]int // phone → user id
	userOpenIDs map[string]bool
}

func identKey(appID, openID string) string { return appID + "\x00" + openID }

// lookup reads, in four indexed queries, which of the batch's openids,
// unionids, phones and users.openid values the database already has.
func lookup(ctx context.Context, q *ent.Client, items []item) (*found, error) {
	var openids, unionids, phones, userOpenIDs []string
	for _, it := range items {
		c := it.c
		if c == nil {
			continue
		}
		for _, id := range c.Identities {
			openids = append(openids, id.OpenID)
		}
		if c.UnionID != "" {
			unionids = append(unionids, c.UnionID)
		}
		if c.Phone != "" {
			phones = append(phones, c.Phone)
		}
		userOpenIDs = append(userOpenIDs, userOpenIDChoices(c)...)
	}
	f := &found{identities: map[string]int{}, unionids: map[string]int{}, phones: map[string]int{}, userOpenIDs: map[string]bool{}}
	if len(openids) > 0 {
		ids, err := q.Identity.Query().Where(identity.OpenidIn(openids...)).
			Select(identity.FieldAppid, identity.FieldOpenid, identity.FieldUserID).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("look up openids: %w", err)
		}
		for _, i := range ids {
			f.identities[identKey(i.Appid, i.Openid)] = i.UserID
		}
	}
	if len(unionids) > 0 {
		us, err := q.User.Query().Where(user.UnionidIn(unionids...)).Select(user.FieldID, user.FieldUnionid).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("look up unionids: %w", err)
		}
		for _, u := range us {
			if u.Unionid != nil {
				f.unionids[*u.Unionid] = u.ID
			}
		}
	}
	if len(phones) > 0 {
		us, err := q.User.Query().Where(user.PhoneIn(phones...)).Select(user.FieldID, user.FieldPhone).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("look up phones: %w", err)
		}
		for _, u := range us {
			f.phones[u.Phone] = u.ID
		}
	}
	if len(userOpenIDs) > 0 {
		taken, err := q.User.Query().Where(user.OpenidIn(userOpenIDs...)).Select(user.FieldOpenid).Strings(ctx)
		if err != nil {
			return nil, fmt.Errorf("look up users' openids: %w", err)
		}
		for _, o := range taken {
			f.userOpenIDs[o] = true
		}
	}
	return f, nil
}

// userOpenIDChoices are the values users.openid may take for c, best
// first: the openid (as a login would set it), else the appid-qualified
// form a login uses when two apps' openids coincide.
func userOpenIDChoices(c *Candidate) []string {
	if len(c.Identities) == 0 {
		return nil
	}
	first := c.Identities[0]
	if c.UserOpenID != "" {
		return []string{c.UserOpenID, first.AppID + ":" + first.OpenID}
	}
	return []string{first.OpenID, first.AppID + ":" + first.OpenID}
}

// classify decides every entry of a batch, in file order (IMPORT.md §3):
// an entry whose openid a user already had is present; one whose openid
// an earlier entry took is a duplicate; a unionid or phone another user
// has is left off. Nothing is merged, and no existing user changes.
func (w *writer) classify(ctx context.Context, q *ent.Client, items []item) (*plan, error) {
	f, err := lookup(ctx, q, items)
	if err != nil {
		return nil, err
	}
	p := &plan{}
	idents := map[string]bool{}
	unions := map[string]int{} // unionid → 1-based index in p.users
	phones := map[string]bool{}
	userOpenIDs := map[string]bool{}
	for _, it := range items {
		if it.bad != nil {
			p.skip(*it.bad)
			continue
		}
		c := it.c
		present, dup := false, false
		for _, id := range c.Identities {
			k := identKey(id.AppID, id.OpenID)
			if holder, ok := f.identities[k]; ok {
				if holder > w.baseline && !w.opts.DryRun {
					dup = true
				} else {
					present = true
				}
			}
			if idents[k] || w.seen.has(kindIdentity, k) {
				dup = true
			}
		}
		if present {
			p.present++
			continue
		}
		if dup {
			p.skip(Entry{Pos: c.Pos, SourceID: c.SourceID, Reason: DuplicateOpenID, Detail: "an earlier entry of this file has the same openid"})
			continue
		}
		nu := &newUser{c: c}
		for _, o := range userOpenIDChoices(c) {
			if !f.userOpenIDs[o] && !userOpenIDs[o] && !w.seen.has(kindUserOpenID, o) {
				nu.openid = o
				break
			}
		}
		if nu.openid == "" {
			p.skip(Entry{Pos: c.Pos, SourceID: c.SourceID, Reason: DuplicateOpenID, Detail: "another user was created with this openid"})
			continue
		}
		var notes []Entry
		if u := c.UnionID; u != "" {
			owner, inDB := f.unionids[u]
			switch {
			case inDB:
				nu.unionOwner = owner
			case unions[u] != 0:
				nu.unionOwnerIndex = unions[u]
			case !w.seen.has(kindUnionID, u):
				nu.unionid = u
			}
			if nu.unionid == "" {
				notes = append(notes, Entry{Pos: c.Pos, SourceID: c.SourceID, Reason: UnionIDConflict,
					Detail: "another user has this unionid: this user is imported without it"})
			}
		}
		if ph := c.Phone; ph != "" {
			if _, inDB := f.phones[ph]; inDB || phones[ph] || w.seen.has(kindPhone, ph) {
				notes = append(notes, Entry{Pos: c.Pos, SourceID: c.SourceID, Reason: PhoneConflict,
					Detail: "another user has this phone number: this user is imported without it"})
			} else {
				nu.phone, nu.phoneCC = ph, c.PhoneCountryCode
			}
		}
		for _, id := range c.Identities {
			idents[identKey(id.AppID, id.OpenID)] = true
		}
		userOpenIDs[nu.openid] = true
		if nu.unionid != "" {
			unions[nu.unionid] = len(p.users) + 1
		}
		if nu.phone != "" {
			phones[nu.phone] = true
		}
		p.users = append(p.users, nu)
		p.entries = append(p.entries, c.notes...)
		p.entries = append(p.entries, notes...)
	}
	return p, nil
}

// insertChunk bounds rows per INSERT: 1,000 users of 13 columns, or
// identities of 7, stay below both databases' parameter limits.
const insertChunk = 1000

// insert creates the plan's users, their identities and the unionid
// conflicts an admin should see (as a login would record them).
func (w *writer) insert(ctx context.Context, tx *ent.Client, p *plan) error {
	now := w.opts.Now().UTC()
	ids := make([]int, 0, len(p.users))
	for start := 0; start < len(p.users); start += insertChunk {
		chunk := p.users[start:min(start+insertChunk, len(p.users))]
		creates := make([]*ent.UserCreate, len(chunk))
		for i, nu := range chunk {
			c := nu.c
			created, updated := c.CreatedAt, c.UpdatedAt
			if created.IsZero() {
				created = now
			}
			if updated.IsZero() {
				updated = now
			}
			uc := tx.User.Create().SetOpenid(nu.openid).SetNickname(c.Nickname).SetAvatarURL(c.AvatarURL).
				SetGender(c.Gender).SetPhone(nu.phone).SetPhoneCountryCode(nu.phoneCC).SetDisabled(c.Disabled).
				SetLoginCount(c.LoginCount).SetCreatedAt(created).SetUpdatedAt(updated).SetNillableLastLoginAt(c.LastLoginAt).
				SetNillableRiskRank(c.RiskRank).SetRiskFlagged(c.RiskFlagged)
			if nu.unionid != "" {
				uc.SetUnionid(nu.unionid)
			}
			creates[i] = uc
		}
		users, err := tx.User.CreateBulk(creates...).Save(ctx)
		if err != nil {
			return fmt.Errorf("create users: %w", err)
		}
		for _, u := range users {
			ids = append(ids, u.ID)
		}
	}
	var idents []*ent.IdentityCreate
	var conflicts []*ent.IdentityConflictCreate
	for i, nu := range p.users {
		c := nu.c
		for _, id := range c.Identities {
			created := id.CreatedAt
			if created.IsZero() {
				created = c.CreatedAt
			}
			if created.IsZero() {
				created = now
			}
			ic := tx.Identity.Create().SetUserID(ids[i]).SetAppid(id.AppID).SetOpenid(id.OpenID).
				SetCreatedAt(created).SetNillableLastLoginAt(id.LastLoginAt)
			if id.Kind != "" {
				ic.SetKind(id.Kind)
			}
			union := id.UnionID
			if union == "" && c.UserOpenID == "" { // a miniauth export says per identity
				union = c.UnionID
			}
			if union != "" {
				ic.SetUnionid(union)
			}
			idents = append(idents, ic)
		}
		owner := nu.unionOwner
		if nu.unionOwnerIndex != 0 {
			owner = ids[nu.unionOwnerIndex-1]
		}
		if owner != 0 {
			first := c.Identities[0]
			conflicts = append(conflicts, tx.IdentityConflict.Create().SetUserID(ids[i]).SetOtherUserID(owner).
				SetAppid(first.AppID).SetOpenid(first.OpenID).SetUnionid(c.UnionID).SetCreatedAt(now))
		}
	}
	for start := 0; start < len(idents); start += insertChunk {
		if err := tx.Identity.CreateBulk(idents[start:min(start+insertChunk, len(idents))]...).Exec(ctx); err != nil {
			return fmt.Errorf("create identities: %w", err)
		}
	}
	for start := 0; start < len(conflicts); start += insertChunk {
		if err := tx.IdentityConflict.CreateBulk(conflicts[start:min(start+insertChunk, len(conflicts))]...).Exec(ctx); err != nil {
			return fmt.Errorf("record unionid conflicts: %w", err)
		}
	}
	return nil
}

// Kinds of key a dry run remembers.
const (
	kindIdentity byte = iota
	kindUserOpenID
	kindUnionID
	kindPhone
)

// claims remembers, in a dry run, the keys earlier batches would have
// written. It keeps 64-bit hashes, not the strings: a million users fit
// in some 40 MiB. Two different keys sharing a hash (about one chance in
// 10^7 for a million users) would report one entry as a duplicate that
// is not; the real import checks the database and is exact.
type claims struct {
	seed maphash.Seed
	set  map[uint64]struct{}
}

func newClaims() *claims { return &claims{seed: maphash.MakeSeed(), set: map[uint64]struct{}{}} }

func (c *claims) hash(kind byte, key string) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteByte(kind)
	h.WriteString(key)
	return h.Sum64()
}

// has is false on a nil claims (a real import).
func (c *claims) has(kind byte, key string) bool {
	if c == nil {
		return false
	}
	_, ok := c.set[c.hash(kind, key)]
	return ok
}

func (c *claims) add(nu *newUser) {
	for _, id := range nu.c.Identities {
		c.set[c.hash(kindIdentity, identKey(id.AppID, id.OpenID))] = struct{}{}
	}
	c.set[c.hash(kindUserOpenID, nu.openid)] = struct{}{}
	if nu.unionid != "" {
		c.set[c.hash(kindUnionID, nu.unionid)] = struct{}{}
	}
	if nu.phone != "" {
		c.set[c.hash(kindPhone, nu.phone)] = struct{}{}
	}
}
