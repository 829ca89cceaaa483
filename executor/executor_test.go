package executor

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/planner"
)

func TestTagCounter(t *testing.T) {
	tests := []struct {
		name string
		tags []string
		want string
	}{
		{"none", nil, ""},
		{"one", []string{"SELECT 3"}, "SELECT 3"},
		{"sum", []string{"SELECT 3", "SELECT 0", "SELECT 4"}, "SELECT 7"},
		{"insert keeps its oid", []string{"INSERT 0 2", "INSERT 0 5"}, "INSERT 0 7"},
		{"update", []string{"UPDATE 1", "UPDATE 2"}, "UPDATE 3"},
		{"delete", []string{"DELETE 0", "DELETE 0"}, "DELETE 0"},
		{"copy", []string{"COPY 10", "COPY 20"}, "COPY 30"},
		{"without count", []string{"CREATE TABLE", "CREATE TABLE"}, "CREATE TABLE"},
		{"counted wins over uncounted", []string{"SET", "SELECT 1", "SET"}, "SELECT 1"},
		{"empty tags ignored", []string{"", "MERGE 2", "  "}, "MERGE 2"},
		{"number alone is not a count", []string{"5"}, "5"},
		{"big counts", []string{"SELECT 4000000000", "SELECT 4000000000"}, "SELECT 8000000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c tagCounter
			for _, tag := range tc.tags {
				c.add(tag)
			}
			if got := c.String(); got != tc.want {
				t.Errorf("tags %q add up to %q; want %q", tc.tags, got, tc.want)
			}
		})
	}
}

func TestArrayLiteral(t *testing.T) {
	tests := []struct {
		name string
		vals [][]byte
		want string
	}{
		{"empty", nil, `{}`},
		{"one", [][]byte{[]byte("a")}, `{"a"}`},
		{"null", [][]byte{nil, []byte("x")}, `{NULL,"x"}`},
		{"empty string is not null", [][]byte{{}}, `{""}`},
		{"the word NULL", [][]byte{[]byte("NULL")}, `{"NULL"}`},
		{"quotes and backslashes", [][]byte{[]byte(`a"b\c`)}, `{"a\"b\\c"}`},
		{"separators", [][]byte{[]byte("{1,2} x"), []byte("\n\t")}, "{\"{1,2} x\",\"\n\t\"}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(arrayLiteral(tc.vals)); got != tc.want {
				t.Errorf("arrayLiteral(%q) = %s; want %s", tc.vals, got, tc.want)
			}
		})
	}
}

func TestCollector(t *testing.T) {
	old := MaxGatherBytes
	t.Cleanup(func() { MaxGatherBytes = old })
	MaxGatherBytes = 10

	c := &collector{}
	fields := []pgproto3.FieldDescription{{Name: []byte("a")}, {Name: []byte("b")}}
	if err := c.RowDescription(fields); err != nil || !reflect.DeepEqual(c.fields, fields) {
		t.Fatalf("RowDescription: %v, %v", c.fields, err)
	}
	buf := []byte("abcd")
	row := [][]byte{buf[:2], nil}
	if err := c.DataRow(row); err != nil {
		t.Fatal(err)
	}
	// The values are copies: the caller's buffer is reused.
	copy(buf, "zzzz")
	row[1] = []byte("changed")
	if err := c.DataRow([][]byte{{}, []byte("cdef")}); err != nil {
		t.Fatal(err)
	}
	want := [][][]byte{{[]byte("ab"), nil}, {{}, []byte("cdef")}}
	if !reflect.DeepEqual(c.rows, want) {
		t.Fatalf("rows %q; want %q", c.rows, want)
	}
	if c.rows[1][0] == nil {
		t.Error("an empty value became NULL")
	}
	if c.bytes != 6 {
		t.Errorf("bytes %d; want 6", c.bytes)
	}
	// Exactly at the limit is allowed; beyond it is refused.
	if err := c.DataRow([][]byte{[]byte("1234")}); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	err := c.DataRow([][]byte{[]byte("x")})
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "54000" || !strings.Contains(pe.Message, "10 bytes") {
		t.Fatalf("beyond the limit: %v; want SQLSTATE 54000", err)
	}
}

