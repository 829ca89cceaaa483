package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

// createBank makes the bank's tables on datanode1 and datanode2: acct
// with its accounts at 0, and an empty hist.
func createBank(t *testing.T, ctx context.Context, conn *pgx.Conn, accounts int) {
	t.Helper()
	for _, sql := range []string{
		"CREATE TABLE acct (id int PRIMARY KEY, bal int NOT NULL) DISTRIBUTE BY HASH (id) TO NODE (datanode1, datanode2)",
		// Few distribution values, each with many rows: a move catches up
		// with thousands of rows per value.
		"CREATE TABLE hist (id bigint NOT NULL, aid int NOT NULL, grp int NOT NULL, delta int NOT NULL) DISTRIBUTE BY HASH (grp) TO NODE (datanode1, datanode2)",
		fmt.Sprintf("INSERT INTO acct SELECT g, 0 FROM generate_series(1, %d) g", accounts),
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
}

// retryable is what a client of a moving table retries.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// bankLoad runs transfers through the coordinators until stop: each moves
// an amount between two accounts of acct and logs it in hist; some open
// new accounts. It returns what committed.
type bankLoad struct {
	committed, retried, failed atomic.Int64
	opened                     atomic.Int64
	errs                       sync.Map
	wg                         sync.WaitGroup
	mu                         sync.Mutex
	histIDs                    map[int64]time.Time // hist ids committed, and when
	// tolerant: errors other than retryable ones are expected (nodes are
	// killed); the workers go on, connecting again when needed.
	tolerant bool
	// quiet is held (written) to stop new transfers for a while: each
	// transfer holds it (read) while it runs.
	quiet sync.RWMutex
}

func startBank(t *testing.T, ctx context.Context, dsns []string, accounts int, stop <-chan struct{}) *bankLoad {
	return startBankWith(t, ctx, dsns, accounts, stop, false)
}

func startBankWith(t *testing.T, ctx context.Context, dsns []string, accounts int, stop <-chan struct{}, tolerant bool) *bankLoad {
	l := &bankLoad{histIDs: map[int64]time.Time{}, tolerant: tolerant}
	var nextHist atomic.Int64
	var nextID atomic.Int64
	nextID.Store(int64(accounts))
	for w := 0; w < 4; w++ {
		l.wg.Add(1)
		go func(w int) {
			defer l.wg.Done()
			conn, err := pgx.Connect(ctx, dsns[w%len(dsns)])
			if err != nil {
				l.errs.Store(err.Error(), true)
				l.failed.Add(1)
				return
			}
			defer func() { conn.Close(context.Background()) }()
			rnd := rand.New(rand.NewSource(int64(w)))
			for {
				select {
				case <-stop:
					return
				default:
				}
				from, to, amt := 1+rnd.Intn(accounts), 1+rnd.Intn(accounts), 1+rnd.Intn(100)
				open := rnd.Intn(10) == 0
				var id int64
				if open {
					id = nextID.Add(1)
				}
				h1, h2 := nextHist.Add(1), nextHist.Add(1)
				for {
					l.quiet.RLock()
					err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
						if _, err := tx.Exec(ctx, "UPDATE acct SET bal = bal - $1 WHERE id = $2", amt, from); err != nil {
							return err
						}
						if _, err := tx.Exec(ctx, "UPDATE acct SET bal = bal + $1 WHERE id = $2", amt, to); err != nil {
							return err
						}
						if _, err := tx.Exec(ctx, "INSERT INTO hist (id, aid, grp, delta) VALUES ($1, $2, $2 % 20, $3)", h1, from, -amt); err != nil {
							return err
						}
						if _, err := tx.Exec(ctx, "INSERT INTO hist (id, aid, grp, delta) VALUES ($1, $2, $2 % 20, $3)", h2, to, amt); err != nil {
							return err
						}
						if open {
							if _, err := tx.Exec(ctx, "INSERT INTO acct (id, bal) VALUES ($1, 0)", id); err != nil {
								return err
							}
						}
						return nil
					})
					l.quiet.RUnlock()
					if err == nil {
						l.mu.Lock()
						l.histIDs[h1], l.histIDs[h2] = time.Now(), time.Now()
						l.mu.Unlock()
						l.committed.Add(1)
						if open {
							l.opened.Add(1)
						}
						break
					}
					if retryable(err) {
						l.retried.Add(1)
						select {
						case <-stop:
							return
						default:
						}
						continue
					}
					l.failed.Add(1)
					l.errs.Store(err.Error(), true)
					if l.tolerant {
						time.Sleep(50 * time.Millisecond)
					}
					if conn.IsClosed() {
						if !l.tolerant {
							return
						}
						// A node was killed: connect again until it is back.
						for conn.IsClosed() {
							select {
							case <-stop:
								return
							case <-time.After(200 * time.Millisecond):
							}
							if c, err := pgx.Connect(ctx, dsns[w%len(dsns)]); err == nil {
								conn = c
							}
						}
					}
					break
				}
			}
		}(w)
	}
	return l
}

