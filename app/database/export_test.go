package database

import (
	"testing"
	"time"
)

// SetMigrationPace makes migrations work in chunks of chunk user ids and
// log their progress every every, so that a test sees many steps.
func SetMigrationPace(db *DB, chunk int, every time.Duration) {
	db.pace.chunk, db.pace.every = chunk, every
}

// FreshPostgres is a throwaway database on the server admin names.
func FreshPostgres(t *testing.T, admin string) string { return freshPostgres(t, admin) }
