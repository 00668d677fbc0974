package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"
	"entgo.io/ent/schema/field"

	"github.com/miniauth/miniauth/ent/migrate"
)

// copyBatch is rows per INSERT: 500 rows of the widest table stay far
// below both SQLite's and PostgreSQL's bound-parameter limits.
const copyBatch = 500

// skipOnCopy lists tables whose rows are short-lived and rebuilt by
// themselves (rate-limit counters, web sign-ins in flight).
var skipOnCopy = map[string]bool{"throttles": true, "web_login_tickets": true}

// CopyProgress is told how far a table has got.
type CopyProgress func(table string, done, total int)

// CopyCount is one table's row count in the source and, after the copy,
// in the target.
type CopyCount struct {
	Table          string
	Source, Target int
}

// Copy moves every row of every table from src to dst, keeping ids, in
// foreign-key order, table by table in one transaction each. dst must be
// migrated and empty. It returns per-table counts read back from both
// databases, so the caller can verify nothing was lost.
func Copy(ctx context.Context, src, dst *DB, progress CopyProgress) ([]CopyCount, error) {
	tables := copyOrder(migrate.Tables)
	for _, t := range tables {
		n, err := count(ctx, dst.SQL, t.Name)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, fmt.Errorf("target table %s already has %d rows: copy only into an empty database", t.Name, n)
		}
	}
	var counts []CopyCount
	for _, t := range tables {
		total, err := count(ctx, src.SQL, t.Name)
		if err != nil {
			return nil, err
		}
		if err := copyTable(ctx, src, dst, t, total, progress); err != nil {
			return nil, fmt.Errorf("copy %s: %w", t.Name, err)
		}
		got, err := count(ctx, dst.SQL, t.Name)
		if err != nil {
			return nil, err
		}
		counts = append(counts, CopyCount{Table: t.Name, Source: total, Target: got})
	}
	return counts, nil
}

// copyOrder puts referenced tables before the tables that refer to them.
func copyOrder(all []*schema.Table) []*schema.Table {
	var out []*schema.Table
	placed := map[string]bool{}
	for len(out) < len(all) {
		progressed := false
		for _, t := range all {
			if placed[t.Name] {
				continue
			}
			ready := true
			for _, fk := range t.ForeignKeys {
				if fk.RefTable != nil && fk.RefTable.Name != t.Name && !placed[fk.RefTable.Name] {
					ready = false
				}
			}
			if ready {
				placed[t.Name] = true
				out = append(out, t)
				progressed = true
			}
		}
		if !progressed { // a cycle: keep the rest in schema order
			for _, t := range all {
				if !placed[t.Name] {
					placed[t.Name] = true
					out = append(out, t)
				}
			}
		}
	}
	var kept []*schema.Table
	for _, t := range out {
		if !skipOnCopy[t.Name] {
			kept = append(kept, t)
		}
	}
	return kept
}

func count(ctx context.Context, db *sql.DB, table string) (int, error) {
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}

func copyTable(ctx context.Context, src, dst *DB, t *schema.Table, total int, progress CopyProgress) error {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = c.Name
	}
	colList := strings.Join(cols, ", ")
	tx, err := dst.SQL.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	lastID, done := 0, 0
	if progress != nil {
		progress(t.Name, 0, total)
	}
	for {
		rows, err := src.SQL.QueryContext(ctx,
			fmt.Sprintf("SELECT %s FROM %s WHERE id > $1 ORDER BY id LIMIT %d", colList, t.Name, copyBatch), lastID)
		if err != nil {
			return err
		}
		var batch [][]any
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return err
			}
			for i, c := range t.Columns {
				if vals[i], err = normalize(c, vals[i]); err != nil {
					rows.Close()
					return fmt.Errorf("column %s: %w", c.Name, err)
				}
			}
			batch = append(batch, vals)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(batch) == 0 {
			break
		}
		if err := insertRows(ctx, tx, t.Name, cols, batch); err != nil {
			return err
		}
		lastID = int(toInt64(batch[len(batch)-1][0]))
		done += len(batch)
		if progress != nil {
			progress(t.Name, done, total)
		}
	}
	next, err := nextID(ctx, src, t.Name)
	if err != nil {
		return fmt.Errorf("read id sequence: %w", err)
	}
	if err := raiseSequence(ctx, tx, dst.Dialect, t.Name, next); err != nil {
		return fmt.Errorf("set id sequence: %w", err)
	}
	return tx.Commit()
}

