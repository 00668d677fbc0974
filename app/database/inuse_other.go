//go:build !unix

package database

// sqliteHolder cannot tell on this system: nobody is assumed.
func sqliteHolder(string) (int, error) { return 0, nil }
