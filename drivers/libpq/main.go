// Command libpq is the lib/pq row of the driver matrix (database/sql): it
// connects to a coordinator (PGHOST, PGPORT, PGUSER, PGDATABASE), binds
// parameters of common types to prepared statements, reads them back, runs a
// committed and a rolled-back transaction and reads SQLSTATEs of errors. It
// prints each check and exits non-zero on the first failure.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"reflect"
	"time"

	"github.com/lib/pq"
)

const tbl = "drv_libpq"

type row struct {
	id  int64
	b   sql.NullInt64
	n   sql.NullString
	t   sql.NullString
	by  []byte
	bo  sql.NullBool
	d   sql.NullTime
	ts  sql.NullTime
	u   sql.NullString
	j   sql.NullString
	arr []int64 // nil for NULL
}

func str(s string) sql.NullString { return sql.NullString{String: s, Valid: true} }
func tm(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: true} }

var rows = []row{
	{1, sql.NullInt64{Int64: 9007199254740993, Valid: true}, str("12345678901234.567890"), str("héllo, wörld ✓ 'quoted' \\ back"),
		[]byte{0x00, 0x01, 0xff, 0x27, 0x5c}, sql.NullBool{Bool: true, Valid: true}, tm(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)),
		tm(time.Date(2024, 3, 10, 12, 34, 56, 123456000, time.UTC)), str("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
		str(`{"k": [1, 2, {"x": null}], "s": "v"}`), []int64{1, -2, 3}},
	{2, sql.NullInt64{Int64: -9223372036854775808, Valid: true}, str("-0.000001"), str(""),
		[]byte{}, sql.NullBool{Bool: false, Valid: true}, tm(time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC)),
		tm(time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)), str("00000000-0000-0000-0000-000000000000"),
		str(`[]`), []int64{}},
	{id: 3},
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("lib/pq: all checks passed")
}

func ok(format string, args ...any) { fmt.Printf("lib/pq: ok: "+format+"\n", args...) }