func (l *bankLoad) errors() string {
	var out []string
	l.errs.Range(func(k, _ any) bool { out = append(out, k.(string)); return true })
	return strings.Join(out, "; ")
}

// checkPlacement checks, on the datanodes themselves, that every row of a
// table is on exactly one of the nodes, and returns the rows per node.
func checkPlacement(t *testing.T, ctx context.Context, c *clustertest.Cluster, table, key string, nodes int) []int {
	t.Helper()
	seen := map[int64]int{}
	var per []int
	for i := 0; i < nodes; i++ {
		conn, err := pgx.Connect(ctx, c.DatanodeDSN(i, "postgres"))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := conn.Query(ctx, fmt.Sprintf("SELECT %s FROM %s", key, table))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var k int64
			if err := rows.Scan(&k); err != nil {
				t.Fatal(err)
			}
			if prev, ok := seen[k]; ok {
				t.Errorf("%s %s=%d is on datanode%d and datanode%d", table, key, k, prev+1, i+1)
			}
			seen[k] = i
			n++
		}
		rows.Close()
		conn.Close(ctx)
		per = append(per, n)
	}
	return per
}

func TestRedistributeUnderLoad(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.CoordDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	const accounts = 20000
	createBank(t, ctx, conn, accounts)
	stop := make(chan struct{})
	load := startBank(t, ctx, []string{c.CoordDSN(0, "postgres"), c.CoordDSN(1, "postgres")}, accounts, stop)
	time.Sleep(time.Second)
	var notices []string
	var nmu sync.Mutex
	cfg, err := pgx.ParseConfig(c.CoordDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		nmu.Lock()
		notices = append(notices, n.Message)
		nmu.Unlock()
	}
	mover, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mover.Close(context.Background())
	for _, sql := range []string{
		"ALTER TABLE acct ADD NODE (datanode3)",
		"ALTER TABLE hist ADD NODE (datanode3)",
		"ALTER TABLE acct DELETE NODE (datanode1)",
		"ALTER TABLE hist TO NODE (datanode2, datanode3)",
	} {
		start := time.Now()
		if _, err := mover.Exec(ctx, sql); err != nil {
			close(stop)
			load.wg.Wait()
			t.Fatalf("%s: %v\n%s", sql, err, c.LogTail("coord1", 40))
		}
		t.Logf("%s: %v (committed so far %d)", sql, time.Since(start).Round(time.Millisecond), load.committed.Load())
	}
	time.Sleep(time.Second)
	close(stop)
	load.wg.Wait()
	nmu.Lock()
	t.Logf("progress: %d notices, last %q", len(notices), notices[len(notices)-1])
	nmu.Unlock()
	t.Logf("transfers committed %d, retried %d, failed %d", load.committed.Load(), load.retried.Load(), load.failed.Load())
	if load.failed.Load() > 0 {
		t.Fatalf("%d transfers failed: %s", load.failed.Load(), load.errors())
	}
	if load.committed.Load() < 50 {
		t.Fatalf("only %d transfers committed during the moves", load.committed.Load())
	}
	var n, sum int64
	if err := conn.QueryRow(ctx, "SELECT count(*), sum(bal) FROM acct").Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != accounts+load.opened.Load() || sum != 0 {
		t.Fatalf("acct: %d rows with balance %d, want %d rows with 0", n, sum, accounts+load.opened.Load())
	}
	var hn, hsum int64
	if err := conn.QueryRow(ctx, "SELECT count(*), coalesce(sum(delta), 0) FROM hist").Scan(&hn, &hsum); err != nil {
		t.Fatal(err)
	}
	if hn != 2*load.committed.Load() {
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
		for id, at := range load.histIDs {
			if !have[id] {
				t.Errorf("hist id %d, committed at %s, is missing", id, at.Format("15:04:05.000"))
			}
		}
	}
	if hn != 2*load.committed.Load() || hsum != 0 {
		t.Fatalf("hist: %d rows summing to %d, want %d summing to 0", hn, hsum, 2*load.committed.Load())
	}
	// Every account's balance is what its history says.
	var wrong int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM acct a LEFT JOIN (SELECT aid, sum(delta) s FROM hist GROUP BY aid) h ON h.aid = a.id
		WHERE a.bal <> coalesce(h.s, 0)`).Scan(&wrong); err != nil || wrong != 0 {
		t.Fatalf("%d accounts disagree with their history (%v)", wrong, err)
	}
	per := checkPlacement(t, ctx, c, "acct", "id", 3)
	if per[0] != 0 || per[1] == 0 || per[2] == 0 {
		t.Fatalf("acct rows per datanode: %v, want none on datanode1", per)
	}
	hper := checkPlacement(t, ctx, c, "hist", "id", 3)
	if hper[0] != 0 || hper[1] == 0 || hper[2] == 0 {
		t.Fatalf("hist rows per datanode: %v, want none on datanode1", hper)
	}
	t.Logf("acct per datanode %v, hist %v", per, hper)
	for i := 0; i < 2; i++ {
		cc, err := pgx.Connect(ctx, c.CoordDSN(i, "postgres"))
		if err != nil {
			t.Fatal(err)
		}
		var nodes int
		if err := cc.QueryRow(ctx, "SELECT count(DISTINCT xc_node_id) FROM acct").Scan(&nodes); err != nil || nodes != 2 {
			t.Fatalf("coordinator %d sees acct on %d nodes (%v)", i+1, nodes, err)
		}
		var plan strings.Builder
		rows, err := cc.Query(ctx, "EXPLAIN (COSTS OFF) SELECT count(*) FROM acct")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var l string
			rows.Scan(&l)
			plan.WriteString(l + "\n")
		}
		rows.Close()
		if !strings.Contains(plan.String(), "(datanode2,datanode3)") {
			t.Fatalf("coordinator %d plans acct on other nodes:\n%s", i+1, plan.String())
		}
		cc.Close(ctx)
	}
	// Nothing of the moves is left behind.
	for i := 0; i < 3; i++ {
		dn, err := pgx.Connect(ctx, c.DatanodeDSN(i, "postgres"))
		if err != nil {
			t.Fatal(err)
		}
		var trig, staging, logged, frozen int
		if err := dn.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'pgxc_move%'),
			(SELECT count(*) FROM pg_class WHERE relname ~ '^pgxc_move_[0-9a-f]{16}$'),
			(SELECT count(*) FROM pgxc.pgxc_move_log) + (SELECT count(*) FROM pgxc.pgxc_move_active), (SELECT count(*) FROM pgxc.pgxc_class WHERE pcfrozen IS NOT NULL OR pctarget IS NOT NULL)`).Scan(&trig, &staging, &logged, &frozen); err != nil {
			t.Fatal(err)
		}
		if trig+staging+logged+frozen != 0 {
			t.Fatalf("datanode%d keeps %d triggers, %d staging tables, %d logged values, %d tables moving", i+1, trig, staging, logged, frozen)
		}
		dn.Close(ctx)
	}
}