// nextID is the id db would give table's next row: past its highest id
// and past its id sequence (PostgreSQL's identity sequence, SQLite's
// AUTOINCREMENT counter), which remember rows deleted since. The target
// starts there too, so an id that once named a row (and is perhaps still
// in a token or a log) never names another one.
func nextID(ctx context.Context, db *DB, table string) (int64, error) {
	var maxID sql.NullInt64
	if err := db.SQL.QueryRowContext(ctx, "SELECT MAX(id) FROM "+table).Scan(&maxID); err != nil {
		return 0, err
	}
	next := maxID.Int64 + 1
	switch db.Dialect {
	case dialect.Postgres:
		var seq sql.NullString
		if err := db.SQL.QueryRowContext(ctx, "SELECT pg_get_serial_sequence($1, 'id')", table).Scan(&seq); err != nil {
			return 0, err
		}
		if seq.Valid {
			var last int64
			var called bool
			if err := db.SQL.QueryRowContext(ctx, "SELECT last_value, is_called FROM "+seq.String).Scan(&last, &called); err != nil {
				return 0, err
			}
			if called {
				last++
			}
			next = max(next, last)
		}
	case dialect.SQLite:
		var seq sql.NullInt64
		err := db.SQL.QueryRowContext(ctx, "SELECT seq FROM sqlite_sequence WHERE name = $1", table).Scan(&seq)
		switch {
		case err == nil:
			next = max(next, seq.Int64+1)
		case errors.Is(err, sql.ErrNoRows), strings.Contains(err.Error(), "no such table"):
			// no AUTOINCREMENT counter (yet): the highest id is all there is
		default:
			return 0, err
		}
	}
	return next, nil
}

// raiseSequence makes the target's next id for table at least next.
// Explicit ids leave PostgreSQL's identity sequence behind, so it is always
// set; SQLite's counter only ever goes up.
func raiseSequence(ctx context.Context, tx *sql.Tx, d string, table string, next int64) error {
	switch d {
	case dialect.Postgres:
		_, err := tx.ExecContext(ctx, fmt.Sprintf(
			"SELECT setval(pg_get_serial_sequence('%s', 'id'), GREATEST($1::bigint, COALESCE((SELECT MAX(id) FROM %s), 0) + 1), false)", table, table), next)
		return err
	case dialect.SQLite:
		var exists int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'").Scan(&exists); err != nil || exists == 0 {
			return err
		}
		res, err := tx.ExecContext(ctx, "UPDATE sqlite_sequence SET seq = MAX(seq, $1) WHERE name = $2", next-1, table)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 && next > 1 {
			_, err = tx.ExecContext(ctx, "INSERT INTO sqlite_sequence (name, seq) VALUES ($1, $2)", table, next-1)
		}
		return err
	}
	return nil
}

// InsertStatement is a multi-row INSERT of rows rows into table's cols,
// with $n placeholders in order, which SQLite and PostgreSQL both take.
func InsertStatement(table string, cols []string, rows int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", table, strings.Join(cols, ", "))
	p := 0
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for i := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			p++
			b.WriteString("$" + strconv.Itoa(p))
		}
		b.WriteByte(')')
	}
	return b.String()
}

func insertRows(ctx context.Context, tx *sql.Tx, table string, cols []string, rows [][]any) error {
	args := make([]any, 0, len(rows)*len(cols))
	for _, row := range rows {
		args = append(args, row...)
	}
	_, err := tx.ExecContext(ctx, InsertStatement(table, cols, len(rows)), args...)
	return err
}

// normalize turns a value as one driver returns it into what the other
// accepts: SQLite hands back booleans as integers and, for some column
// declarations, times as text.
func normalize(c *schema.Column, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.Type {
	case field.TypeBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		}
	case field.TypeTime:
		var t Time
		if err := t.Scan(v); err != nil {
			return nil, err
		}
		return t.Time, nil
	case field.TypeBytes:
		if s, ok := v.(string); ok {
			return []byte(s), nil
		}
	}
	return v, nil
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int:
		return int64(x)
	}
	return 0
}
