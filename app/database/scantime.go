package database

import (
	"database/sql/driver"
	"fmt"
	"time"
)

// Time scans a timestamp whatever form the driver hands it in: PostgreSQL
// and declared SQLite columns give a time.Time, but SQLite gives text for
// expressions such as a RETURNING clause.
type Time struct{ time.Time }

// Scan implements sql.Scanner.
func (t *Time) Scan(v any) error {
	switch x := v.(type) {
	case time.Time:
		t.Time = x.UTC()
		return nil
	case string:
		return t.parse(x)
	case []byte:
		return t.parse(string(x))
	case nil:
		t.Time = time.Time{}
		return nil
	}
	return fmt.Errorf("cannot scan %T into a time", v)
}

// Value implements driver.Valuer.
func (t Time) Value() (driver.Value, error) { return t.Time, nil }

var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999-07:00", // how mattn/go-sqlite3 writes times
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
}

func (t *Time) parse(s string) error {
	for _, layout := range timeLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("unreadable time %q", s)
}