func run(ctx context.Context) error {
	db, err := sql.Open("postgres", "sslmode=disable")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(2)
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	exec := func(q string, args ...any) error {
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		return nil
	}
	if err := exec("DROP TABLE IF EXISTS " + tbl); err != nil {
		return err
	}
	if err := exec(`CREATE TABLE ` + tbl + ` (id int PRIMARY KEY, b bigint, n numeric(20,6), t text, by bytea,
		bo bool, d date, ts timestamptz, u uuid, j json, arr int[]) DISTRIBUTE BY HASH (id)`); err != nil {
		return err
	}
	ok("create table DISTRIBUTE BY HASH")

	ins, err := db.PrepareContext(ctx, "INSERT INTO "+tbl+" (id, b, n, t, by, bo, d, ts, u, j, arr) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	defer ins.Close()
	for _, r := range rows {
		var arr any
		if r.arr != nil {
			arr = pq.Array(r.arr)
		}
		var by any
		if r.by != nil {
			by = r.by
		}
		if _, err := ins.ExecContext(ctx, r.id, r.b, r.n, r.t, by, r.bo, r.d, r.ts, r.u, r.j, arr); err != nil {
			return fmt.Errorf("insert id %d with bound parameters: %w", r.id, err)
		}
	}
	ok("inserted %d rows with a prepared statement and bound parameters of 11 types", len(rows))

	sel, err := db.PrepareContext(ctx, "SELECT id, b, n, t, by, bo, d, ts, u, j, arr FROM "+tbl+" WHERE id = $1")
	if err != nil {
		return fmt.Errorf("prepare select: %w", err)
	}
	defer sel.Close()
	for _, want := range rows {
		got, err := scanRow(sel.QueryRowContext(ctx, want.id))
		if err != nil {
			return fmt.Errorf("select id = $1 [%d]: %w", want.id, err)
		}
		if err := compare(want, got); err != nil {
			return fmt.Errorf("row %d read back: %w", want.id, err)
		}
	}
	ok("read back every row by its distribution key with a prepared statement, values equal")

	rs, err := db.QueryContext(ctx, "SELECT id, b, n, t, by, bo, d, ts, u, j, arr FROM "+tbl+" ORDER BY id")
	if err != nil {
		return fmt.Errorf("select all: %w", err)
	}
	var got []row
	for rs.Next() {
		r, err := scanRow(rs)
		if err != nil {
			rs.Close()
			return err
		}
		got = append(got, r)
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("select all ORDER BY id: %w", err)
	}
	if len(got) != len(rows) {
		return fmt.Errorf("select all ORDER BY id: %d rows, want %d", len(got), len(rows))
	}
	for i := range rows {
		if err := compare(rows[i], got[i]); err != nil {
			return fmt.Errorf("select all, row %d: %w", rows[i].id, err)
		}
	}
	ok("read back all rows from every datanode, ORDER BY id")

	checks := []struct {
		q    string
		arg  any
		want int64
	}{
		{"SELECT count(*) FROM " + tbl + " WHERE u = $1", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 1},
		{"SELECT count(*) FROM " + tbl + " WHERE t = $1", "", 1},
		{"SELECT count(*) FROM " + tbl + " WHERE b > $1", int64(0), 1},
		{"SELECT count(*) FROM " + tbl + " WHERE ts < $1", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), 1},
		{"SELECT count(*) FROM " + tbl + " WHERE $1 = ANY(arr)", int64(-2), 1},
		{"SELECT count(*) FROM " + tbl + " WHERE id = ANY($1)", pq.Array([]int64{1, 2, 3, 4}), 3},
		{"SELECT count(*) FROM " + tbl + " WHERE by = $1", []byte{0x00, 0x01, 0xff, 0x27, 0x5c}, 1},
	}
	for _, c := range checks {
		var n int64
		if err := db.QueryRowContext(ctx, c.q, c.arg).Scan(&n); err != nil {
			return fmt.Errorf("%s [$1=%v]: %w", c.q, c.arg, err)
		}
		if n != c.want {
			return fmt.Errorf("%s [$1=%v]: count %d, want %d", c.q, c.arg, n, c.want)
		}
	}
	ok("filters with bound parameters on uuid, text, bigint, timestamptz, int[], bytea columns")

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	for _, id := range []int64{100, 101, 102, 103} {
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+tbl+" (id, t) VALUES ($1, $2)", id, "tx"); err != nil {
			return fmt.Errorf("insert in transaction: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if n, err := count(ctx, db, "SELECT count(*) FROM "+tbl+" WHERE t = 'tx'"); err != nil || n != 4 {
		return fmt.Errorf("after COMMIT: %d rows, want 4 (%v)", n, err)
	}
	ok("transaction with COMMIT: 4 rows visible")

	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	for _, id := range []int64{200, 201, 202, 203} {
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+tbl+" (id, t) VALUES ($1, $2)", id, "rb"); err != nil {
			return fmt.Errorf("insert in transaction: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET t = 'changed' WHERE id = $1", 1); err != nil {
		return fmt.Errorf("update in transaction: %w", err)
	}
	if err := tx.Rollback(); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	if n, err := count(ctx, db, "SELECT count(*) FROM "+tbl+" WHERE t IN ('rb', 'changed')"); err != nil || n != 0 {
		return fmt.Errorf("after ROLLBACK: %d rows, want 0 (%v)", n, err)
	}
	ok("transaction with ROLLBACK: nothing visible")

	_, err = db.ExecContext(ctx, "INSERT INTO "+tbl+" (id) VALUES ($1)", 1)
	if code := sqlState(err); code != "23505" {
		return fmt.Errorf("duplicate key insert: SQLSTATE %q (%v), want 23505", code, err)
	}
	ok("unique violation reported as 23505")
	_, err = db.ExecContext(ctx, "SELEC 1")
	if code := sqlState(err); code != "42601" {
		return fmt.Errorf("SELEC 1: SQLSTATE %q (%v), want 42601", code, err)
	}
	ok("syntax error reported as 42601")
	if n, err := count(ctx, db, "SELECT count(*) FROM "+tbl); err != nil || n != 7 {
		return fmt.Errorf("after errors: %d rows, want 7 (%v)", n, err)
	}
	ok("connections usable after errors")
	return exec("DROP TABLE " + tbl)
}

func count(ctx context.Context, db *sql.DB, q string) (int64, error) {
	var n int64
	err := db.QueryRowContext(ctx, q).Scan(&n)
	return n, err
}

func sqlState(err error) string {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return string(pe.Code)
	}
	return ""
}

type scanner interface{ Scan(...any) error }

func scanRow(s scanner) (row, error) {
	var r row
	var arr pq.Int64Array
	if err := s.Scan(&r.id, &r.b, &r.n, &r.t, &r.by, &r.bo, &r.d, &r.ts, &r.u, &r.j, &arr); err != nil {
		return r, err
	}
	if arr != nil {
		r.arr = []int64(arr)
	}
	return r, nil
}

func compare(want, got row) error {
	if want.id != got.id {
		return fmt.Errorf("id %d, want %d", got.id, want.id)
	}
	if want.b != got.b {
		return fmt.Errorf("bigint %v, want %v", got.b, want.b)
	}
	if want.n.Valid != got.n.Valid || want.n.Valid && !sameNumber(want.n.String, got.n.String) {
		return fmt.Errorf("numeric %v, want %v", got.n, want.n)
	}
	if want.t != got.t {
		return fmt.Errorf("text %q, want %q", got.t.String, want.t.String)
	}
	if (want.by == nil) != (got.by == nil) || string(want.by) != string(got.by) {
		return fmt.Errorf("bytea %x (nil %v), want %x", got.by, got.by == nil, want.by)
	}
	if want.bo != got.bo {
		return fmt.Errorf("bool %v, want %v", got.bo, want.bo)
	}
	if want.d.Valid != got.d.Valid || want.d.Valid && want.d.Time.Format("2006-01-02") != got.d.Time.Format("2006-01-02") {
		return fmt.Errorf("date %v, want %v", got.d, want.d)
	}
	if want.ts.Valid != got.ts.Valid || want.ts.Valid && !want.ts.Time.Equal(got.ts.Time) {
		return fmt.Errorf("timestamptz %v, want %v", got.ts, want.ts)
	}
	if want.u != got.u {
		return fmt.Errorf("uuid %v, want %v", got.u, want.u)
	}
	if want.j.Valid != got.j.Valid {
		return fmt.Errorf("json %v, want %v", got.j, want.j)
	}
	if want.j.Valid {
		var a, b any
		if err := json.Unmarshal([]byte(want.j.String), &a); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(got.j.String), &b); err != nil {
			return fmt.Errorf("json %q: %w", got.j.String, err)
		}
		if !reflect.DeepEqual(a, b) {
			return fmt.Errorf("json %s, want %s", got.j.String, want.j.String)
		}
	}
	if (want.arr == nil) != (got.arr == nil) || len(want.arr)+len(got.arr) > 0 && !reflect.DeepEqual(want.arr, got.arr) {
		return fmt.Errorf("int[] %v, want %v", got.arr, want.arr)
	}
	return nil
}

func sameNumber(a, b string) bool {
	x, ok1 := new(big.Rat).SetString(a)
	y, ok2 := new(big.Rat).SetString(b)
	return ok1 && ok2 && x.Cmp(y) == 0
}
