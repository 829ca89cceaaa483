package cluster_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster"
	"github.com/xlgo/xlgo/cluster/clustertest"
)

// TestMoveKill kills, with kill -9, the coordinator that runs a move, the
// datanode the rows leave and the one they go to, each in the middle of a
// bucket copy and of its catch-up, while transfers go on through the
// other coordinator; xlctl rebalance --resume then finishes the move. After
// each: every row is on exactly one node, the books balance, every account
// agrees with its history, and no committed transfer is lost.
func TestMoveKill(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.CoordDSN(1, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { conn.Close(context.Background()) }()
	const accounts = 20000
	createBank(t, ctx, conn, accounts)
	stop := make(chan struct{})
	load := startBankWith(t, ctx, []string{c.CoordDSN(1, "postgres")}, accounts, stop, true)
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		load.wg.Wait()
	}()
	dir := t.TempDir()
	// Each scenario moves acct between two and three datanodes.
	targets := []string{"(datanode1, datanode2, datanode3)", "(datanode1, datanode2)"}
	scenario := 0
	for _, phase := range []string{"move-copy", "move-catchup"} {
		victims := []string{"coordinator", "source", "target"}
		if phase == "move-catchup" {
			victims = append(victims, "gtm", "abort")
		}
		for _, victim := range victims {
			name := phase + "/" + victim
			target := targets[scenario%2]
			scenario++
			c.RestartCoordinator(t, 0, map[string]string{"XLGO_FAILPOINT": phase + ":pauseonce", "XLGO_FAILPOINT_DIR": dir})
			mover, err := pgx.Connect(ctx, c.CoordDSN(0, "postgres"))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { _, err := mover.Exec(ctx, "ALTER TABLE acct TO NODE "+target); done <- err }()
			fp := filepath.Join(dir, "failpoint-"+phase)
			deadline := time.Now().Add(time.Minute)
			for {
				if _, err := os.Stat(fp); err == nil {
					break
				}
				select {
				case err := <-done:
					t.Fatalf("%s: the move ended before its failpoint: %v", name, err)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: the failpoint was not reached\n%s", name, c.LogTail("coord1", 20))
				}
				time.Sleep(20 * time.Millisecond)
			}
			var from, to string
			if err := conn.QueryRow(ctx, "SELECT 1").Scan(new(int)); err != nil {
				t.Fatal(err)
			}
			c1, err := pgx.Connect(ctx, c.CoordDSN(0, "postgres"))
			if err != nil {
				t.Fatal(err)
			}
			if err := c1.QueryRow(ctx, "SELECT source_node, dest_node FROM pgxc_rebalance_status").Scan(&from, &to); err != nil {
				t.Fatalf("%s: pgxc_rebalance_status: %v", name, err)
			}
			c1.Close(ctx)
			switch victim {
			case "coordinator":
				c.KillPid(t, c.CoordinatorPid(0))
			case "source":
				c.KillPostgres(t, from)
			case "target", "abort":
				c.KillPostgres(t, to)
			case "gtm":
				c.KillPid(t, c.GTMPid())
			}
			os.Remove(fp)
			err = <-done
			mover.Close(context.Background())
			if err == nil && victim != "coordinator" && victim != "gtm" {
				t.Fatalf("%s: the move went on with %s killed", name, victim)
			}
			t.Logf("%s (%s -> %s): the move stopped: %v", name, from, to, err)
			c.StartStopped(t)
			if victim == "coordinator" {
				// It is started without its failpoint.
				c.RestartCoordinator(t, 0, nil)
			}
			var status int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM pgxc_rebalance_status").Scan(&status); err != nil {
				// The session died with a killed datanode: a new one.
				conn.Close(ctx)
				if conn, err = pgx.Connect(ctx, c.CoordDSN(1, "postgres")); err != nil {
					t.Fatal(err)
				}
				if err := conn.QueryRow(ctx, "SELECT count(*) FROM pgxc_rebalance_status").Scan(&status); err != nil {
					t.Fatal(err)
				}
			}
			if status != 1 {
				t.Errorf("%s: pgxc_rebalance_status shows %d moves, want the one cut short", name, status)
			}
			if moves := c.Ctl.Moves(ctx); len(moves) != 1 || moves[0].Table != "public.acct" || !strings.Contains(moves[0].Phase, "cut short") {
				t.Errorf("%s: xlctl status shows the moves %+v, want public.acct cut short", name, moves)
			}
			// A killed gtm or datanode leaves transactions prepared, whose
			// locks the move would wait for: the resolvers finish them first.
			waitNoPrepared(t, ctx, c, name)
			start := time.Now()
			rctx, rcancel := context.WithTimeout(ctx, 3*time.Minute)
			abort := victim == "abort"
			// A switch gives up (55P03) when writers on both nodes of its pair
			// keep the table's lock on one of them through all its tries; the
			// operator runs the verb again, and so does the test, twice at most.
			for try := 0; ; try++ {
				err = c.Ctl.Rebalance(rctx, cluster.RebalanceOptions{Resume: !abort, Abort: abort, Progress: func(string, cluster.MoveProgress, bool) {}})
				if err == nil || try == 2 || !strings.Contains(err.Error(), "55P03") {
					break
				}
				t.Logf("%s: xlctl rebalance gave up (%v); running it again", name, err)
			}
			rcancel()
			if err != nil {
				t.Fatalf("%s: xlctl rebalance --resume/--abort: %v\n%s", name, err, c.LogTail("coord1", 30))
			}
			t.Logf("%s: resumed or aborted in %v", name, time.Since(start).Round(time.Millisecond))
			var nodes string
			var moving bool
			if err := conn.QueryRow(ctx, "SELECT pcnodenames::text, pctarget IS NOT NULL OR pcfrozen IS NOT NULL FROM pgxc.pgxc_class WHERE pcrelid = 'acct'::regclass").Scan(&nodes, &moving); err != nil {
				t.Fatal(err)
			}
			want := "{" + strings.ReplaceAll(strings.Trim(target, "()"), " ", "") + "}"
			if !abort && nodes != want || moving {
				t.Fatalf("%s: acct is on %s (moving: %t) after the resume, want %s", name, nodes, moving, want)
			}
			if abort {
				// Stopped where it was: on the nodes that own its buckets.
				var owners int
				if err := conn.QueryRow(ctx, "SELECT count(DISTINCT xc_node_id) FROM acct").Scan(&owners); err != nil {
					t.Fatal(err)
				}
				if owners != strings.Count(nodes, ",")+1 {
					t.Fatalf("%s: acct lists %s but has rows on %d nodes", name, nodes, owners)
				}
				if moves := c.Ctl.Moves(ctx); len(moves) != 0 {
					t.Fatalf("%s: moves left after --abort: %+v", name, moves)
				}
				t.Logf("%s: acct stays on %s", name, nodes)
			}
			checkBank(t, ctx, c, conn, load, name)
		}
	}
	close(stop)
	load.wg.Wait()
	checkBank(t, ctx, c, conn, load, "the end")
	t.Logf("transfers committed %d, retried %d, failed (a node killed) %d", load.committed.Load(), load.retried.Load(), load.failed.Load())
}