func TestNodeError(t *testing.T) {
	orig := &pgconn.PgError{Severity: "ERROR", Code: "23505", Message: "duplicate key", Detail: "Key (a)=(1) already exists.", Position: 17}
	withWhere := &pgconn.PgError{Severity: "ERROR", Code: "P0001", Message: "raised", Where: "PL/pgSQL function f() line 1"}
	tests := []struct {
		name      string
		err       error
		code      string
		where     string
		msgSubstr string
	}{
		{"datanode error", orig, "23505", "datanode dn1", "duplicate key"},
		{"wrapped datanode error", fmt.Errorf("exec: %w", orig), "23505", "datanode dn1", "duplicate key"},
		{"where kept", withWhere, "P0001", "PL/pgSQL function f() line 1", "raised"},
		{"connection lost", errors.New("EOF"), "08006", "", "lost connection to datanode dn1: EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := NodeError("dn1", tc.err)
			var pe *pgconn.PgError
			if !errors.As(err, &pe) {
				t.Fatalf("NodeError = %v (%T); want a PgError", err, err)
			}
			if pe.Code != tc.code || pe.Where != tc.where || !strings.Contains(pe.Message, tc.msgSubstr) || pe.Position != 0 || pe.Severity != "ERROR" {
				t.Errorf("NodeError = %+v; want code %s, where %q, message with %q, no position", pe, tc.code, tc.where, tc.msgSubstr)
			}
		})
	}
	if orig.Position != 17 || orig.Where != "" || orig.Detail == "" {
		t.Errorf("NodeError changed the datanode's error: %+v", orig)
	}
	if pe := NodeError("dn1", orig).(*pgconn.PgError); pe.Detail != orig.Detail {
		t.Errorf("NodeError dropped the detail: %+v", pe)
	}
}

// valuesOf parses an INSERT ... VALUES (...) and returns its first row.
func valuesOf(t *testing.T, list string) []*pg_query.Node {
	t.Helper()
	tree, err := pg_query.Parse("INSERT INTO t VALUES (" + list + ")")
	if err != nil {
		t.Fatalf("parse %s: %v", list, err)
	}
	ins := tree.Stmts[0].Stmt.GetInsertStmt()
	return ins.SelectStmt.GetSelectStmt().ValuesLists[0].GetList().Items
}

func knownCell(s string) cell { return cell{text: s, known: true} }

func TestBuildInsert(t *testing.T) {
	rows := [][]cell{
		{knownCell("1"), knownCell("it's")},
		{knownCell("2"), {isNull: true, known: true}},
		{{sql: "now()"}, {sql: "DEFAULT", isDef: true}},
		{knownCell(""), knownCell(`back\slash`)},
	}
	p := &planner.InsertRows{Head: `INSERT INTO t AS x (a, b)`, Tail: " ON CONFLICT DO NOTHING RETURNING x.a"}
	for _, tc := range []struct {
		idx  []int
		want string
	}{
		{[]int{0, 1}, `INSERT INTO t AS x (a, b) VALUES ('1', 'it''s'), ('2', NULL) ON CONFLICT DO NOTHING RETURNING x.a`},
		{[]int{2}, `INSERT INTO t AS x (a, b) VALUES (now(), DEFAULT) ON CONFLICT DO NOTHING RETURNING x.a`},
		{[]int{3}, `INSERT INTO t AS x (a, b) VALUES ('', E'back\\slash') ON CONFLICT DO NOTHING RETURNING x.a`},
	} {
		got := buildInsert(p, rows, tc.idx)
		if got != tc.want {
			t.Errorf("buildInsert = %s\nwant %s", got, tc.want)
		}
		if _, err := pg_query.Parse(got); err != nil {
			t.Errorf("buildInsert wrote SQL that does not parse: %v", err)
		}
	}
	if got := buildInsert(&planner.InsertRows{DefaultValues: "INSERT INTO t DEFAULT VALUES"}, [][]cell{{}}, []int{0}); got != "INSERT INTO t DEFAULT VALUES" {
		t.Errorf("no columns: %s", got)
	}
}

// TestArrayLiteralOnPostgres reads arrayLiteral's output back as PostgreSQL
// does, and checks the errors NodeError makes of a real datanode's.
func TestArrayLiteralOnPostgres(t *testing.T) {
	pg := clustertest.StartPlain(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgconn.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })

	vals := [][]byte{[]byte("plain"), nil, {}, []byte("NULL"), []byte(`"q" \b\`), []byte("{a,b}"), []byte(" sp "), []byte("é\n")}
	rr := conn.ExecParams(ctx, "SELECT x, x IS NULL FROM unnest($1::text[]) WITH ORDINALITY AS u(x, i) ORDER BY i",
		[][]byte{arrayLiteral(vals)}, nil, nil, nil)
	res := rr.Read()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if len(res.Rows) != len(vals) {
		t.Fatalf("%d elements; want %d", len(res.Rows), len(vals))
	}
	for i, r := range res.Rows {
		isNull := string(r[1]) == "t"
		if isNull != (vals[i] == nil) || string(r[0]) != string(vals[i]) {
			t.Errorf("element %d = %q (null %v); want %q", i, r[0], isNull, vals[i])
		}
	}

	_, err = conn.Exec(ctx, "SELECT 1/0").ReadAll()
	ne := NodeError("dn2", err)
	var pe *pgconn.PgError
	if !errors.As(ne, &pe) || pe.Code != "22012" || pe.Where != "datanode dn2" {
		t.Errorf("NodeError of division by zero = %+v", ne)
	}
	// A statement cancelled by its context is reported as a cancel.
	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	_, err = conn.Exec(cctx, "SELECT 1").ReadAll()
	if !errors.As(NodeError("dn2", err), &pe) || pe.Code != "57014" {
		t.Errorf("NodeError of a cancelled statement (%v) = %+v; want SQLSTATE 57014", err, pe)
	}
}
