package txtest

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/gtm/gtmproto"
)

// gateHolder is the test holding (or waiting for) the snapshot gate as
// another coordinator's reader or committer would, on its own connection to
// the gtm; closing it releases everything.
type gateHolder struct {
	nc      net.Conn
	r       *bufio.Reader
	granted bool
}

// queueGate asks the gtm for the gate for kind and returns once the gtm
// has queued the request (or granted it): the gtm serves a connection's
// gate requests before the frames that follow them, so the answer to a
// NodeInfo sent next says so.
func queueGate(t *testing.T, c *clustertest.Cluster, kind gtmproto.GateKind) *gateHolder {
	t.Helper()
	nc, err := net.DialTimeout("tcp", c.Config.GTM.Addr(), 10*time.Second)
	if err != nil {
		t.Fatalf("gtm: %v", err)
	}
	h := &gateHolder{nc: nc, r: bufio.NewReader(nc)}
	t.Cleanup(func() { nc.Close() })
	var e gtmproto.Encoder
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := gtmproto.WriteFrame(nc, gtmproto.Frame{ID: 1, Type: gtmproto.MsgGateEnter, Body: e.Uvarint(uint64(kind)).Bytes()}); err != nil {
		t.Fatalf("gtm GateEnter: %v", err)
	}
	if err := gtmproto.WriteFrame(nc, gtmproto.Frame{ID: 2, Type: gtmproto.MsgNodeInfo}); err != nil {
		t.Fatalf("gtm NodeInfo: %v", err)
	}
	for {
		f, err := gtmproto.ReadFrame(h.r, gtmproto.MaxResponseFrame)
		if err != nil {
			t.Fatalf("gtm: %v", err)
		}
		switch {
		case f.ID == 1 && f.Type == gtmproto.MsgOK:
			h.granted = true
		case f.ID == 1:
			t.Fatalf("gtm GateEnter answered %s", f.Type)
		case f.ID == 2:
			return h
		}
	}
}

// wait tells whether the request is granted within d.
func (h *gateHolder) wait(t *testing.T, d time.Duration) bool {
	t.Helper()
	if h.granted {
		return true
	}
	h.nc.SetReadDeadline(time.Now().Add(d))
	f, err := gtmproto.ReadFrame(h.r, gtmproto.MaxResponseFrame)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return false
		}
		t.Fatalf("gtm: %v", err)
	}
	if f.ID != 1 || f.Type != gtmproto.MsgOK {
		t.Fatalf("gtm: unexpected answer %d %s", f.ID, f.Type)
	}
	h.granted = true
	return true
}

// release gives the gate back (or withdraws the request), then closes the
// connection (a committer's grant would outlive a connection closed alone
// by the gtm's committer linger).
func (h *gateHolder) release() {
	var e gtmproto.Encoder
	h.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	gtmproto.WriteFrame(h.nc, gtmproto.Frame{Type: gtmproto.MsgGateLeave, Body: e.Uvarint(1).Bytes()})
	h.nc.Close()
}

