// Package fakeusers fills a database with realistic fake users, for the
// `miniauth dev seed` command and for tests and benchmarks of the admin
// panel at scale. Nothing in the server uses it.
package fakeusers

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect"

	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/ent"
)

// Seeding batches: rows per INSERT statement and per transaction.
const (
	seedRowsPerInsert = 500
	seedRowsPerTx     = 25000
)

// Columns are the users columns Insert fills (every one but id); a test
// holds them to the Ent schema.
var Columns = []string{"openid", "unionid", "nickname", "avatar_url", "gender", "phone", "phone_country_code",
	"disabled", "login_count", "last_login_at", "created_at", "updated_at"}

// Nickname pools of the fake users: WeChat's default nickname, Chinese
// names and Latin handles, so that prefix searches hit realistic numbers.
var (
	surnames   = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
	givenNames = []rune("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力斌宇浩凯鹏飞鑫波海燕雪琳晨阳欣怡佳俊")
	latinNames = []string{"alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi", "ivan", "judy",
		"mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "xavier",
		"yuki", "zoe", "leo", "mia", "noah", "emma", "liam", "ava", "lucas", "chloe"}
)

// Options tune Insert.
type Options struct {
	// Span is how far back the fake sign-ups go (default one year).
	Span time.Duration
	// Now is the time of the newest sign-up (default now).
	Now time.Time
	// Rand drives every choice (default: a random seed).
	Rand *rand.Rand
	// Progress, if set, is told the running total after each batch.
	Progress func(done int)
}

