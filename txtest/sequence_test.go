package txtest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/internal/poll"
)

// TestSequenceAcrossGTMRestart inserts 10,000 rows into a bigserial table
// from 4 clients through 2 coordinators while the gtm is killed (kill -9) and
// restarted once in the middle: every id must be distinct and every row there
// once.
func TestSequenceAcrossGTMRestart(t *testing.T) {
	const clients, rows = 4, 10000
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 2})
	admin := connect(t, c.CoordDSN(0, "postgres"), true)
	// No DISTRIBUTE BY: hash on the primary key, the bigserial.
	exec(t, admin, "CREATE TABLE seqt (id bigserial PRIMARY KEY, client int NOT NULL, n int NOT NULL)")

	var inserted, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	start := time.Now()
	for cl := 0; cl < clients; cl++ {
		wg.Add(1)
		go func(cl int) {
			defer wg.Done()
			dsn := c.CoordDSN(cl%2, "postgres")
			conn, err := tryConnect(dsn, cl%2 == 0, 30*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer func() { conn.Close(context.Background()) }()
			for n := 0; n < rows/clients; n++ {
				for attempt := 0; ; attempt++ {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					_, err := conn.Exec(ctx, "INSERT INTO seqt (client, n) VALUES ($1, $2)", cl, n)
					cancel()
					if err == nil {
						inserted.Add(1)
						break
					}
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					if attempt == 200 {
						errs <- fmt.Errorf("client %d row %d: still failing after %d attempts: %v", cl, n, attempt, err)
						return
					}
					time.Sleep(50 * time.Millisecond)
					if conn.IsClosed() {
						conn.Close(context.Background())
						if conn, err = tryConnect(dsn, cl%2 == 0, 30*time.Second); err != nil {
							errs <- err
							return
						}
					}
				}
			}
		}(cl)
	}

	// Kill -9 the gtm when half the rows are in, leave it down a moment, restart it.
	poll.Within(t, 2*time.Minute, "half the rows to be in", func() bool { return inserted.Load() >= rows/2 })
	atKill := inserted.Load()
	failedBefore := failed.Load()
	gtmPid := c.GTMPid()
	if gtmPid == 0 {
		t.Fatal("the gtm does not run")
	}
	c.KillPid(t, gtmPid)
	killed := time.Now()
	time.Sleep(500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	if err := c.Ctl.Start(ctx); err != nil {
		cancel()
		t.Fatalf("restart: %v\n%s", err, c.LogTail("gtm", 20))
	}
	cancel()
	down := time.Since(killed)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	elapsed := time.Since(start)

	var count, distinctIDs, distinctRows, minID, maxID int64
	if err := admin.QueryRow(context.Background(),
		"SELECT count(*), count(DISTINCT id), count(DISTINCT client * 1000000 + n), min(id), max(id) FROM seqt").
		Scan(&count, &distinctIDs, &distinctRows, &minID, &maxID); err != nil {
		t.Fatal(err)
	}
	// The same straight on the datanodes: ids must not repeat across them.
	seen := map[int64]bool{}
	dups := 0
	for i := range c.Config.Datanodes {
		conn := connect(t, c.DatanodeDSN(i, "postgres"), true)
		rs, err := conn.Query(context.Background(), "SELECT id FROM seqt")
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rs, pgx.RowTo[int64])
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if seen[id] {
				dups++
			}
			seen[id] = true
		}
		conn.Close(context.Background())
	}
	report(t, "%d rows by %d clients through 2 coordinators in %v; gtm killed at row %d, down %v, restarted; "+
		"%d failed inserts retried (%d before the kill; first error: %v); count %d, distinct ids %d (%d on the datanodes, %d duplicates), ids %d..%d",
		inserted.Load(), clients, elapsed.Round(time.Millisecond), atKill, down.Round(time.Millisecond),
		failed.Load(), failedBefore, firstErr.Load(), count, distinctIDs, len(seen), dups, minID, maxID)
	if count != rows || distinctIDs != rows || distinctRows != rows || dups != 0 || len(seen) != rows {
		t.Errorf("count %d, distinct ids %d, distinct (client, n) %d, duplicates on the datanodes %d: want %d rows, all distinct",
			count, distinctIDs, distinctRows, dups, rows)
	}
}