// TestReadHoldingGateFinishes: a read of several datanodes holds the snapshot
// gate when a committer comes (it queues: the groups exclude each other);
// the read must finish without waiting for anything that committer holds or
// waits for: not for the gate again (a REPEATABLE READ transaction's
// snapshots, a plan that reads a node twice), not for a backend. Then the
// committer passes.
func TestReadHoldingGateFinishes(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 2})
	fpDir := t.TempDir()
	c.RestartCoordinator(t, 0, map[string]string{"XLGO_FAILPOINT": "read-gate-entered:pause", "XLGO_FAILPOINT_DIR": fpDir})
	pause := filepath.Join(fpDir, "failpoint-read-gate-entered")
	t.Cleanup(func() { os.Remove(pause) })
	admin := connect(t, c.CoordDSN(1, "postgres"), true)
	keys := twoNodeTable(t, admin, "g")
	n := len(keys["datanode1"]) + len(keys["datanode2"])

	for _, q := range []struct {
		what, sql string
		want      int
	}{
		// A Coordinator Evaluate over two inputs on both nodes: one
		// REPEATABLE READ snapshot per node, taken inside the gate.
		{"self-join evaluated on a datanode", "SELECT count(*) FROM g a JOIN g b USING (v)", n * n},
		// Primitives at the coordinator over both nodes, twice each (v is
		// 0, ids start at 1).
		{"hash join at the coordinator", "SELECT count(*) FROM g a JOIN g b ON a.v = b.id", 0},
		// A plain read of both nodes.
		{"aggregate over both nodes", "SELECT count(*) FROM g", n},
	} {
		r := connect(t, c.CoordDSN(0, "postgres"), true)
		type result struct {
			n   int
			err error
		}
		done := make(chan result, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var k int
			err := r.QueryRow(ctx, q.sql).Scan(&k)
			done <- result{k, err}
		}()
		waitFailpoint(t, pause, done)
		committer := queueGate(t, c, gtmproto.GateCommitter)
		if committer.granted {
			t.Fatalf("%s: a committer passed the gate while the read held it", q.what)
		}
		if err := os.Remove(pause); err != nil {
			t.Fatal(err)
		}
		var res result
		select {
		case res = <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: the read holding the gate did not finish while a committer waited for it", q.what)
		}
		if res.err != nil {
			t.Fatalf("%s: %v", q.what, res.err)
		}
		if !committer.wait(t, 20*time.Second) {
			t.Fatalf("%s: the committer did not pass the gate after the read", q.what)
		}
		committer.release()
		if res.n != q.want {
			t.Errorf("%s: count %d, want %d", q.what, res.n, q.want)
		}
		report(t, "%s: finished while a committer queued behind it; count %d", q.what, res.n)
		r.Close(context.Background())
	}
}

// waitFailpoint waits until the coordinator pauses at its failpoint.
func waitFailpoint[T any](t *testing.T, path string, done <-chan T) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case r := <-done:
			t.Fatalf("the statement ended (%v) before the failpoint %s", r, filepath.Base(path))
		case <-deadline:
			t.Fatalf("the failpoint %s was not reached", filepath.Base(path))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestReadGateWaitBounded: while a committer holds the snapshot gate, a read
// of several datanodes waits for it no longer than its statement may run:
// its statement_timeout ends the wait, a cancel does, and past the
// coordinator's --read-gate-wait it fails with 55P03.
func TestReadGateWaitBounded(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	c.RestartCoordinator(t, 0, nil, "--read-gate-wait", "2s")
	admin := connect(t, c.CoordDSN(0, "postgres"), true)
	twoNodeTable(t, admin, "g")
	committer := queueGate(t, c, gtmproto.GateCommitter)
	if !committer.wait(t, 10*time.Second) {
		t.Fatal("the test's committer did not get the free gate")
	}
	timed := func(conn *pgx.Conn, sql string) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		start := time.Now()
		var k int
		err := conn.QueryRow(ctx, sql).Scan(&k)
		return time.Since(start), err
	}

	// statement_timeout, in both protocols, for each kind of read.
	for _, simple := range []bool{true, false} {
		conn := connect(t, c.CoordDSN(0, "postgres"), simple)
		exec(t, conn, "SET statement_timeout = 300")
		for _, sql := range []string{"SELECT count(*) FROM g", "SELECT count(*) FROM g a JOIN g b USING (v)",
			"SELECT count(*) FROM g a JOIN g b ON a.v = b.id", "SELECT sum(v) + count(*) FROM g"} {
			d, err := timed(conn, sql)
			if sqlState(err) != "57014" || !strings.Contains(err.Error(), "statement timeout") || d > 1500*time.Millisecond {
				t.Errorf("%s (simple protocol %v) under statement_timeout 300ms at a held gate: %v after %v; want the statement timeout",
					sql, simple, err, d)
			}
			report(t, "%s (simple protocol %v), statement_timeout 300ms, gate held by a committer: %v after %v", sql, simple, sqlState(err), d.Round(10*time.Millisecond))
		}
	}

	// A cancel: sent again until the statement returns (one that comes
	// before the statement runs cancels nothing).
	conn := connect(t, c.CoordDSN(0, "postgres"), true)
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := timed(conn, "SELECT count(*) FROM g a JOIN g b USING (v)")
		done <- err
	}()
	var err error
	for cancelled := false; !cancelled; {
		select {
		case err = <-done:
			cancelled = true
		case <-time.After(100 * time.Millisecond):
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			conn.PgConn().CancelRequest(ctx)
			cancel()
		}
	}
	d := time.Since(start)
	if sqlState(err) != "57014" || d > 1500*time.Millisecond {
		t.Errorf("a cancelled read at a held gate: %v after %v; want 57014 at once", err, d)
	}
	report(t, "cancelled read at a held gate: %v after %v", sqlState(err), d.Round(10*time.Millisecond))

	// No statement_timeout: the coordinator's bound.
	d, err = timed(conn, "SELECT count(*) FROM g")
	if sqlState(err) != "55P03" || d < 2*time.Second || d > 5*time.Second {
		t.Errorf("a read at a held gate without statement_timeout: %v after %v; want 55P03 after --read-gate-wait 2s", err, d)
	}
	report(t, "read at a held gate, no statement_timeout: %v after %v", sqlState(err), d.Round(10*time.Millisecond))

	committer.release()
	if d, err := timed(conn, "SELECT count(*) FROM g"); err != nil {
		t.Errorf("after the gate is free: %v (%v)", err, d)
	}
}

