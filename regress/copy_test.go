package regress

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

// COPY in binary format round-trips through the coordinator, and each row
// lands on the node an INSERT of the same value would choose.
func TestCopyBinary(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	conn := connect(t, c, 0, "postgres")
	mustExec(t, conn, "CREATE TABLE cb_src (id int, t text, n numeric, ts timestamptz) DISTRIBUTE BY HASH (id)")
	mustExec(t, conn, "INSERT INTO cb_src SELECT g, 'row ' || g, g / 7.0, timestamptz '2024-01-01 00:00+00' + g * interval '1 hour' FROM generate_series(1, 500) g")
	mustExec(t, conn, "CREATE TABLE cb_dst (id int, t text, n numeric, ts timestamptz) DISTRIBUTE BY HASH (id)")
	mustExec(t, conn, "CREATE TABLE cb_ts (ts timestamptz, id int) DISTRIBUTE BY HASH (ts)")
	mustExec(t, conn, "INSERT INTO cb_ts SELECT ts, id FROM cb_src")
	ctx := context.Background()
	var buf bytes.Buffer
	tag, err := conn.PgConn().CopyTo(ctx, &buf, "COPY cb_src TO STDOUT (FORMAT binary)")
	if err != nil || tag.RowsAffected() != 500 {
		t.Fatalf("copy to: %v %v", tag, err)
	}
	tag, err = conn.PgConn().CopyFrom(ctx, bytes.NewReader(buf.Bytes()), "COPY cb_dst FROM STDIN (FORMAT binary)")
	if err != nil || tag.RowsAffected() != 500 {
		t.Fatalf("copy from: %v %v", tag, err)
	}
	if n := queryInt(t, conn, "SELECT count(*) FROM cb_src s JOIN cb_dst d USING (id) WHERE s.t = d.t AND s.n = d.n AND s.ts = d.ts AND s.xc_node_id = d.xc_node_id"); n != 500 {
		t.Fatalf("%d of 500 rows came back equal and on the same node", n)
	}
	// A timestamptz distribution column in text format: the datanode reads
	// the values with the session's time zone, then they are routed.
	buf.Reset()
	if _, err := conn.PgConn().CopyTo(ctx, &buf, "COPY (SELECT ts, id FROM cb_src) TO STDOUT"); err != nil {
		t.Fatal(err)
	}
	mustExec(t, conn, "CREATE TABLE cb_ts2 (ts timestamptz, id int) DISTRIBUTE BY HASH (ts)")
	if _, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(buf.Bytes()), "COPY cb_ts2 FROM STDIN"); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, conn, "SELECT count(*) FROM cb_ts a JOIN cb_ts2 b USING (id) WHERE a.ts = b.ts AND a.xc_node_id = b.xc_node_id"); n != 500 {
		t.Fatalf("%d of 500 timestamptz rows on the node INSERT chose", n)
	}
}

// COPY text data ends where PostgreSQL 15 ends it: at a \. after a row's
// data too (that data is the last row), and a marker that does not end its
// line, or that the data does not end in, is refused. Each row goes to
// its own datanode, so a marker the coordinator passed on as data would end
// one datanode's rows and not the others'.
func TestCopyEndMarkerAsPostgres(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	coord := connect(t, c, 0, "postgres")
	plain, err := pgx.Connect(context.Background(), c.DatanodeDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plain.Close(context.Background()) })
	// The plain PostgreSQL is datanode1 itself: its table has a name of its own.
	tables := []string{"ce", "ce_plain"}
	mustExec(t, coord, "CREATE TABLE ce (a int, b text)")
	mustExec(t, plain, "CREATE TABLE ce_plain (a int, b text)")
	more := ""
	for i := 3; i <= 40; i++ {
		more += fmt.Sprintf("%d\tz\n", i)
	}
	for _, data := range []string{
		"1\tx\n2\ty\\.\n" + more, "1\tx\n2\t\\.\n" + more, "1\tx\r\n2\ty\\.\r\n" + more, "1\tx\n2\ty\\\\\\.\n" + more,
		"1\tx\n\\.\n\\.\n" + more, "1\tx\n2\ty\\\\.\n" + more, "1\tx\n2\ty\\.", "1\tx\n\\.", "1\tx\n\\.x\n" + more,
		"1\tx\n2\ty\\.\r\n" + more, "1\tx\n2\ty\\.\r" + more,
	} {
		var got [2]string
		for i, conn := range []*pgx.Conn{coord, plain} {
			table := tables[i]
			tag, err := conn.PgConn().CopyFrom(context.Background(), strings.NewReader(data), "COPY "+table+" FROM STDIN")
			var pe *pgconn.PgError
			switch {
			case errors.As(err, &pe):
				got[i] = "ERROR " + pe.Code + " " + pe.Message
			case err != nil:
				t.Fatal(err)
			default:
				got[i] = fmt.Sprintf("%s, %d rows", tag, queryInt(t, conn, "SELECT count(*) FROM "+table))
			}
			mustExec(t, conn, "TRUNCATE "+table)
		}
		if got[0] != got[1] {
			t.Errorf("COPY of %.30q: coordinator %s; PostgreSQL %s", data, got[0], got[1])
		}
	}
}
