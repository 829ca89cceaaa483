package engine

import (
	"testing"

	"github.com/xlgo/xlgo/dialect"
	"github.com/xlgo/xlgo/planner"
)

// A pgbench transaction's statements and a sysbench point select.
const benchScript = `SELECT abalance FROM pgbench_accounts WHERE aid = 409023;
UPDATE pgbench_accounts SET abalance = abalance + -2236 WHERE aid = 545573;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (71, 4, 545573, -2236, CURRENT_TIMESTAMP);
SELECT c FROM sbtest1 WHERE id = 4711 AND k = 'abcdefghij'`

// BenchmarkTextFastPath is what a simple-protocol statement costs before
// its route template is looked up: the split, the XL check, the call check
// and its shape.
func BenchmarkTextFastPath(b *testing.B) {
	texts, err := dialect.SplitStatements(benchScript)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, t := range texts {
			stmts, _ := dialect.SplitStatements(t)
			dialect.Parse(stmts[0])
			plainText(stmts[0])
			planner.ShapeText(stmts[0])
		}
	}
}