// TestCommitGateWaitBounded: a distributed commit whose decision is logged
// waits for the snapshot gate at most --commit-gate-wait; then the client
// has its COMMIT (with a warning) and the resolver, asked at once, applies
// it once the gate is free; meanwhile no read sees half of it.
func TestCommitGateWaitBounded(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	c.RestartCoordinator(t, 0, nil, "--commit-gate-wait", "1s", "--resolve-interval", "1h")
	admin := connect(t, c.CoordDSN(0, "postgres"), true)
	keys := twoNodeTable(t, admin, "g")
	n := len(keys["datanode1"]) + len(keys["datanode2"])
	reader := queueGate(t, c, gtmproto.GateReader)
	if !reader.wait(t, 10*time.Second) {
		t.Fatal("the test's reader did not get the free gate")
	}
	var noticesMu sync.Mutex
	var notices []string
	cfg, err := pgx.ParseConfig(c.CoordDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		noticesMu.Lock()
		notices = append(notices, n.Severity+": "+n.Message)
		noticesMu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	exec(t, w, "BEGIN", "UPDATE g SET v = v + 1")
	start := time.Now()
	_, err = w.Exec(ctx, "COMMIT")
	d := time.Since(start)
	if err != nil || d > 5*time.Second {
		t.Fatalf("COMMIT at a gate held by a reader: %v after %v; want success after about 1s", err, d)
	}
	noticesMu.Lock()
	got := strings.Join(notices, "; ")
	noticesMu.Unlock()
	if !strings.Contains(got, "is committed") {
		t.Errorf("notices %q: want the warning that the datanodes apply the commit shortly", got)
	}
	report(t, "COMMIT with the gate held by a reader: returned after %v: %s", d.Round(10*time.Millisecond), got)
	if left := preparedLeft(t, c); left != 2 {
		t.Errorf("%d prepared transactions while the reader holds the gate; want 2 (the commit waits for it)", left)
	}
	reader.release()

	// The resolver applies it once the gate is free.
	deadline := time.Now().Add(30 * time.Second)
	for preparedLeft(t, c) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the resolver did not apply the commit within 30s of the gate's release\n%s", c.LogTail("coord1", 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := sumV(t, admin); got != n {
		t.Errorf("sum(v) after the resolver: %d, want %d", got, n)
	}
	report(t, "the resolver applied the commit after the reader left: sum(v) = %d", sumV(t, admin))
	if lines := logLines(c, "coord1", "the resolver applies it"); len(lines) == 0 {
		t.Errorf("coord1 did not log that it left the commit to the resolver")
	}
	if lines := logLines(c, "coord1", "without the snapshot gate"); len(lines) != 0 {
		t.Errorf("the resolver applied the commit without the gate: %q", lines)
	}
}