// TestRedistributeRewrite changes distributions (which blocks the table,
// as in Postgres-XL) while a writer inserts into it.
func TestRedistributeRewrite(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.CoordDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, sql := range []string{
		"CREATE TABLE r (id int, k int, v text) DISTRIBUTE BY REPLICATION TO NODE (datanode1, datanode2)",
		"INSERT INTO r SELECT g, g % 97, md5(g::text) FROM generate_series(1, 5000) g",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	// A writer through the other coordinator, all along.
	stop := make(chan struct{})
	var inserted atomic.Int64
	var werr atomic.Value
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w, err := pgx.Connect(ctx, c.CoordDSN(1, "postgres"))
		if err != nil {
			werr.Store(err.Error())
			return
		}
		defer w.Close(context.Background())
		for id := 100001; ; id++ {
			select {
			case <-stop:
				return
			default:
			}
			for {
				_, err := w.Exec(ctx, "INSERT INTO r VALUES ($1, $1 % 97, 'w')", id)
				if err == nil {
					inserted.Add(1)
					break
				}
				if !retryable(err) {
					werr.Store(err.Error())
					return
				}
			}
		}
	}()
	type step struct {
		sql        string
		kind       string
		nodes      string
		perNodeAll bool // every node has every row (replication)
	}
	for _, st := range []step{
		{"ALTER TABLE r ADD NODE (datanode3)", "R", "{datanode1,datanode2,datanode3}", true},
		{"ALTER TABLE r DELETE NODE (datanode1)", "R", "{datanode2,datanode3}", true},
		{"ALTER TABLE r DISTRIBUTE BY HASH (id) TO NODE (datanode1, datanode2, datanode3)", "H", "{datanode1,datanode2,datanode3}", false},
		{"ALTER TABLE r DISTRIBUTE BY MODULO (k)", "M", "{datanode1,datanode2,datanode3}", false},
		{"ALTER TABLE r DISTRIBUTE BY ROUNDROBIN, DELETE NODE (datanode2)", "N", "{datanode1,datanode3}", false},
		{"ALTER TABLE r DISTRIBUTE BY REPLICATION", "R", "{datanode1,datanode3}", true},
		{"ALTER TABLE r DISTRIBUTE BY HASH (k), ADD NODE (datanode2)", "H", "{datanode1,datanode3,datanode2}", false},
	} {
		start := time.Now()
		if _, err := conn.Exec(ctx, st.sql); err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("%s: %v", st.sql, err)
		}
		t.Logf("%s: %v", st.sql, time.Since(start).Round(time.Millisecond))
		var kind, nodes string
		if err := conn.QueryRow(ctx, "SELECT pclocatortype::text, pcnodenames::text FROM pgxc_class WHERE pcrelid = 'r'::regclass").Scan(&kind, &nodes); err != nil {
			t.Fatal(err)
		}
		if kind != st.kind || nodes != st.nodes {
			t.Fatalf("after %s: pgxc_class says %s on %s, want %s on %s", st.sql, kind, nodes, st.kind, st.nodes)
		}
		time.Sleep(200 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if e := werr.Load(); e != nil {
		t.Fatalf("the writer failed: %v", e)
	}
	want := 5000 + inserted.Load()
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM r").Scan(&n); err != nil || n != want {
		t.Fatalf("r has %d rows (%v), want %d", n, err, want)
	}
	per := checkPlacement(t, ctx, c, "r", "id", 3)
	var total int64
	for _, p := range per {
		total += int64(p)
	}
	if total != want || per[0] == 0 || per[1] == 0 || per[2] == 0 {
		t.Fatalf("rows per datanode %v, want %d in all spread over the three", per, want)
	}
	// Each row is where HASH (k) sends it: the rows of one k are together.
	var split int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM (SELECT k FROM r GROUP BY k HAVING count(DISTINCT xc_node_id) > 1) x").Scan(&split); err != nil || split != 0 {
		t.Fatalf("%d values of k are on several nodes (%v)", split, err)
	}
	t.Logf("writer inserted %d rows; per datanode %v", inserted.Load(), per)
}

