// Package throttle keeps rate-limit counters in the database, as a
// fiber.Storage, so that limits hold across instances sharing one
// PostgreSQL. A single SQLite instance keeps them in memory instead.
package throttle

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/throttle"
)

// opTimeout bounds one storage call; fiber.Storage has no context.
const opTimeout = 5 * time.Second

// Storage implements fiber.Storage over the Throttle table.
type Storage struct {
	db     *database.DB
	prefix string
}

// New makes a storage whose keys are namespaced by prefix.
func New(db *database.DB, prefix string) *Storage {
	return &Storage{db: db, prefix: prefix}
}

func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

// Get returns the value of a live key, or nil.
func (s *Storage) Get(key string) ([]byte, error) {
	c, cancel := ctx()
	defer cancel()
	t, err := s.db.Read.Throttle.Query().
		Where(throttle.Key(s.prefix+key), throttle.ExpiresAtGT(time.Now().UTC())).Only(c)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return t.Value, nil
}

// Set stores a value until exp from now (0: a day).
func (s *Storage) Set(key string, val []byte, exp time.Duration) error {
	if exp <= 0 {
		exp = 24 * time.Hour
	}
	c, cancel := ctx()
	defer cancel()
	now := time.Now().UTC()
	return s.db.Writer.Do(c, func(c context.Context, tx *ent.Client) error {
		err := tx.Throttle.Create().SetKey(s.prefix + key).SetValue(val).SetExpiresAt(now.Add(exp)).
			OnConflictColumns(throttle.FieldKey).UpdateNewValues().Exec(c)
		if err != nil {
			return err
		}
		// Now and then, sweep expired counters so the table stays small.
		if rand.IntN(100) == 0 {
			_, err = tx.Throttle.Delete().Where(throttle.ExpiresAtLT(now)).Exec(c)
		}
		return err
	})
}

// Delete removes a key.
func (s *Storage) Delete(key string) error {
	c, cancel := ctx()
	defer cancel()
	return s.db.Writer.Do(c, func(c context.Context, tx *ent.Client) error {
		_, err := tx.Throttle.Delete().Where(throttle.Key(s.prefix + key)).Exec(c)
		return err
	})
}

// Reset removes every key of this storage's prefix.
func (s *Storage) Reset() error {
	c, cancel := ctx()
	defer cancel()
	return s.db.Writer.Do(c, func(c context.Context, tx *ent.Client) error {
		_, err := tx.Throttle.Delete().Where(throttle.KeyHasPrefix(s.prefix)).Exec(c)
		return err
	})
}

// Close releases nothing: the database belongs to the server.
func (s *Storage) Close() error { return nil }
