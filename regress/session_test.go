package regress

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/internal/poll"
)

// A client's cancel (a driver's timeout, psql's Ctrl-C) stops the statement
// on every datanode; statement_timeout works; a session idle in a
// transaction past idle_in_transaction_session_timeout is ended.
func TestCancelAndTimeouts(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	conn := connect(t, c, 0, "postgres")
	mustExec(t, conn, "CREATE TABLE slow (id int PRIMARY KEY, v int) DISTRIBUTE BY HASH (id)")
	mustExec(t, conn, "INSERT INTO slow SELECT g, 0 FROM generate_series(1, 10) g")

	// Cancel: pgx sends a CancelRequest when the context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	start := time.Now()
	_, err := conn.Exec(ctx, "SELECT pg_sleep(30) FROM slow")
	cancel()
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("cancel took %v", took)
	}
	if err == nil {
		t.Fatal("a cancelled statement succeeded")
	}
	// The connection may be closed by the driver after a cancel; a new one works,
	// and the datanodes are not still sleeping.
	conn2 := connect(t, c, 0, "postgres")
	poll.Within(t, 10*time.Second, "no datanode backend to run the cancelled statement", func() bool {
		return queryInt(t, conn2, "EXECUTE DIRECT ON (datanode1) 'SELECT count(*) FROM pg_stat_activity WHERE query LIKE ''%pg_sleep(30)%'' AND state = ''active'' AND pid <> pg_backend_pid()'")+
			queryInt(t, conn2, "EXECUTE DIRECT ON (datanode2) 'SELECT count(*) FROM pg_stat_activity WHERE query LIKE ''%pg_sleep(30)%'' AND state = ''active'' AND pid <> pg_backend_pid()'") == 0
	})

	// A client that goes away while its statement waits for a lock stops
	// the statement on the datanode.
	waiting := func() int64 {
		return queryInt(t, conn2, "EXECUTE DIRECT ON (datanode1) 'SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = ''Lock'''") +
			queryInt(t, conn2, "EXECUTE DIRECT ON (datanode2) 'SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = ''Lock'''")
	}
	holder := connect(t, c, 0, "postgres")
	mustExec(t, holder, "BEGIN")
	mustExec(t, holder, "UPDATE slow SET v = 1 WHERE id = 3")
	// A bare connection, closed with no word: a driver would send a
	// CancelRequest first.
	pc, err := pgconn.Connect(context.Background(), c.CoordDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	hc, err := pc.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Conn.Close()
	msg, _ := (&pgproto3.Query{String: "UPDATE slow SET v = 2 WHERE id = 3"}).Encode(nil)
	if _, err := hc.Conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	poll.Within(t, 10*time.Second, "the update to wait for the lock", func() bool { return waiting() > 0 })
	hc.Conn.Close()
	poll.Within(t, 10*time.Second, "the datanode statement of a client that went away to stop", func() bool { return waiting() == 0 })
	mustExec(t, holder, "COMMIT")
	if v := queryInt(t, conn2, "SELECT v FROM slow WHERE id = 3"); v != 1 {
		t.Fatalf("v = %d after the client that went away", v)
	}

	// statement_timeout
	mustExec(t, conn2, "SET statement_timeout = '300ms'")
	_, err = conn2.Exec(context.Background(), "SELECT pg_sleep(5) FROM slow WHERE id = 1")
	if sqlState(err) != "57014" {
		t.Fatalf("statement_timeout: %v", err)
	}
	mustExec(t, conn2, "RESET statement_timeout")
	if n := queryInt(t, conn2, "SELECT count(*) FROM slow"); n != 10 {
		t.Fatalf("after a timeout: count %d", n)
	}

	// ... and the cancel and the timeout stop the coordinator's own work:
	// a join whose rows meet at the coordinator (400,000 of them, sorted
	// there) from scans that each take a few milliseconds.
	mustExec(t, conn2, "CREATE TABLE wide1 (id int, k int) DISTRIBUTE BY HASH (id)")
	mustExec(t, conn2, "CREATE TABLE wide2 (id int, k int) DISTRIBUTE BY HASH (id)")
	mustExec(t, conn2, "INSERT INTO wide1 SELECT g, g % 10 FROM generate_series(1, 2000) g")
	mustExec(t, conn2, "INSERT INTO wide2 SELECT g, g % 10 FROM generate_series(1, 2000) g")
	const big = "SELECT wide1.id, wide2.id FROM wide1 JOIN wide2 ON wide1.k = wide2.k ORDER BY 1, 2 LIMIT 1"
	mustExec(t, conn2, "SET statement_timeout = '50ms'")
	start = time.Now()
	_, err = conn2.Exec(context.Background(), big)
	if sqlState(err) != "57014" || time.Since(start) > 5*time.Second {
		t.Fatalf("statement_timeout of a coordinator join: %v after %v", err, time.Since(start))
	}
	mustExec(t, conn2, "RESET statement_timeout")
	conn4 := connect(t, c, 0, "postgres") // pgx may close a connection after a cancel
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	start = time.Now()
	_, err = conn4.Exec(ctx, big)
	cancel()
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("cancel of a coordinator join: %v after %v", err, time.Since(start))
	}
	if n := queryInt(t, conn2, "SELECT count(*) FROM wide1 JOIN wide2 ON wide1.id = wide2.k"); n != 1800 {
		t.Fatalf("after a cancelled join: %d rows", n)
	}

	// idle_in_transaction_session_timeout
	conn3 := connect(t, c, 0, "postgres")
	mustExec(t, conn3, "SET idle_in_transaction_session_timeout = '300ms'")
	mustExec(t, conn3, "BEGIN")
	mustExec(t, conn3, "UPDATE slow SET v = v + 1 WHERE id = 2")
	// Its row lock goes with the session, once the timeout ends it.
	mustExec(t, conn2, "SET lock_timeout = '100ms'")
	poll.Within(t, 10*time.Second, "the row lock of the session idle in its transaction to go", func() bool {
		_, err := conn2.Exec(context.Background(), "UPDATE slow SET v = v + 1 WHERE id = 2")
		return err == nil
	})
	mustExec(t, conn2, "RESET lock_timeout")
	_, err = conn3.Exec(context.Background(), "SELECT 1")
	if err == nil {
		t.Fatal("a session idle in a transaction past its timeout still works")
	}
	if code := sqlState(err); code != "25P03" {
		t.Fatalf("a session idle in a transaction past its timeout: %v, want FATAL 25P03 (idle_in_transaction_session_timeout)", err)
	}
}

