package app_test

import (
	"context"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/database"
)

// Instances starting together on an empty PostgreSQL all migrate cleanly.
func TestConcurrentMigrationsOnPostgres(t *testing.T) {
	url := apptest.FreshPostgres(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := database.Open(context.Background(), database.Options{URL: url, MaxOpenConns: 3, MaxIdleConns: 1})
			if err != nil {
				errs <- err
				return
			}
			db.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent migration: %v", err)
	}
}
