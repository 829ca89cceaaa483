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
	"google.golang.org/protobuf/proto"

	"github.com/xlgo/xlgo/cluster/clustertest"
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

func TestIsConstantAndConstOf(t *testing.T) {
	tests := []struct {
		expr     string
		constant bool
		ok       bool // constOf knows its text
		text     string
		isNull   bool
	}{
		{"1", true, true, "1", false},
		{"-42", true, true, "-42", false},
		{"'abc'", true, true, "abc", false},
		{"''", true, true, "", false},
		{"'it''s'", true, true, "it's", false},
		{"E'a\\nb'", true, true, "a\nb", false},
		{"NULL", true, true, "", true},
		{"true", true, true, "true", false},
		{"false", true, true, "false", false},
		{"1.5", true, false, "", false},
		{"1e3", true, false, "", false},
		{"99999999999", true, false, "", false},
		{"B'101'", true, false, "", false},
		{"DEFAULT", true, false, "", false},
		{"'5'::int", true, false, "", false},
		{"CAST('x' AS text)", true, false, "", false},
		{"now()", false, false, "", false},
		{"nextval('s')", false, false, "", false},
		{"1 + 1", false, false, "", false},
		{"(1)", true, true, "1", false},
		{"ARRAY[1]", false, false, "", false},
		{"random()::int", false, false, "", false},
		{"'a'::text::varchar", false, false, "", false},
		{"$1", false, false, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			n := valuesOf(t, tc.expr)[0]
			if got := isConstant(n); got != tc.constant {
				t.Errorf("isConstant(%s) = %v; want %v", tc.expr, got, tc.constant)
			}
			text, isNull, ok := constOf(n)
			if text != tc.text || isNull != tc.isNull || ok != tc.ok {
				t.Errorf("constOf(%s) = %q, %v, %v; want %q, %v, %v", tc.expr, text, isNull, ok, tc.text, tc.isNull, tc.ok)
			}
		})
	}
}

// TestIsConstantTimeLiterals: a replicated table's row must hold the same
// value on every datanode, but each datanode reads these literals at its
// own transaction's start (or its own clock), so they are not constants.
func TestIsConstantTimeLiterals(t *testing.T) {
	for _, expr := range []string{"'now'::timestamptz", "'now'::timestamp", "CAST('now' AS time)"} {
		if isConstant(valuesOf(t, expr)[0]) {
			t.Errorf("isConstant(%s) = true; its value differs between datanodes", expr)
		}
	}
}

func knownCell(s string) cell { return cell{text: s, known: true} }

func TestBuildInsert(t *testing.T) {
	parse := func(sql string) *pg_query.InsertStmt {
		t.Helper()
		tree, err := pg_query.Parse(sql)
		if err != nil {
			t.Fatal(err)
		}
		return tree.Stmts[0].Stmt.GetInsertStmt()
	}
	expr := func(s string) cell { return cell{expr: valuesOf(t, s)[0]} }
	rows := [][]cell{
		{knownCell("1"), knownCell("it's")},
		{knownCell("2"), {isNull: true, known: true}},
		{expr("now()"), expr("DEFAULT")},
		{knownCell(""), knownCell(`back\slash`)},
	}
	tests := []struct {
		name     string
		target   string
		cols     []string
		idx      []int
		override bool
		want     string
	}{
		{"rows chosen", "INSERT INTO s.t (b, a) VALUES (1, 2)", []string{"a", "b"}, []int{0, 1},
			false, `INSERT INTO s.t (a, b) VALUES ('1', 'it''s'), ('2', NULL)`},
		{"expressions kept", "INSERT INTO t VALUES (1)", []string{"a", "b"}, []int{2},
			false, `INSERT INTO t (a, b) VALUES (now(), DEFAULT)`},
		{"returning and on conflict", "INSERT INTO t AS x VALUES (1) ON CONFLICT DO NOTHING RETURNING x.a", []string{"a", "b"}, []int{1, 0},
			false, `INSERT INTO t AS x (a, b) VALUES ('2', NULL), ('1', 'it''s') ON CONFLICT DO NOTHING RETURNING x.a`},
		{"overriding", "INSERT INTO t VALUES (1)", []string{"a", "b"}, []int{0},
			true, `INSERT INTO t (a, b) OVERRIDING SYSTEM VALUE VALUES ('1', 'it''s')`},
		{"quoted names", `INSERT INTO "My T" VALUES (1)`, []string{"Col A", "b"}, []int{3},
			false, `INSERT INTO "My T" ("Col A", b) VALUES ('', E'back\\slash')`},
		{"no columns", "INSERT INTO t DEFAULT VALUES", nil, []int{0},
			false, `INSERT INTO t DEFAULT VALUES`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := parse(tc.target)
			before := proto.Clone(target)
			var rs [][]cell
			for _, r := range rows {
				rs = append(rs, r[:len(tc.cols)])
			}
			got, err := buildInsert(target, tc.cols, rs, tc.idx, tc.override)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("buildInsert = %s\nwant %s", got, tc.want)
			}
			if !proto.Equal(before, target) {
				t.Error("buildInsert changed its target statement")
			}
			if _, err := pg_query.Parse(got); err != nil {
				t.Errorf("buildInsert wrote SQL that does not parse: %v", err)
			}
		})
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
