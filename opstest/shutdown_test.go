package opstest

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/internal/poll"
)

// TestShutdownSignals: SIGTERM stops a coordinator gracefully (new clients
// are refused, an idle client gets 57P01, an open transaction goes on and
// commits, then the coordinator exits); SIGINT stops it fast (an open
// transaction ends, rolled back, and the coordinator exits at once); the
// admin console's SHUTDOWN WAIT_FOR_CLIENTS is SIGTERM's.
func TestShutdownSignals(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Datanodes: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	setup := connect(t, c.CoordDSN(0, "postgres"))
	exec(t, setup, "CREATE TABLE s (id int PRIMARY KEY) DISTRIBUTE BY HASH (id)")
	setup.Close(ctx)

	// SIGTERM.
	inTx := connect(t, c.CoordDSN(0, "postgres"))
	idle := connect(t, c.CoordDSN(0, "postgres"))
	exec(t, inTx, "BEGIN")
	exec(t, inTx, "INSERT INTO s VALUES (1), (2), (3)")
	pid := c.CoordinatorPid(0)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	poll.Within(t, 10*time.Second, "new clients to be refused", func() bool {
		conn, err := pgx.Connect(ctx, c.CoordDSN(0, "postgres"))
		if err == nil {
			conn.Close(ctx)
		}
		return err != nil
	})
	// An idle client is ended (the drain looks every 20 ms; a statement
	// that came first runs, and its client is ended once idle again).
	poll.Within(t, 10*time.Second, "the idle client to be ended with 57P01", func() bool {
		var pe *pgconn.PgError
		_, err := idle.Exec(ctx, "SELECT 1")
		return errors.As(err, &pe) && pe.Code == "57P01" || err != nil && idle.IsClosed()
	})
	// The open transaction goes on and commits.
	exec(t, inTx, "INSERT INTO s VALUES (4), (5)")
	exec(t, inTx, "COMMIT")
	poll.Within(t, 15*time.Second, "the coordinator to exit", func() bool { return syscall.Kill(pid, 0) != nil })
	c.StartStopped(t)
	check := connect(t, c.CoordDSN(0, "postgres"))
	var n int
	if err := check.QueryRow(ctx, "SELECT count(*) FROM s").Scan(&n); err != nil || n != 5 {
		t.Fatalf("rows after a graceful shutdown: %d (%v), want the 5 committed", n, err)
	}
	check.Close(ctx)

	// SIGINT.
	inTx = connect(t, c.CoordDSN(0, "postgres"))
	exec(t, inTx, "BEGIN")
	exec(t, inTx, "INSERT INTO s VALUES (6), (7)")
	pid = c.CoordinatorPid(0)
	start := time.Now()
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	poll.Within(t, 10*time.Second, "the coordinator to exit", func() bool { return syscall.Kill(pid, 0) != nil })
	t.Logf("SIGINT: the coordinator exited after %v", time.Since(start).Round(time.Millisecond))
	if _, err := inTx.Exec(ctx, "COMMIT"); err == nil {
		t.Fatalf("COMMIT after a fast shutdown succeeded")
	}
	c.StartStopped(t)
	check = connect(t, c.CoordDSN(0, "postgres"))
	if err := check.QueryRow(ctx, "SELECT count(*) FROM s").Scan(&n); err != nil || n != 5 {
		t.Fatalf("rows after a fast shutdown: %d (%v), want 5 (the open transaction rolled back)", n, err)
	}

	// The admin console's SHUTDOWN WAIT_FOR_CLIENTS is SIGTERM's.
	inTx = connect(t, c.CoordDSN(0, "postgres"))
	exec(t, inTx, "BEGIN")
	exec(t, inTx, "INSERT INTO s VALUES (8)")
	console := connect(t, c.CoordDSN(0, "xlgo"))
	pid = c.CoordinatorPid(0)
	if _, err := console.Exec(ctx, "SHUTDOWN WAIT_FOR_CLIENTS", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatalf("SHUTDOWN WAIT_FOR_CLIENTS: %v", err)
	}
	exec(t, inTx, "COMMIT")
	poll.Within(t, 15*time.Second, "the coordinator to exit", func() bool { return syscall.Kill(pid, 0) != nil })
	c.StartStopped(t)
	check = connect(t, c.CoordDSN(0, "postgres"))
	if err := check.QueryRow(ctx, "SELECT count(*) FROM s").Scan(&n); err != nil || n != 6 {
		t.Fatalf("rows after SHUTDOWN WAIT_FOR_CLIENTS: %d (%v), want 6", n, err)
	}
}