// Insert adds n fake users. Their ids follow their sign-up times, as real
// ones do; openids are random, like WeChat's. It writes large multi-row
// INSERTs, which is what makes a million users take seconds: on
// PostgreSQL through the writer, in batches; on SQLite in one transaction
// on the write connection itself (db.SQL), for a prepared statement and
// an index rebuild at the end.
func Insert(ctx context.Context, db *database.DB, n int, o Options) error {
	if o.Span <= 0 {
		o.Span = 365 * 24 * time.Hour
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Now = o.Now.UTC()
	if o.Rand == nil {
		o.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	r := o.Rand
	// A per-run tag keeps openids of repeated runs apart.
	tag := randomID(r, 6)
	start := o.Now.Add(-o.Span)
	step := o.Span / time.Duration(max(n, 1))
	// Generating rows is half the work: a producer goroutine does it
	// while this one inserts, which keeps both cores busy.
	sqlite := db.Dialect == dialect.SQLite
	chunks := make(chan []any, 4)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(chunks)
		for from := 0; from < n; from += seedRowsPerInsert {
			rows := min(seedRowsPerInsert, n-from)
			args := make([]any, 0, rows*len(Columns))
			for i := from; i < from+rows; i++ {
				args = fakeUser(args, r, tag, i, start.Add(time.Duration(i)*step), o.Now, sqlite)
			}
			select {
			case chunks <- args:
			case <-stop:
				return
			}
		}
	}()
	stmts := map[int]string{}
	insert := func(ctx context.Context, tx *ent.Client) error {
		args := <-chunks
		rows := len(args) / len(Columns)
		stmt, ok := stmts[rows]
		if !ok {
			stmt = database.InsertStatement("users", Columns, rows)
			stmts[rows] = stmt
		}
		if _, err := tx.ExecContext(ctx, stmt, args...); err != nil {
			return fmt.Errorf("insert fake users: %w", err)
		}
		return nil
	}
	if db.Dialect == dialect.SQLite {
		// A large page cache and in-memory sorting for the index builds,
		// for this connection only (the writer's).
		for _, pragma := range []string{"PRAGMA cache_size = -262144", "PRAGMA temp_store = MEMORY", "PRAGMA threads = 4"} {
			if _, err := db.SQL.ExecContext(ctx, pragma); err != nil {
				return fmt.Errorf("%s: %w", pragma, err)
			}
		}
		// One transaction: drop the users indexes, append the rows, build
		// the indexes again. Sorting once is far faster than a million
		// random index inserts, and no other connection ever sees the
		// table without its indexes. It runs on the writer's connection
		// directly, for a prepared statement.
		return seedSQLite(ctx, db, n, chunks, o.Progress)
	}
	for done := 0; done < n; {
		batch := min(seedRowsPerTx, n-done)
		err := db.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
			for off := 0; off < batch; off += seedRowsPerInsert {
				if err := insert(ctx, tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		done += batch
		if o.Progress != nil {
			o.Progress(done)
		}
	}
	return nil
}

func seedSQLite(ctx context.Context, db *database.DB, n int, chunks <-chan []any, progress func(int)) error {
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin seeding: %w", err)
	}
	defer tx.Rollback()
	indexes, err := dropUserIndexes(ctx, tx)
	if err != nil {
		return err
	}
	stmts := map[int]*sql.Stmt{}
	for done := 0; done < n; {
		args := <-chunks
		rows := len(args) / len(Columns)
		stmt, ok := stmts[rows]
		if !ok {
			if stmt, err = tx.PrepareContext(ctx, database.InsertStatement("users", Columns, rows)); err != nil {
				return fmt.Errorf("prepare insert: %w", err)
			}
			defer stmt.Close()
			stmts[rows] = stmt
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("insert fake users: %w", err)
		}
		done += rows
		if progress != nil && (done%seedRowsPerTx == 0 || done == n) {
			progress(done)
		}
	}
	for _, ddl := range indexes {
		if _, err := tx.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("rebuild index: %w", err)
		}
	}
	return tx.Commit()
}

// execQuerier is a transaction, of database/sql or of Ent.
type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// dropUserIndexes drops the users table's indexes and returns the
// statements that create them again.
func dropUserIndexes(ctx context.Context, tx execQuerier) ([]string, error) {
	rows, err := tx.QueryContext(ctx, "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'users' AND sql IS NOT NULL")
	if err != nil {
		return nil, fmt.Errorf("list user indexes: %w", err)
	}
	var names, ddl []string
	for rows.Next() {
		var name, sql string
		if err := rows.Scan(&name, &sql); err != nil {
			rows.Close()
			return nil, err
		}
		names, ddl = append(names, name), append(ddl, sql)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, name := range names {
		if _, err := tx.ExecContext(ctx, "DROP INDEX `"+name+"`"); err != nil {
			return nil, fmt.Errorf("drop index %s: %w", name, err)
		}
	}
	return ddl, nil
}

// sqliteTime is how the SQLite driver stores a time.Time; formatting
// here, on the producer goroutine, takes the work off the inserting one.
const sqliteTime = "2006-01-02 15:04:05.999999999-07:00"

func fakeUser(args []any, r *rand.Rand, tag string, i int, created, now time.Time, sqlite bool) []any {
	created = created.Add(time.Duration(r.Int64N(int64(time.Second))))
	var unionid any
	if r.IntN(2) == 0 {
		unionid = "oU" + tag + randomID(r, 20)
	}
	phone, cc := "", ""
	if r.IntN(2) == 0 {
		phone, cc = "1"+strconv.Itoa(3+r.IntN(7))+fmt.Sprintf("%09d", r.IntN(1e9)), "86"
	}
	lastLogin := created.Add(time.Duration(r.Int64N(int64(now.Sub(created)) + 1)))
	var last, made any = lastLogin, created
	if sqlite {
		last, made = lastLogin.Format(sqliteTime), created.Format(sqliteTime)
	}
	return append(args,
		"o"+tag+randomID(r, 21), // 28 characters, like a real openid
		unionid,
		fakeNickname(r, i),
		"",
		r.IntN(3),
		phone, cc,
		r.IntN(200) == 0,
		1+r.IntN(50),
		last, made, last,
	)
}

func fakeNickname(r *rand.Rand, i int) string {
	switch n := r.IntN(10); {
	case n < 2:
		return "微信用户" // WeChat's default since 2022
	case n < 6:
		s := string(surnames[r.IntN(len(surnames))]) + string(givenNames[r.IntN(len(givenNames))])
		if r.IntN(2) == 0 {
			s += string(givenNames[r.IntN(len(givenNames))])
		}
		return s
	default:
		name := latinNames[r.IntN(len(latinNames))]
		if r.IntN(2) == 0 {
			name = strings.ToUpper(name[:1]) + name[1:]
		}
		return name + "_" + strconv.Itoa(i%100000)
	}
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func randomID(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = idAlphabet[r.IntN(len(idAlphabet))]
	}
	return string(b)
}
