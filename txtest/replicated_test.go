package txtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

// TestReplicatedReadJoinsNoNode: in a transaction already on one datanode,
// a read of a replicated table is answered by that datanode's copy, so the
// transaction stays on one node (no other datanode has a backend in it),
// whichever datanode is the preferred one; by both protocols.
func TestReplicatedReadJoinsNoNode(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	admin := connect(t, c.CoordDSN(0, "postgres"), true)
	keys := twoNodeTable(t, admin, "rj")
	exec(t, admin, "CREATE TABLE ri (id int PRIMARY KEY, name text) DISTRIBUTE BY REPLICATION",
		"INSERT INTO ri SELECT i, 'item ' || i FROM generate_series(1, 10) i")
	dn := []string{"datanode1", "datanode2"}
	direct := make(map[string]string)
	for i, n := range dn {
		direct[n] = c.DatanodeDSN(i, "postgres")
	}
	// inTransaction counts the backends of datanode n in a transaction.
	inTransaction := func(n string) int {
		t.Helper()
		conn := connect(t, direct[n], true)
		defer conn.Close(context.Background())
		var k int
		if err := conn.QueryRow(context.Background(),
			"SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()").Scan(&k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, simple := range []bool{true, false} {
		conn := connect(t, c.CoordDSN(0, "postgres"), simple)
		for i, on := range dn {
			other := dn[1-i]
			exec(t, conn, "BEGIN", fmt.Sprintf("UPDATE rj SET v = v + 1 WHERE id = %d", keys[on][0]))
			for id := 1; id <= 3; id++ {
				var name string
				if err := conn.QueryRow(ctx, "SELECT name FROM ri WHERE id = $1", id).Scan(&name); err != nil {
					t.Fatal(err)
				}
				if want := fmt.Sprintf("item %d", id); name != want {
					t.Errorf("replicated read in a transaction on %s: %q, want %q", on, name, want)
				}
			}
			if k := inTransaction(other); k != 0 {
				t.Errorf("simple protocol %v: a transaction on %s that read a replicated table has %d backends of %s in it, want none",
					simple, on, k, other)
			}
			exec(t, conn, "COMMIT")
		}
	}
}