// Statements the coordinator prepared on a backend, dropped there behind its
// back (EXECUTE DIRECT ... DEALLOCATE ALL), are prepared anew: at most one
// statement finds out, with an error; the next ones run.
func TestLostPreparedStatements(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 1})
	conn := connect(t, c, 0, "postgres")
	mustExec(t, conn, "CREATE TABLE lost (id int PRIMARY KEY, v int) DISTRIBUTE BY HASH (id)")
	mustExec(t, conn, "INSERT INTO lost SELECT g, g * 10 FROM generate_series(1, 10) g")
	for id := 1; id <= 3; id++ {
		if v := queryInt(t, conn, fmt.Sprintf("SELECT v FROM lost WHERE id = %d", id)); v != int64(id*10) {
			t.Fatalf("id %d: v = %d", id, v)
		}
	}
	mustExec(t, conn, "EXECUTE DIRECT ON (datanode1) 'DEALLOCATE ALL'")
	failures := 0
	for id := 4; id <= 8; id++ {
		var v int64
		err := conn.QueryRow(context.Background(), fmt.Sprintf("SELECT v FROM lost WHERE id = %d", id)).Scan(&v)
		switch {
		case err != nil && sqlState(err) == "26000":
			failures++
		case err != nil:
			t.Fatalf("id %d: %v", id, err)
		case v != int64(id*10):
			t.Fatalf("id %d: v = %d", id, v)
		}
	}
	if failures > 1 {
		t.Fatalf("%d statements failed after the DEALLOCATE; at most the first may", failures)
	}
}
