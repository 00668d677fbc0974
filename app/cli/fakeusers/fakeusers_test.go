package fakeusers_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/cli/fakeusers"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/user"
)

func TestInsertMakesRealisticUsers(t *testing.T) {
	db := apptest.OpenDB(t, "")
	ctx := context.Background()
	if err := fakeusers.Insert(ctx, db, 3000, fakeusers.Options{Rand: rand.New(rand.NewPCG(1, 2))}); err != nil {
		t.Fatal(err)
	}
	all, err := db.Read.User.Query().Order(ent.Asc(user.FieldID)).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3000 {
		t.Fatalf("%d users, want 3000", len(all))
	}
	openids := map[string]bool{}
	for i, u := range all {
		if len(u.Openid) != 28 || openids[u.Openid] {
			t.Fatalf("openid %q: not 28 characters or not unique", u.Openid)
		}
		openids[u.Openid] = true
		if u.Nickname == "" || u.LastLoginAt == nil || u.LastLoginAt.Before(u.CreatedAt) {
			t.Fatalf("user %d: %+v", u.ID, u)
		}
		if i > 0 && u.CreatedAt.Before(all[i-1].CreatedAt) {
			t.Fatal("ids do not follow sign-up times")
		}
	}
}

// Insert fills every column of users but the id (the database's) and
// session_key (the single-app key of old releases, read by nothing).
func TestColumnsAreTheSchemas(t *testing.T) {
	apptest.CheckColumns(t, "fakeusers.Columns", fakeusers.Columns, user.Columns, []string{user.FieldID, user.FieldSessionKey,
		// Fake users sign up without the risk gate: no rank, not flagged
		// (the columns' defaults).
		user.FieldRiskRank, user.FieldRiskFlagged})
}
