package txtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/internal/poll"
)

// TestSnapshotGateSpec is an isolation spec for the snapshot gate. Session w
// commits a transaction that writes on both datanodes through coord1, which
// pauses between its COMMIT PREPAREDs (datanode1 committed, datanode2 not yet).
// Meanwhile, through coord2:
//
//	r1  READ COMMITTED multi-node read          blocks until the commit ends, then sees all of it
//	r2  REPEATABLE READ, first statement         blocks likewise, then sees all of it
//	r3  REPEATABLE READ begun before the commit  does not block, sees none of it, before and after
func TestSnapshotGateSpec(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 2})
	ctx := context.Background()
	fpDir := t.TempDir()
	// Paused before datanode2's COMMIT PREPARED; datanode1's runs at the
	// same time and completes.
	c.RestartCoordinator(t, 0, map[string]string{"XLGO_FAILPOINT": "commit-prepared:datanode2:pause", "XLGO_FAILPOINT_DIR": fpDir})
	pause := filepath.Join(fpDir, "failpoint-commit-prepared:datanode2")
	t.Cleanup(func() { os.Remove(pause) }) // never leave the coordinator paused

	admin := connect(t, c.CoordDSN(1, "postgres"), true)
	keys := twoNodeTable(t, admin, "g")
	n1, n2 := len(keys["datanode1"]), len(keys["datanode2"])
	ids := nodeIDs(t, admin)
	step := func(format string, args ...any) { report(t, format, args...) }

	// r3 takes its snapshots before the commit.
	r3 := connect(t, c.CoordDSN(1, "postgres"), false)
	exec(t, r3, "BEGIN ISOLATION LEVEL REPEATABLE READ")
	if got := sumV(t, r3); got != 0 {
		t.Fatalf("r3 before the commit: sum(v) = %d, want 0", got)
	}
	step("r3: BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT sum(v) FROM g -> 0")

	// w: one transaction that writes every row, on both datanodes.
	w := connect(t, c.CoordDSN(0, "postgres"), true)
	exec(t, w, "BEGIN", "UPDATE g SET v = 1")
	committed := make(chan error, 1)
	go func() {
		cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		_, err := w.Exec(cctx, "COMMIT")
		committed <- err
	}()
	waitPaused(t, pause, committed)
	// The datanodes themselves show the half-applied commit the gate hides.
	poll.Until(t, "datanode1's COMMIT PREPARED", func() bool { return directSum(t, c, 0) == n1 })
	direct := [2]int{directSum(t, c, 0), directSum(t, c, 1)}
	if direct != [2]int{n1, 0} {
		t.Fatalf("during the pause, sum(v) straight on datanode1, datanode2 = %v, want [%d 0]", direct, n1)
	}
	step("w: BEGIN; UPDATE g SET v = 1; COMMIT -> paused before datanode2's COMMIT PREPARED (straight on the datanodes: sum %d on datanode1, %d on datanode2)",
		direct[0], direct[1])

	type read struct {
		perNode map[int32]int
		err     error
		end     time.Time
	}
	r1Done := make(chan read, 1)
	r1 := connect(t, c.CoordDSN(1, "postgres"), false)
	go func() {
		m, err := perNodeSums(r1)
		r1Done <- read{m, err, time.Now()}
	}()
	r2Done := make(chan read, 1)
	r2 := connect(t, c.CoordDSN(1, "postgres"), false)
	exec(t, r2, "BEGIN ISOLATION LEVEL REPEATABLE READ")
	go func() {
		m, err := perNodeSums(r2)
		r2Done <- read{m, err, time.Now()}
	}()

	// r3's snapshots are older than the commit: it neither blocks nor sees it.
	if got := sumV(t, r3); got != 0 {
		t.Errorf("r3 during the pause: sum(v) = %d, want 0", got)
	}
	step("r3: SELECT sum(v) FROM g -> 0 at once (snapshots taken before the commit)")

	const blockFor = 2 * time.Second
	select {
	case r := <-r1Done:
		t.Fatalf("r1 returned during the pause: %v %v (a half-committed result, or an error)", r.perNode, r.err)
	case r := <-r2Done:
		t.Fatalf("r2 returned during the pause: %v %v (a half-committed result, or an error)", r.perNode, r.err)
	case <-time.After(blockFor):
	}
	step("r1: SELECT xc_node_id, sum(v) FROM g GROUP BY 1 -> still waiting after %v", blockFor)
	step("r2: BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT xc_node_id, sum(v) FROM g GROUP BY 1 -> still waiting after %v", blockFor)

	released := time.Now()
	if err := os.Remove(pause); err != nil {
		t.Fatal(err)
	}
	step("w: released")
	select {
	case err := <-committed:
		if err != nil {
			t.Fatalf("w: COMMIT: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("w: COMMIT did not return after the release")
	}
	step("w: COMMIT returned")
	want := map[int32]int{ids["datanode1"]: n1, ids["datanode2"]: n2}
	for name, ch := range map[string]chan read{"r1": r1Done, "r2": r2Done} {
		var r read
		select {
		case r = <-ch:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s did not return after the release", name)
		}
		if r.err != nil {
			t.Fatalf("%s: %v", name, r.err)
		}
		if fmt.Sprint(r.perNode) != fmt.Sprint(want) {
			t.Errorf("%s: per-node sums %v, want %v (the whole commit)", name, r.perNode, want)
		}
		step("%s: returned %v after the release: per-node sums %v (the whole commit)", name, r.end.Sub(released).Round(time.Millisecond), r.perNode)
	}
	if got := sumV(t, r2); got != n1+n2 {
		t.Errorf("r2 again: sum(v) = %d, want %d", got, n1+n2)
	}
	if got := sumV(t, r3); got != 0 {
		t.Errorf("r3 after the commit: sum(v) = %d, want 0", got)
	}
	step("r3: SELECT sum(v) FROM g -> 0 (still its old snapshots); COMMIT")
	exec(t, r2, "COMMIT")
	exec(t, r3, "COMMIT")
	if got := sumV(t, admin); got != n1+n2 {
		t.Errorf("after everything: sum(v) = %d, want %d", got, n1+n2)
	}
}

// waitPaused waits until the coordinator pauses at its failpoint.
func waitPaused(t *testing.T, path string, done <-chan error) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("COMMIT returned (%v) before the failpoint %s was reached", err, filepath.Base(path))
		case <-deadline:
			t.Fatalf("the failpoint %s was not reached", filepath.Base(path))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func sumV(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var s int
	if err := conn.QueryRow(ctx, "SELECT sum(v) FROM g").Scan(&s); err != nil {
		t.Fatalf("SELECT sum(v) FROM g: %v", err)
	}
	return s
}

func perNodeSums(conn *pgx.Conn) (map[int32]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rows, err := conn.Query(ctx, "SELECT xc_node_id, sum(v) FROM g GROUP BY 1")
	if err != nil {
		return nil, err
	}
	out := map[int32]int{}
	for rows.Next() {
		var id int32
		var s int
		if err := rows.Scan(&id, &s); err != nil {
			return nil, err
		}
		out[id] = s
	}
	return out, rows.Err()
}

// directSum is sum(v) of g read straight on datanode i, past the coordinators.
func directSum(t *testing.T, c *clustertest.Cluster, i int) int {
	t.Helper()
	conn := connect(t, c.DatanodeDSN(i, "postgres"), true)
	defer conn.Close(context.Background())
	var s int
	if err := conn.QueryRow(context.Background(), "SELECT coalesce(sum(v), 0) FROM g").Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}
