package txtest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

// TestRouteTemplatesFollowTheCatalog: statements pinned to one node by one
// value, which skip parsing and planning once their route template is
// learnt (the simple protocol's by the shape of their text, the extended
// protocol's by their prepared text), read the right rows after the catalog
// changes under them: the table dropped and created again with another
// distribution or other nodes (by the session itself in a transaction not
// committed yet, too), another search path. So does a prepared statement
// that reads every node, planned once for any values.
func TestRouteTemplatesFollowTheCatalog(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	admin := connect(t, c.CoordDSN(0, "postgres"), true)
	simple := connect(t, c.CoordDSN(0, "postgres"), true)
	extended := connect(t, c.CoordDSN(0, "postgres"), false)
	fill := func(table, prefix string) string {
		return fmt.Sprintf("INSERT INTO %s (id, v) SELECT i, '%s' || i FROM generate_series(1, 40) i", table, prefix)
	}
	// read gives v of the row id through conn ("" for none).
	read := func(conn *pgx.Conn, sql string, args ...any) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var v string
		if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatalf("%s %v: %v", sql, args, err)
		}
		return v
	}
	check := func(stage, prefix string) {
		t.Helper()
		for id := 1; id <= 40; id++ {
			want := fmt.Sprintf("%s%d", prefix, id)
			if got := read(simple, fmt.Sprintf("SELECT v FROM rt WHERE id = %d", id)); got != want {
				t.Errorf("%s, simple protocol, id %d: %q, want %q", stage, id, got, want)
			}
			if got := read(extended, "SELECT v FROM rt WHERE id = $1", id); got != want {
				t.Errorf("%s, extended protocol, id %d: %q, want %q", stage, id, got, want)
			}
		}
		// Values of the same shape the template does not route alone.
		for _, c := range []struct{ sql, want string }{
			{"SELECT v FROM rt WHERE id = '7'", prefix + "7"},
			{"SELECT v FROM rt WHERE id = NULL", ""},
			{"SELECT v FROM rt WHERE id = 3000000000", ""},
		} {
			if got := read(simple, c.sql); got != c.want {
				t.Errorf("%s: %s: %q, want %q", stage, c.sql, got, c.want)
			}
		}
		if got := read(extended, "SELECT v FROM rt WHERE id = $1", nil); got != "" {
			t.Errorf("%s: id = NULL: %q", stage, got)
		}
		// A prepared statement that reads every node, planned once for
		// any values.
		for _, r := range [][2]int{{1, 40}, {5, 9}, {38, 100}, {50, 60}} {
			want := fmt.Sprint(max(0, min(r[1], 40)-r[0]+1))
			if got := read(extended, "SELECT count(*)::text FROM rt WHERE id BETWEEN $1 AND $2", r[0], r[1]); got != want {
				t.Errorf("%s: rows with id between %d and %d: %s, want %s", stage, r[0], r[1], got, want)
			}
		}
	}
	// inDDL checks conn's reads inside a transaction that has created rt
	// again, distributed by v: what the other sessions know of rt does not
	// hold there.
	inDDL := func(conn *pgx.Conn, name string) {
		t.Helper()
		exec(t, conn, "BEGIN", "DROP TABLE rt", "CREATE TABLE rt (id int, v text) DISTRIBUTE BY HASH (v)", fill("rt", "d"))
		for id := 1; id <= 40; id++ {
			sql := fmt.Sprintf("SELECT v FROM rt WHERE id = %d", id)
			var args []any
			if conn == extended {
				sql, args = "SELECT v FROM rt WHERE id = $1", []any{id}
			}
			if got, want := read(conn, sql, args...), fmt.Sprintf("d%d", id); got != want {
				t.Errorf("%s protocol, in the transaction that created rt again, id %d: %q, want %q", name, id, got, want)
			}
		}
		if conn == extended {
			if got := read(conn, "SELECT count(*)::text FROM rt WHERE id BETWEEN $1 AND $2", 5, 9); got != "5" {
				t.Errorf("extended protocol, in the transaction that created rt again: %s rows with id between 5 and 9", got)
			}
		}
		exec(t, conn, "ROLLBACK")
	}

	exec(t, admin, "CREATE TABLE rt (id int, v text) DISTRIBUTE BY HASH (id)", fill("rt", "a"))
	check("hash", "a")
	inDDL(simple, "simple")
	inDDL(extended, "extended")
	check("after the transactions that created rt again rolled back", "a")
	exec(t, admin, "DROP TABLE rt", "CREATE TABLE rt (id int, v text) DISTRIBUTE BY MODULO (id)", fill("rt", "b"))
	check("created again by modulo", "b")
	exec(t, admin, "DROP TABLE rt", "CREATE TABLE rt (v text, id int) DISTRIBUTE BY HASH (id) TO NODE (datanode2)",
		fill("rt", "b"))
	check("created again on one node", "b")
	exec(t, admin, "CREATE SCHEMA s2", "CREATE TABLE s2.rt (id int, v text) DISTRIBUTE BY MODULO (id)", fill("s2.rt", "c"))
	for _, conn := range []*pgx.Conn{simple, extended} {
		exec(t, conn, "SET search_path = s2, public")
	}
	check("search_path s2", "c")
	for _, conn := range []*pgx.Conn{simple, extended} {
		exec(t, conn, "RESET search_path")
	}
	check("search_path reset", "b")
}
