package schema

import "time"

// nowUTC keeps every stored time in UTC, so that SQLite's text timestamps
// compare in time order.
func nowUTC() time.Time { return time.Now().UTC() }
