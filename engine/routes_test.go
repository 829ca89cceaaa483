package engine

import (
	"fmt"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/xlgo/xlgo/planner"
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
		_, consts, ok := shape(c.text)
		got := "no form"
		if f := newParamForm(c.text, consts, planner.ParamSlots(tree.Stmts[0].Stmt)); ok && f != nil {
			got = fmt.Sprintf("%s %v", f.sql, f.oids)
		}
		if got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.text, got, c.want)
		}
	}
}

func TestParamFormValues(t *testing.T) {
	f := &paramForm{sql: "x", oids: []uint32{oidInt4, 0}}
	for _, c := range []struct {
		text string
		ok   bool
	}{
		{"SELECT * FROM t WHERE id = 2147483647 AND s = 'a'", true},
		{"SELECT * FROM t WHERE id = 2147483648 AND s = 'a'", false},
		{"SELECT * FROM t WHERE id = 5", false},
	} {
		_, consts, _ := shape(c.text)
		if _, ok := f.params(consts); ok != c.ok {
			t.Errorf("%s: params ok = %v", c.text, ok)
		}
	}
}
