package sessions_test

import (
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/sessions"
	"github.com/miniauth/miniauth/ent/user"
)

// Authenticate reads what requests use, and must name every other column
// of users or say why not, so that a new column cannot be forgotten.
func TestAuthenticateSQLListsTheSchemasUserColumns(t *testing.T) {
	// disabled is its WHERE clause; the login counters cost a parse no
	// request needs; users.session_key is the single-app key of old
	// releases; the risk rank is for the admin panel only.
	skipped := []string{user.FieldDisabled, user.FieldLoginCount, user.FieldLastLoginAt,
		user.FieldSessionKey, user.FieldRiskRank, user.FieldRiskFlagged}
	apptest.CheckColumns(t, "authenticateSQL", apptest.SQLColumns(sessions.AuthenticateSQL, "u", "SELECT", "FROM"), user.Columns, skipped)
}
