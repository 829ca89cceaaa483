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
// distribution or other nodes, another search path.
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
	}

	exec(t, admin, "CREATE TABLE rt (id int, v text) DISTRIBUTE BY HASH (id)", fill("rt", "a"))
	check("hash", "a")
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
