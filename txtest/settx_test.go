package txtest

import (
	"context"
	"fmt"
	"testing"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

// A REPEATABLE READ transaction begun with SET TRANSACTION ISOLATION LEVEL
// (as drivers do) has one snapshot across the datanodes from its first
// read, even when that read touches one node only: a distributed commit
// after it is seen on no node.
func TestSetTransactionRepeatableRead(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	admin := connect(t, c.CoordDSN(0, "postgres"), true)
	keys := twoNodeTable(t, admin, "st")
	for _, simple := range []bool{true, false} {
		r := connect(t, c.CoordDSN(0, "postgres"), simple)
		exec(t, r, "BEGIN", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
		var v int
		// The first read: one row, on datanode1 alone.
		if err := r.QueryRow(context.Background(), fmt.Sprintf("SELECT v FROM st WHERE id = %d", keys["datanode1"][0])).Scan(&v); err != nil {
			t.Fatal(err)
		}
		// A transaction writes every row, on both datanodes, and commits.
		exec(t, admin, "UPDATE st SET v = v + 1")
		var sum, n int
		if err := r.QueryRow(context.Background(), "SELECT sum(v), count(*) FROM st").Scan(&sum, &n); err != nil {
			t.Fatal(err)
		}
		exec(t, r, "COMMIT")
		if sum != v*n {
			t.Fatalf("simple=%v: the transaction saw sum(v) = %d over %d rows after reading v = %d: part of a later commit", simple, sum, n, v)
		}
		report(t, "simple protocol %v: sum(v) = %d over %d rows, all as of the first read", simple, sum, n)
	}
}
