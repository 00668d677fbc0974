package logins_test

import (
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/logins"
	"github.com/miniauth/miniauth/ent/identity"
	"github.com/miniauth/miniauth/ent/session"
	"github.com/miniauth/miniauth/ent/user"
)

// The raw SQL that reads users must name every column of the schema or
// say why not, so that a new column cannot be forgotten in one of them.
func TestRawSQLListsTheSchemasUserColumns(t *testing.T) {
	// users.session_key is the single-app key of old releases: identities
	// hold the keys now, and nothing reads it.
	legacy := []string{user.FieldSessionKey}
	// The sign-up risk rank is for the admin panel only.
	legacy = append(legacy, user.FieldRiskRank, user.FieldRiskFlagged)

	// (Authenticate's statement is checked in app/sessions.)
	// A returning login answers the whole user; disabled is its WHERE
	// clause (a disabled user updates nothing).
	apptest.CheckColumns(t, "returningLoginSQL", apptest.SQLColumns(logins.ReturningLoginSQL, "", "RETURNING", ""), user.Columns,
		append([]string{user.FieldDisabled}, legacy...))
}

// A login's inserts name every column but the id and the ones each
// leaves NULL on purpose, so that a new column gets a value or a reason.
func TestLoginInsertsListTheSchemasColumns(t *testing.T) {
	inserted := func(stmt string) []string { return apptest.SQLColumns(stmt, "", "(", ") VALUES") }
	// users.session_key is the single-app key of old releases.
	apptest.CheckColumns(t, "insertUserSQL", inserted(logins.InsertUserSQL), user.Columns,
		[]string{user.FieldID, user.FieldSessionKey})
	apptest.CheckColumns(t, "insertIdentitySQL", inserted(logins.InsertIdentitySQL), identity.Columns,
		[]string{identity.FieldID})
	// A new session is live (revoked_at) and its refresh token is of the
	// current form (refresh_hash is the legacy one's).
	apptest.CheckColumns(t, "insertSessionSQL", inserted(logins.InsertSessionSQL), session.Columns,
		[]string{session.FieldID, session.FieldRevokedAt, session.FieldRefreshHash})
}

func TestSQLColumns(t *testing.T) {
	got := apptest.SQLColumns("SELECT u.id,\n  u.openid , s.x FROM users u", "u", "SELECT", "FROM")
	if len(got) != 2 || got[0] != "id" || got[1] != "openid" {
		t.Fatalf("got %q", got)
	}
	if got := apptest.SQLColumns("UPDATE t SET a = 1 RETURNING id, a", "", "RETURNING", ""); len(got) != 2 || got[1] != "a" {
		t.Fatalf("got %q", got)
	}
}