// TestRepeatableReadAcrossMove: a REPEATABLE READ transaction that began
// before rows switched nodes reads them where its snapshots see them, and
// may not write where they moved.
func TestRepeatableReadAcrossMove(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.CoordDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, sql := range []string{
		"CREATE TABLE rr (id int PRIMARY KEY, v int) DISTRIBUTE BY HASH (id) TO NODE (datanode1, datanode2)",
		"INSERT INTO rr SELECT g, g FROM generate_series(1, 1000) g",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := pgx.Connect(ctx, c.CoordDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close(context.Background())
	if _, err := tx.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ"); err != nil {
		t.Fatal(err)
	}
	var n, sum int
	if err := tx.QueryRow(ctx, "SELECT count(*), sum(v) FROM rr").Scan(&n, &sum); err != nil || n != 1000 {
		t.Fatalf("before: %d rows (%v)", n, err)
	}
	if _, err := conn.Exec(ctx, "ALTER TABLE rr ADD NODE (datanode3)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "UPDATE rr SET v = v + 1"); err != nil {
		t.Fatal(err)
	}
	// Every row, one by one (each routed to one node), and all together.
	found := 0
	for id := 1; id <= 1000; id++ {
		var v int
		if err := tx.QueryRow(ctx, "SELECT v FROM rr WHERE id = $1", id).Scan(&v); err != nil {
			t.Fatalf("id %d in the transaction begun before the move: %v", id, err)
		}
		if v != id {
			t.Fatalf("id %d: v = %d in the snapshot of before the update, want %d", id, v, id)
		}
		found++
	}
	var n2, sum2 int
	if err := tx.QueryRow(ctx, "SELECT count(*), sum(v) FROM rr").Scan(&n2, &sum2); err != nil || n2 != 1000 || sum2 != sum {
		t.Fatalf("after the move, in the old snapshot: %d rows summing to %d (%v), want 1000 and %d", n2, sum2, err, sum)
	}
	_, err = tx.Exec(ctx, "INSERT INTO rr VALUES (5000, 1)")
	if !retryable(err) {
		t.Fatalf("a write of the transaction begun before the move: %v, want a serialization failure", err)
	}
	tx.Exec(ctx, "ROLLBACK")
	if err := conn.QueryRow(ctx, "SELECT count(*), sum(v) FROM rr").Scan(&n, &sum2); err != nil || n != 1000 || sum2 != sum+1000 {
		t.Fatalf("after: %d rows summing to %d (%v)", n, sum2, err)
	}
}

// TestUserTypeOIDsDiffer: datanodes number user types each their own way
// (a datanode added later, or one where objects were made alone); a final
// aggregate over such a type reads its OID on the node that reported it.
func TestUserTypeOIDsDiffer(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.CoordDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	dn, err := pgx.Connect(ctx, c.DatanodeDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dn.Exec(ctx, "CREATE TABLE junk1 (a int); CREATE TABLE junk2 (a int)"); err != nil {
		t.Fatal(err)
	}
	dn.Close(ctx)
	for _, sql := range []string{
		"CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
		"CREATE TABLE moods (id int, m mood) DISTRIBUTE BY HASH (id)",
		"CREATE TABLE moodk (k int, m mood) DISTRIBUTE BY HASH (k)",
		"INSERT INTO moods SELECT g, (ARRAY['sad', 'ok', 'happy'])[1 + g % 3]::mood FROM generate_series(1, 30) g",
		"INSERT INTO moodk VALUES (1, 'happy'), (2, 'ok'), (3, NULL)",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	for q, want := range map[string]string{
		"SELECT min(m)::text FROM moodk":                                               "ok",
		"SELECT count(*)::text FROM moods WHERE m > (SELECT min(m) FROM moodk)":        "10",
		"SELECT count(*)::text FROM moods WHERE m = (SELECT m FROM moodk WHERE k = 1)": "10",
	} {
		var got string
		if err := conn.QueryRow(ctx, q, pgx.QueryExecModeSimpleProtocol).Scan(&got); err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", q, got, err, want)
		}
	}
}
