package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/internal/poll"
)

// A datanode stopped (fast) or whose postmaster is killed -9 under a
// client's statement: the client gets an ERROR naming the datanode and
// keeps its session; xlctl start, right after, brings the datanode back
// (after a kill -9 it first waits for what the killed postmaster left) and
// the client's next statement works.
func TestDatanodeLossIsAnError(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.CoordDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, sql := range []string{"CREATE TABLE loss (id int) DISTRIBUTE BY HASH (id)", "INSERT INTO loss SELECT generate_series(1, 100)"} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	dn1, err := pgx.Connect(ctx, c.DatanodeDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	sleeping := func() bool {
		var n int
		err := dn1.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()").Scan(&n)
		return err == nil && n > 0
	}

	for _, how := range []struct {
		name string
		sig  syscall.Signal
	}{{"stopped (fast)", syscall.SIGINT}, {"postmaster killed -9", syscall.SIGKILL}} {
		done := make(chan error, 1)
		go func() {
			_, err := conn.Exec(ctx, "SELECT count(*) FROM loss, pg_sleep(30)")
			done <- err
		}()
		poll.Until(t, "the statement runs on datanode1", sleeping)
		dn1.Close(ctx)
		pid := c.DatanodePid(0)
		if err := syscall.Kill(pid, how.sig); err != nil {
			t.Fatal(err)
		}
		var stmtErr error
		select {
		case stmtErr = <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("%s: the statement did not end", how.name)
		}
		var pe *pgconn.PgError
		if !errors.As(stmtErr, &pe) || pe.Severity != "ERROR" || !strings.Contains(pe.Message, "datanode1") {
			t.Fatalf("%s: the statement ended with %v; want an ERROR naming datanode1", how.name, stmtErr)
		}
		t.Logf("%s: ERROR %s %s", how.name, pe.Code, pe.Message)
		poll.Until(t, "the postmaster gone", func() bool { return c.DatanodePid(0) == 0 })
		start := time.Now()
		c.StartStopped(t)
		t.Logf("%s: xlctl start took %v", how.name, time.Since(start).Round(time.Millisecond))
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM loss").Scan(&n); err != nil || n != 100 {
			t.Fatalf("%s: the next statement of the same session: %d, %v; want 100", how.name, n, err)
		}
		if dn1, err = pgx.Connect(ctx, c.DatanodeDSN(0, "postgres")); err != nil {
			t.Fatal(err)
		}
	}
	dn1.Close(ctx)
}

// Losing a coordinator loses only its own clients' connections: a session
// on the other coordinator goes on inside its transaction, and a client
// that lists both coordinators (libpq's host=a,b) reconnects to the one
// that is left.
func TestCoordinatorLoss(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	both := fmt.Sprintf("host=127.0.0.1,127.0.0.1 port=%d,%d user=%s dbname=postgres sslmode=disable connect_timeout=5",
		c.CoordPort(0), c.CoordPort(1), c.User)
	viaBoth, err := pgx.Connect(ctx, both)
	if err != nil {
		t.Fatal(err)
	}
	defer viaBoth.Close(context.Background())
	if viaBoth.PgConn().Conn().RemoteAddr().(*net.TCPAddr).Port != c.CoordPort(0) {
		t.Fatalf("the client listing both coordinators did not reach the first")
	}
	onSecond, err := pgx.Connect(ctx, c.CoordDSN(1, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer onSecond.Close(context.Background())
	for _, sql := range []string{"CREATE TABLE kept (id int, v int) DISTRIBUTE BY HASH (id)", "INSERT INTO kept SELECT g, 0 FROM generate_series(1, 20) g"} {
		if _, err := viaBoth.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// A transaction on both datanodes through the second coordinator.
	for _, sql := range []string{"BEGIN", "UPDATE kept SET v = v + 1"} {
		if _, err := onSecond.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	c.KillPid(t, c.CoordinatorPid(0))

	if _, err := viaBoth.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("a statement on the killed coordinator's connection succeeded")
	}
	if _, err := onSecond.Exec(ctx, "COMMIT"); err != nil {
		t.Fatalf("COMMIT on the coordinator that is left: %v", err)
	}
	again, err := pgx.Connect(ctx, both)
	if err != nil {
		t.Fatalf("reconnecting with both coordinators listed: %v", err)
	}
	defer again.Close(context.Background())
	if port := again.PgConn().Conn().RemoteAddr().(*net.TCPAddr).Port; port != c.CoordPort(1) {
		t.Fatalf("reconnected to port %d, want the second coordinator's %d", port, c.CoordPort(1))
	}
	var sum int
	if err := again.QueryRow(ctx, "SELECT sum(v) FROM kept").Scan(&sum); err != nil || sum != 20 {
		t.Fatalf("sum(v) = %d, %v; want 20", sum, err)
	}
	c.StartStopped(t)
	back, err := pgx.Connect(ctx, c.CoordDSN(0, "postgres"))
	if err != nil {
		t.Fatalf("the restarted coordinator: %v", err)
	}
	defer back.Close(context.Background())
	if err := back.QueryRow(ctx, "SELECT sum(v) FROM kept").Scan(&sum); err != nil || sum != 20 {
		t.Fatalf("through the restarted coordinator: sum(v) = %d, %v; want 20", sum, err)
	}
}
