package planner

import (
	"fmt"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

func TestParamForm(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"SELECT abalance FROM pgbench_accounts WHERE aid = 409023", "SELECT abalance FROM pgbench_accounts WHERE aid = $1 [23]"},
		{"UPDATE pgbench_accounts SET abalance = abalance + -2236 WHERE aid = 5", "UPDATE pgbench_accounts SET abalance = abalance + -$1 WHERE aid = $2 [23 23]"},
		{"UPDATE t SET a = a - 5, b = 'x' WHERE id = - 7", "UPDATE t SET a = a - $1, b = $2 WHERE id = - $3 [23 0 23]"},
		{"INSERT INTO h (tid, bid, aid, delta, mtime) VALUES (71, 4, 545573, -2236, CURRENT_TIMESTAMP)",
			"INSERT INTO h (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, -$4, CURRENT_TIMESTAMP) [23 23 23 23]"},
		{"INSERT INTO t VALUES (1, 'a'), (2, 'b')", "INSERT INTO t VALUES ($1, $2), ($3, $4) [23 0 23 0]"},
		{"SELECT * FROM t WHERE id = 5 AND name IN ('a', 'b') AND d BETWEEN '2020-01-01' AND '2021-01-01'",
			"SELECT * FROM t WHERE id = $1 AND name IN ($2, $3) AND d BETWEEN $4 AND $5 [23 0 0 0 0]"},
		// Not every constant can be a parameter: the text stays.
		{"SELECT 1 FROM t WHERE id = 5", "no form"},
		{"SELECT * FROM t WHERE id = 5 ORDER BY 1", "no form"},
		{"SELECT * FROM t WHERE id = 5 AND d > '1 day'::interval", "no form"},
		{"SELECT * FROM t WHERE id = 5 AND lower(name) = 'a'", "no form"},
		{"SELECT * FROM t WHERE id = 5 AND 'a' = 'b'", "no form"},
		{"SELECT * FROM t WHERE id = 5 LIMIT 3", "no form"},
		{"SELECT * FROM t WHERE id = 3000000000", "no form"},
		{"SELECT * FROM t WHERE id = 5 AND x = -2147483648", "no form"},
		{"SELECT * FROM t WHERE id = 5 AND v = 1.5", "no form"}, // no template at all
		{"SELECT CAST(a AS varchar(10)) FROM t WHERE id = 5", "no form"},
		// A constant expression is folded when the datanode plans: it stays.
		{"SELECT * FROM t WHERE id = 5 AND 1 / 0 = 1", "no form"},
		{"SELECT * FROM t WHERE id = 5 AND a = 2 + 3", "no form"},
		{"SELECT * FROM t WHERE id = 5 AND 3 IN (1, 2)", "no form"},
		{"SELECT * FROM t WHERE id = 5 AND 3 BETWEEN 1 AND 2", "no form"},
		{"SELECT * FROM t WHERE 5 = id AND 7 < a", "SELECT * FROM t WHERE $1 = id AND $2 < a [23 23]"},
	} {
		tree, err := pg_query.Parse(c.text)
		if err != nil {
			t.Fatal(err)
		}
		st, ok := ShapeText(c.text)
		got := "no form"
		if f := newParamForm(c.text, st.Consts, ParamSlots(tree.Stmts[0].Stmt)); ok && f != nil {
			got = fmt.Sprintf("%s %v", f.sql, f.oids)
		}
		if got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.text, got, c.want)
		}
	}
}

func TestParamFormValues(t *testing.T) {
	f := &ParamForm{sql: "x", oids: []uint32{oidInt4, 0}}
	for _, c := range []struct {
		text string
		ok   bool
	}{
		{"SELECT * FROM t WHERE id = 2147483647 AND s = 'a'", true},
		{"SELECT * FROM t WHERE id = 2147483648 AND s = 'a'", false},
		{"SELECT * FROM t WHERE id = 5", false},
	} {
		st, _ := ShapeText(c.text)
		if _, ok := f.params(st.Consts); ok != c.ok {
			t.Errorf("%s: params ok = %v", c.text, ok)
		}
	}
}

func TestShapeText(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"SELECT abalance FROM pgbench_accounts WHERE aid = 409023", "SELECT abalance FROM pgbench_accounts WHERE aid = ?i [409023]"},
		{"SELECT  a\tFROM t\nWHERE id=5 AND s = 'x y'", "SELECT a FROM t WHERE id=?i AND s = ?s [5 x y]"},
		{"UPDATE t SET a = a + -2, b = '' WHERE id = 3000000000", "UPDATE t SET a = a + -?i, b = ?s WHERE id = ?i [2  3000000000]"},
		{"SELECT x::int, t[1:2], été FROM t WHERE a <> 1 AND b >= 2", "SELECT x::int, t[?i:?i], été FROM t WHERE a <> ?i AND b >= ?i [1 2 1 2]"},
		{"SELECT a$b FROM t WHERE id = 1", "SELECT a$b FROM t WHERE id = ?i [1]"},
		// Planned as usual: what a constant's mark could not stand for.
		{"SELECT 1 -- c", "no shape"},
		{"SELECT /* c */ 1", "no shape"},
		{`SELECT "A" FROM t`, "no shape"},
		{"SELECT 'it''s'", "no shape"},
		{`SELECT 'a\b'`, "no shape"},
		{"SELECT 'a'\n'b'", "no shape"},
		{`SELECT E'a'`, "no shape"},
		{`SELECT B'1', X'1', N'a', U&'a'`, "no shape"},
		{"SELECT $1", "no shape"},
		{"SELECT $$a$$", "no shape"},
		{"SELECT 1.5", "no shape"},
		{"SELECT 1e5", "no shape"},
		{"SELECT 0x1F", "no shape"},
		{"SELECT 1; SELECT 2", "no shape"},
		{"SELECT a ? b", "no shape"},
		{"SELECT a @> b", "no shape"},
		{"SELECT 'abc", "no shape"},
	} {
		st, ok := ShapeText(c.text)
		got := "no shape"
		if ok {
			vals := make([]string, len(st.Consts))
			for i, k := range st.Consts {
				vals[i] = k.Value
				if c.text[k.Start:k.End] != k.Value && c.text[k.Start:k.End] != "'"+k.Value+"'" {
					t.Errorf("%s: constant %d at %d:%d is %q", c.text, i, k.Start, k.End, c.text[k.Start:k.End])
				}
			}
			got = fmt.Sprintf("%s %v", st.Key, vals)
		}
		if got != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.text, got, c.want)
		}
	}
}

var benchTexts = []string{
	"SELECT abalance FROM pgbench_accounts WHERE aid = 409023",
	"UPDATE pgbench_accounts SET abalance = abalance + -2236 WHERE aid = 545573",
	"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (71, 4, 545573, -2236, CURRENT_TIMESTAMP)",
	"SELECT c FROM sbtest1 WHERE id = 4711 AND k = 'abcdefghij'",
}

// BenchmarkShapeText: the route cache's key of four statements, what the
// simple protocol pays on every statement before its template is found.
func BenchmarkShapeText(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for _, t := range benchTexts {
			ShapeText(t)
		}
	}
}
