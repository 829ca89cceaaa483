// Command pgx is the pgx row of the driver matrix: it connects to a
// coordinator (PGHOST, PGPORT, PGUSER, PGDATABASE), binds parameters of common
// types to prepared statements, reads them back, runs a committed and a
// rolled-back transaction and reads SQLSTATEs of errors. It prints each check
// and exits non-zero on the first failure.
//
// It runs the whole matrix twice: with pgx's default extended protocol
// (binary parameters and results) and with the simple protocol.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"reflect"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

type row struct {
	id  int32
	b   *int64
	n   *string
	t   *string
	by  []byte
	bo  *bool
	d   *time.Time
	ts  *time.Time
	u   *string
	j   *string
	arr []int32
}

func ptr[T any](v T) *T { return &v }

var rows = []row{
	{1, ptr(int64(9007199254740993)), ptr("12345678901234.567890"), ptr("héllo, wörld ✓ 'quoted' \\ back"),
		[]byte{0x00, 0x01, 0xff, 0x27, 0x5c}, ptr(true), ptr(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)),
		ptr(time.Date(2024, 3, 10, 12, 34, 56, 123456000, time.UTC)), ptr("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
		ptr(`{"k": [1, 2, {"x": null}], "s": "v"}`), []int32{1, -2, 3}},
	{2, ptr(int64(-9223372036854775808)), ptr("-0.000001"), ptr(""),
		[]byte{}, ptr(false), ptr(time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC)),
		ptr(time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)), ptr("00000000-0000-0000-0000-000000000000"),
		ptr(`[]`), []int32{}},
	{3, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	failed := false
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		if err := run(ctx, mode); err != nil {
			fmt.Printf("pgx %v: FAIL: %v\n", mode, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
	fmt.Println("pgx: all checks passed")
}

func run(ctx context.Context, mode pgx.QueryExecMode) error {
	cfg, err := pgx.ParseConfig("sslmode=disable")
	if err != nil {
		return err
	}
	cfg.DefaultQueryExecMode = mode
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	ok := func(format string, args ...any) {
		fmt.Printf("pgx %v: ok: "+format+"\n", append([]any{mode}, args...)...)
	}
	exec := func(sql string, args ...any) error {
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
		return nil
	}

	const tbl = "drv_pgx"
	if err := exec("DROP TABLE IF EXISTS " + tbl); err != nil {
		return err
	}
	if err := exec(`CREATE TABLE ` + tbl + ` (id int PRIMARY KEY, b bigint, n numeric(20,6), t text, by bytea,
		bo bool, d date, ts timestamptz, u uuid, j json, arr int[]) DISTRIBUTE BY HASH (id)`); err != nil {
		return err
	}
	ok("create table DISTRIBUTE BY HASH")

	ins := "INSERT INTO " + tbl + " (id, b, n, t, by, bo, d, ts, u, j, arr) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
	if mode == pgx.QueryExecModeCacheStatement {
		if _, err := conn.Prepare(ctx, "ins", ins); err != nil {
			return fmt.Errorf("prepare %s: %w", ins, err)
		}
		ins = "ins"
	}
	for _, r := range rows {
		var n any
		if r.n != nil {
			var num pgtype.Numeric
			if err := num.Scan(*r.n); err != nil {
				return err
			}
			n = num
		}
		var arr any
		if r.arr != nil {
			arr = r.arr
		}
		var by any
		if r.by != nil {
			by = r.by
		}
		if _, err := conn.Exec(ctx, ins, r.id, r.b, n, r.t, by, r.bo, r.d, r.ts, r.u, r.j, arr); err != nil {
			return fmt.Errorf("insert id %d with bound parameters: %w", r.id, err)
		}
	}
	ok("inserted %d rows with bound parameters of 11 types", len(rows))

	sel := "SELECT id, b, n, t, by, bo, d, ts, u, j, arr FROM " + tbl + " WHERE id = $1"
	for _, want := range rows {
		got, err := scanRow(conn.QueryRow(ctx, sel, want.id))
		if err != nil {
			return fmt.Errorf("%s [$1=%d]: %w", sel, want.id, err)
		}
		if err := compare(want, got); err != nil {
			return fmt.Errorf("row %d read back: %w", want.id, err)
		}
	}
	ok("read back every row by its distribution key, values equal")

	all, err := conn.Query(ctx, "SELECT id, b, n, t, by, bo, d, ts, u, j, arr FROM "+tbl+" ORDER BY id")
	if err != nil {
		return err
	}
	var got []row
	for all.Next() {
		r, err := scanRow(all)
		if err != nil {
			return err
		}
		got = append(got, r)
	}
	if err := all.Err(); err != nil {
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

	// Parameters on columns that are not the distribution key.
	checks := []struct {
		sql  string
		arg  any
		want int64
	}{
		{"SELECT count(*) FROM " + tbl + " WHERE u = $1", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 1},
		{"SELECT count(*) FROM " + tbl + " WHERE t = $1", "", 1},
		{"SELECT count(*) FROM " + tbl + " WHERE b > $1", int64(0), 1},
		{"SELECT count(*) FROM " + tbl + " WHERE ts < $1", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), 1},
		{"SELECT count(*) FROM " + tbl + " WHERE $1 = ANY(arr)", int32(-2), 1},
		{"SELECT count(*) FROM " + tbl + " WHERE id = ANY($1)", []int32{1, 2, 3, 4}, 3},
	}
	for _, c := range checks {
		var n int64
		if err := conn.QueryRow(ctx, c.sql, c.arg).Scan(&n); err != nil {
			return fmt.Errorf("%s [$1=%v]: %w", c.sql, c.arg, err)
		}
		if n != c.want {
			return fmt.Errorf("%s [$1=%v]: count %d, want %d", c.sql, c.arg, n, c.want)
		}
	}
	ok("filters with bound parameters on uuid, text, bigint, timestamptz, int[] columns")

	// A committed transaction writing two rows (on different datanodes for
	// most hash maps) and a rolled-back one.
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	for _, id := range []int32{100, 101, 102, 103} {
		if _, err := tx.Exec(ctx, "INSERT INTO "+tbl+" (id, t) VALUES ($1, $2)", id, "tx"); err != nil {
			return fmt.Errorf("insert in transaction: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if n, err := count(ctx, conn, "SELECT count(*) FROM "+tbl+" WHERE t = 'tx'"); err != nil || n != 4 {
		return fmt.Errorf("after COMMIT: %d rows, want 4 (%v)", n, err)
	}
	ok("transaction with COMMIT: 4 rows visible")

	tx, err = conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	for _, id := range []int32{200, 201, 202, 203} {
		if _, err := tx.Exec(ctx, "INSERT INTO "+tbl+" (id, t) VALUES ($1, $2)", id, "rb"); err != nil {
			return fmt.Errorf("insert in transaction: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, "UPDATE "+tbl+" SET t = 'changed' WHERE id = $1", int32(1)); err != nil {
		return fmt.Errorf("update in transaction: %w", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	if n, err := count(ctx, conn, "SELECT count(*) FROM "+tbl+" WHERE t IN ('rb', 'changed')"); err != nil || n != 0 {
		return fmt.Errorf("after ROLLBACK: %d rows, want 0 (%v)", n, err)
	}
	ok("transaction with ROLLBACK: nothing visible")

	// Errors.
	_, err = conn.Exec(ctx, "INSERT INTO "+tbl+" (id) VALUES ($1)", int32(1))
	if code := sqlState(err); code != "23505" {
		return fmt.Errorf("duplicate key insert: SQLSTATE %q (%v), want 23505", code, err)
	}
	ok("unique violation reported as 23505")
	_, err = conn.Exec(ctx, "SELEC 1")
	if code := sqlState(err); code != "42601" {
		return fmt.Errorf("SELEC 1: SQLSTATE %q (%v), want 42601", code, err)
	}
	ok("syntax error reported as 42601")
	tx, err = conn.Begin(ctx)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, "INSERT INTO "+tbl+" (id) VALUES ($1)", int32(2))
	if code := sqlState(err); code != "23505" {
		return fmt.Errorf("duplicate key insert in transaction: SQLSTATE %q (%v), want 23505", code, err)
	}
	_, err = tx.Exec(ctx, "SELECT 1")
	if code := sqlState(err); code != "25P02" {
		return fmt.Errorf("statement after an error in a transaction: SQLSTATE %q (%v), want 25P02", code, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		return fmt.Errorf("rollback after error: %w", err)
	}
	ok("error inside a transaction: 23505, then 25P02, then ROLLBACK")
	if mode == pgx.QueryExecModeCacheStatement {
		// The same with every statement over the extended protocol
		// (Parse/Bind/Execute/Sync), as JDBC and other drivers send them.
		pc := conn.PgConn()
		ext := func(sql string) error {
			return pc.ExecParams(ctx, sql, nil, nil, nil, nil).Read().Err
		}
		if err := ext("BEGIN"); err != nil {
			return fmt.Errorf("extended BEGIN: %w", err)
		}
		if code := sqlState(ext("SELEC 1")); code != "42601" {
			return fmt.Errorf("extended SELEC 1 in a transaction: SQLSTATE %q, want 42601", code)
		}
		status := pc.TxStatus()
		if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
			return fmt.Errorf("ROLLBACK: %w", err)
		}
		var parseErr error
		if status != 'E' {
			parseErr = fmt.Errorf("extended SELEC 1 (a Parse error) in a transaction: transaction status %c after the error, want E (failed transaction)", status)
			fmt.Printf("pgx %v: FAIL: %v\n", mode, parseErr)
		}
		if err := ext("BEGIN"); err != nil {
			return fmt.Errorf("extended BEGIN: %w", err)
		}
		if code := sqlState(ext("INSERT INTO " + tbl + " (id) VALUES (2)")); code != "23505" {
			return fmt.Errorf("extended duplicate key insert in a transaction: SQLSTATE %q, want 23505", code)
		}
		if err := ext("ROLLBACK"); err != nil || pc.TxStatus() != 'I' {
			return fmt.Errorf("extended-protocol ROLLBACK of a transaction aborted by an error: %v (transaction status %c), want ROLLBACK and status I", err, pc.TxStatus())
		}
		if parseErr != nil {
			return parseErr
		}
		ok("extended protocol: a Parse error aborts the transaction, ROLLBACK of an aborted transaction")
	}
	if n, err := count(ctx, conn, "SELECT count(*) FROM "+tbl); err != nil || n != 7 {
		return fmt.Errorf("session after errors: %d rows, want 7 (%v)", n, err)
	}
	ok("session usable after errors")
	return exec("DROP TABLE " + tbl)
}

func count(ctx context.Context, conn *pgx.Conn, sql string) (int64, error) {
	var n int64
	err := conn.QueryRow(ctx, sql).Scan(&n)
	return n, err
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func scanRow(s pgx.Row) (row, error) {
	var r row
	var n pgtype.Numeric
	var u pgtype.UUID
	var j []byte
	var arr []int32
	var d pgtype.Date
	if err := s.Scan(&r.id, &r.b, &n, &r.t, &r.by, &r.bo, &d, &r.ts, &u, &j, &arr); err != nil {
		return r, err
	}
	if n.Valid {
		v := new(big.Rat).SetInt(n.Int)
		e := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(n.Exp))), nil))
		if n.Exp < 0 {
			v.Quo(v, e)
		} else {
			v.Mul(v, e)
		}
		r.n = ptr(v.RatString())
	}
	if u.Valid {
		r.u = ptr(fmt.Sprintf("%x-%x-%x-%x-%x", u.Bytes[0:4], u.Bytes[4:6], u.Bytes[6:8], u.Bytes[8:10], u.Bytes[10:16]))
	}
	if j != nil {
		r.j = ptr(string(j))
	}
	if d.Valid {
		r.d = ptr(d.Time)
	}
	r.arr = arr
	return r, nil
}

func compare(want, got row) error {
	if want.id != got.id {
		return fmt.Errorf("id %d, want %d", got.id, want.id)
	}
	if !reflect.DeepEqual(want.b, got.b) {
		return fmt.Errorf("bigint %v, want %v", deref(got.b), deref(want.b))
	}
	if want.n != nil {
		v, _ := new(big.Rat).SetString(*want.n)
		want.n = ptr(v.RatString())
	}
	if !reflect.DeepEqual(want.n, got.n) {
		return fmt.Errorf("numeric %v, want %v", deref(got.n), deref(want.n))
	}
	if !reflect.DeepEqual(want.t, got.t) {
		return fmt.Errorf("text %q, want %q", deref(got.t), deref(want.t))
	}
	if (want.by == nil) != (got.by == nil) || string(want.by) != string(got.by) {
		return fmt.Errorf("bytea %x, want %x", got.by, want.by)
	}
	if !reflect.DeepEqual(want.bo, got.bo) {
		return fmt.Errorf("bool %v, want %v", deref(got.bo), deref(want.bo))
	}
	if (want.d == nil) != (got.d == nil) || want.d != nil && !want.d.Equal(*got.d) {
		return fmt.Errorf("date %v, want %v", deref(got.d), deref(want.d))
	}
	if (want.ts == nil) != (got.ts == nil) || want.ts != nil && !want.ts.Equal(*got.ts) {
		return fmt.Errorf("timestamptz %v, want %v", deref(got.ts), deref(want.ts))
	}
	if !reflect.DeepEqual(want.u, got.u) {
		return fmt.Errorf("uuid %v, want %v", deref(got.u), deref(want.u))
	}
	if (want.j == nil) != (got.j == nil) {
		return fmt.Errorf("json %v, want %v", deref(got.j), deref(want.j))
	}
	if want.j != nil {
		var a, b any
		if err := json.Unmarshal([]byte(*want.j), &a); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(*got.j), &b); err != nil {
			return fmt.Errorf("json %q: %w", *got.j, err)
		}
		if !reflect.DeepEqual(a, b) {
			return fmt.Errorf("json %s, want %s", *got.j, *want.j)
		}
	}
	if (want.arr == nil) != (got.arr == nil) || !reflect.DeepEqual(want.arr, got.arr) && len(want.arr)+len(got.arr) > 0 {
		return fmt.Errorf("int[] %v, want %v", got.arr, want.arr)
	}
	return nil
}

func abs(i int32) int32 {
	if i < 0 {
		return -i
	}
	return i
}

func deref[T any](p *T) any {
	if p == nil {
		return "NULL"
	}
	return *p
}
