package txtest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

// TestPreparedStatementsShared: sessions that prepare the same statement at
// once share its description and the route template the first run learns;
// each must route every run right (the template is published whole).
func TestPreparedStatementsShared(t *testing.T) {
	const sessions, rounds = 6, 30
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	admin := connect(t, c.CoordDSN(0, "postgres"), true)
	exec(t, admin, "CREATE TABLE pr (id int PRIMARY KEY, v int NOT NULL) DISTRIBUTE BY HASH (id)",
		"INSERT INTO pr SELECT i, i * 10 FROM generate_series(1, 100) i")
	conns := make([]*pgx.Conn, sessions)
	for i := range conns {
		conns[i] = connect(t, c.CoordDSN(0, "postgres"), false)
	}
	var wrong, failed int
	var mu sync.Mutex
	for r := 0; r < rounds; r++ {
		// A text of its own each round: described and routed anew.
		sql := fmt.Sprintf("SELECT v, %d FROM pr WHERE id = $1", r)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, conn := range conns {
			wg.Add(1)
			go func(i int, conn *pgx.Conn) {
				defer wg.Done()
				<-start
				for k := 0; k < 5; k++ {
					id := 1 + (i*7+k*13+r)%100
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					var v, round int
					err := conn.QueryRow(ctx, sql, id).Scan(&v, &round)
					cancel()
					mu.Lock()
					switch {
					case err != nil:
						failed++
						if failed < 5 {
							t.Errorf("%s with %d: %v", sql, id, err)
						}
					case v != id*10 || round != r:
						wrong++
					}
					mu.Unlock()
				}
			}(i, conn)
		}
		close(start)
		wg.Wait()
	}
	report(t, "%d sessions x %d statements x 5 runs: %d wrong rows, %d errors", sessions, rounds, wrong, failed)
	if wrong != 0 || failed != 0 {
		t.Errorf("%d wrong rows, %d errors", wrong, failed)
	}
}
