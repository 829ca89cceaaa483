package regress

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

// A prepared statement with parameters of its own and an uncorrelated
// subquery in WHERE (extended protocol): the subquery is sent the client's
// $1, the statement the client's parameters and the subquery's value after
// them, on the value's node.
func TestSubPlanWithParameters(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	conn := connect(t, c, 0, "postgres")
	mustExec(t, conn, "CREATE TABLE sp (id int PRIMARY KEY, v text) DISTRIBUTE BY HASH (id)")
	mustExec(t, conn, "CREATE TABLE spk (k int, id int) DISTRIBUTE BY HASH (k)")
	mustExec(t, conn, "INSERT INTO sp SELECT g, 'v' || g FROM generate_series(1, 2000) g")
	mustExec(t, conn, "INSERT INTO spk SELECT g % 50, g FROM generate_series(1, 1500) g")
	mustExec(t, conn, "INSERT INTO spk VALUES (99, NULL)")

	cfg, err := pgx.ParseConfig(c.CoordDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ext, err := pgx.ConnectConfig(ctx, cfg) // prepared statements, parameters sent apart
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ext.Close(context.Background()) })

	// max(id) of spk for k is 1450 + k (1500 for 0); none for 1000; NULL for 99.
	for _, k := range []int{0, 1, 2, 3, 7, 49, 99, 1000} {
		var n int64
		var v *string
		err := ext.QueryRow(ctx, "SELECT count(*), min(v) FROM sp WHERE id = (SELECT max(id) FROM spk WHERE k = $1)", k).Scan(&n, &v)
		if err != nil {
			t.Fatalf("k = %d: %v", k, err)
		}
		want := fmt.Sprintf("v%d", 1450+k)
		if k == 0 {
			want = "v1500"
		}
		switch {
		case k == 99 || k == 1000:
			if n != 0 || v != nil {
				t.Fatalf("k = %d: count %d, min %v; want 0 and NULL", k, n, v)
			}
		case n != 1 || v == nil || *v != want:
			t.Fatalf("k = %d: count %d, min %v; want 1 and %s", k, n, v, want)
		}
	}
	// The statement read its own parameter and the value as the next one.
	seen := queryInt(t, conn, "EXECUTE DIRECT ON (datanode1) 'SELECT count(*) FROM pg_stat_activity WHERE query LIKE ''%WHERE id = $2%'''") +
		queryInt(t, conn, "EXECUTE DIRECT ON (datanode2) 'SELECT count(*) FROM pg_stat_activity WHERE query LIKE ''%WHERE id = $2%'''")
	if seen == 0 {
		t.Fatal("no datanode ran the statement with the value as $2")
	}

	// IN, with a parameter in the statement too; NULLs in the list.
	var n int64
	if err := ext.QueryRow(ctx, "SELECT count(*) FROM sp WHERE id IN (SELECT id FROM spk WHERE k = $1 OR k = 99) AND v <> $2", 3, "v53").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 29 {
		t.Fatalf("IN: count %d, want 29", n)
	}
	if err := ext.QueryRow(ctx, "SELECT count(*) FROM sp WHERE NOT (id IN (SELECT id FROM spk WHERE k = $1 OR k = 99))", 3).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("NOT IN with a NULL: count %d, want 0", n)
	}
	// Two rows.
	var v string
	err = ext.QueryRow(ctx, "SELECT v FROM sp WHERE id = (SELECT id FROM spk WHERE k = $1)", 3).Scan(&v)
	if sqlState(err) != "21000" {
		t.Fatalf("a subquery of two rows: %v, want SQLSTATE 21000", err)
	}
}