// checkBank checks a bank's invariants, which hold whatever the fate of
// the transfers whose commit the client could not learn.
func checkBank(t *testing.T, ctx context.Context, c *clustertest.Cluster, conn *pgx.Conn, load *bankLoad, when string) {
	t.Helper()
	// No transfer runs while the books are read.
	load.quiet.Lock()
	defer load.quiet.Unlock()
	waitNoPrepared(t, ctx, c, when)
	checkPlacementAndBooks(t, ctx, c, conn, load, when)
}

// waitNoPrepared waits until the resolvers have finished the transactions a
// kill left prepared on the datanodes (a commit the client heard of may be
// applied after it heard; their locks hold a move's steps up meanwhile).
func waitNoPrepared(t *testing.T, ctx context.Context, c *clustertest.Cluster, when string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for i := 0; i < 3; i++ {
		dn, err := pgx.Connect(ctx, c.DatanodeDSN(i, "postgres"))
		if err != nil {
			t.Fatal(err)
		}
		for {
			var n int
			if err := dn.QueryRow(ctx, "SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'xlgo%' AND prepared < now() - interval '1 second'").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: datanode%d keeps %d prepared transactions", when, i+1, n)
			}
			time.Sleep(100 * time.Millisecond)
		}
		dn.Close(ctx)
	}
}

func checkPlacementAndBooks(t *testing.T, ctx context.Context, c *clustertest.Cluster, conn *pgx.Conn, load *bankLoad, when string) {
	t.Helper()
	var sum, hsum, wrong int64
	if err := conn.QueryRow(ctx, `SELECT (SELECT sum(bal) FROM acct), (SELECT coalesce(sum(delta), 0) FROM hist),
		(SELECT count(*) FROM acct a LEFT JOIN (SELECT aid, sum(delta) s FROM hist GROUP BY aid) h ON h.aid = a.id WHERE a.bal <> coalesce(h.s, 0))`).Scan(&sum, &hsum, &wrong); err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	if sum != 0 || hsum != 0 || wrong != 0 {
		t.Fatalf("%s: balances sum to %d, history to %d, %d accounts disagree with their history", when, sum, hsum, wrong)
	}
	checkPlacement(t, ctx, c, "acct", "id", 3)
	checkPlacement(t, ctx, c, "hist", "id", 3)
	rows, err := conn.Query(ctx, "SELECT id FROM hist")
	if err != nil {
		t.Fatal(err)
	}
	have := map[int64]bool{}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		have[id] = true
	}
	rows.Close()
	load.mu.Lock()
	defer load.mu.Unlock()
	for id := range load.histIDs {
		if !have[id] {
			t.Fatalf("%s: hist id %d of a committed transfer is missing", when, id)
		}
	}
}
