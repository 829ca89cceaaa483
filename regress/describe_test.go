package regress

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

// Statements that return rows but are not planned from a table's columns
// are described in the extended protocol with the columns they return, as
// PostgreSQL describes them: EXPLAIN's plan lines, SHOW's setting (named as
// PostgreSQL names it), EXECUTE DIRECT's rows.
func TestDescribeUtilityRows(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	conn := connect(t, c, 0, "postgres")
	mustExec(t, conn, "CREATE TABLE dr (id int PRIMARY KEY) DISTRIBUTE BY HASH (id)")
	mustExec(t, conn, "INSERT INTO dr SELECT generate_series(1, 10)")
	ctx := context.Background()
	ext, err := pgx.Connect(ctx, c.CoordDSN(0, "postgres")) // Parse, Describe, Bind, Execute
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ext.Close(context.Background()) })
	for _, tc := range []struct {
		sql   string
		names []string
	}{
		{"EXPLAIN SELECT * FROM dr WHERE id = 1", []string{"QUERY PLAN"}},
		{"EXPLAIN (ANALYZE, COSTS OFF) SELECT count(*) FROM dr", []string{"QUERY PLAN"}},
		{"SHOW timezone", []string{"TimeZone"}},
		{"SHOW ALL", []string{"name", "setting", "description"}},
		{"EXECUTE DIRECT ON (datanode1) 'SELECT count(*) AS n, 1 AS one FROM dr'", []string{"n", "one"}},
	} {
		rows, err := ext.Query(ctx, tc.sql)
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		var names []string
		for _, f := range rows.FieldDescriptions() {
			names = append(names, f.Name)
		}
		n := 0
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil || len(vals) != len(tc.names) {
				t.Fatalf("%s: row %d has %d values (%v); want %d", tc.sql, n, len(vals), err, len(tc.names))
			}
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		if !slices.Equal(names, tc.names) || n == 0 {
			t.Errorf("%s: columns %v and %d rows; want columns %v and rows", tc.sql, names, n, tc.names)
		}
	}
}
