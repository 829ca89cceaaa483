package txtest

import (
	"context"
	"fmt"
	"testing"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

// SELECT ... FOR UPDATE (and FOR SHARE) over the rows of several datanodes,
// as Postgres-XL took it: each datanode locks the rows it sends, so a
// writer of any of them on any node waits for the locker's transaction,
// and a row the query does not return stays free.
func TestSelectForUpdateAcrossDatanodes(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	admin := connect(t, c.CoordDSN(0, "postgres"), true)
	keys := twoNodeTable(t, admin, "fu")
	in1, in2 := keys["datanode1"][0], keys["datanode2"][0]
	out1 := keys["datanode1"][len(keys["datanode1"])-1]
	for _, q := range []string{
		// A plain scan, and an ordered one the coordinator merges.
		fmt.Sprintf("SELECT id FROM fu WHERE id IN (%d, %d) FOR UPDATE", in1, in2),
		fmt.Sprintf("SELECT id, v FROM fu WHERE id IN (%d, %d) ORDER BY id FOR UPDATE", in1, in2),
		fmt.Sprintf("SELECT id FROM fu WHERE id IN (%d, %d) ORDER BY v, id FOR SHARE", in1, in2),
	} {
		for _, simple := range []bool{true, false} {
			locker := connect(t, c.CoordDSN(0, "postgres"), simple)
			writer := connect(t, c.CoordDSN(0, "postgres"), true)
			exec(t, locker, "BEGIN")
			rows, err := locker.Query(context.Background(), q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if n != 2 {
				t.Fatalf("%s: %d rows, want 2", q, n)
			}
			exec(t, writer, "SET lock_timeout = '200ms'")
			for _, id := range []int{in1, in2} {
				_, err := writer.Exec(context.Background(), fmt.Sprintf("UPDATE fu SET v = v + 1 WHERE id = %d", id))
				if sqlState(err) != "55P03" {
					t.Fatalf("%s (simple %v): an update of locked row %d got %v, want lock_not_available (55P03)", q, simple, id, err)
				}
			}
			// A row the query did not return is not locked.
			exec(t, writer, fmt.Sprintf("UPDATE fu SET v = v + 1 WHERE id = %d", out1))
			exec(t, locker, "COMMIT")
			// The locks went with the transaction, on both nodes.
			exec(t, writer, fmt.Sprintf("UPDATE fu SET v = v + 1 WHERE id IN (%d, %d)", in1, in2))
			locker.Close(context.Background())
			writer.Close(context.Background())
		}
	}
	// With a LIMIT each node would lock rows the limit leaves out: refused.
	_, err := admin.Exec(context.Background(), "SELECT id FROM fu ORDER BY id LIMIT 2 FOR UPDATE")
	if sqlState(err) != "0A000" {
		t.Fatalf("FOR UPDATE with LIMIT over several datanodes: %v, want 0A000", err)
	}
	report(t, "rows locked on both datanodes by FOR UPDATE / FOR SHARE, released at COMMIT")
}
