package txtest

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

var bankDuration = flag.Duration("bank.duration", 0,
	"how long the bank invariant test transfers (default $XLGO_BANK_DURATION, else 60s)")

func bankRunTime(t *testing.T) time.Duration {
	if *bankDuration > 0 {
		return *bankDuration
	}
	if s := os.Getenv("XLGO_BANK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("XLGO_BANK_DURATION: %v", err)
		}
		return d
	}
	return 60 * time.Second
}

// TestBankInvariant: 8 clients move money between 20 accounts on both
// datanodes in explicit transactions through both coordinators, while 2
// auditors read the total and the per-node sums in READ COMMITTED and
// REPEATABLE READ. Every read must see the exact total.
func TestBankInvariant(t *testing.T) {
	const (
		accounts  = 20
		initial   = 1000
		total     = accounts * initial
		transfers = 8
		auditors  = 2
	)
	duration := bankRunTime(t)
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 2,
		DatanodeSettings: map[string]string{"deadlock_timeout": "1s"}})
	admin := connect(t, c.CoordDSN(0, "postgres"), true)
	exec(t, admin,
		"CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL) DISTRIBUTE BY HASH (id)",
		fmt.Sprintf("INSERT INTO accounts SELECT i, %d FROM generate_series(1, %d) i", initial, accounts))
	keys := keysByNode(t, admin, "accounts")
	if len(keys["datanode1"]) == 0 || len(keys["datanode2"]) == 0 {
		t.Fatalf("accounts by node: %v: want both datanodes", keys)
	}

	var (
		committed, deadlocks, serialization, otherErrs, stuck atomic.Int64
		cancelled                                             atomic.Int64
		crossNode                                             atomic.Int64
		audits, violations, auditErrs                         atomic.Int64
		mu                                                    sync.Mutex
		notes                                                 []string
	)
	note := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(notes) < 20 {
			notes = append(notes, fmt.Sprintf(format, args...))
		}
	}
	nodeOf := map[int]string{}
	for n, ids := range keys {
		for _, id := range ids {
			nodeOf[id] = n
		}
	}

	stop := time.Now().Add(duration)
	var wg sync.WaitGroup
	for w := 0; w < transfers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			dsn := c.CoordDSN(w%2, "postgres")
			simple := w%4 < 2 // half the clients with the simple protocol, half with the extended
			conn, err := tryConnect(dsn, simple, 30*time.Second)
			if err != nil {
				note("transfer client %d: %v", w, err)
				otherErrs.Add(1)
				return
			}
			defer func() { conn.Close(context.Background()) }()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for time.Now().Before(stop) {
				a := rng.IntN(accounts) + 1
				b := rng.IntN(accounts-1) + 1
				if b >= a {
					b++
				}
				amount := rng.IntN(100) + 1
				// Retry the same transfer until it commits.
				for time.Now().Before(stop) {
					err := transfer(conn, a, b, amount)
					if err == nil {
						committed.Add(1)
						if nodeOf[a] != nodeOf[b] {
							crossNode.Add(1)
						}
						break
					}
					switch code := sqlState(err); code {
					case "40P01":
						deadlocks.Add(1)
					case "40001":
						serialization.Add(1)
					case "57014":
						// A deadlock victim should get 40P01; counted apart.
						cancelled.Add(1)
						note("transfer %d -> %d (%s protocol): %v", a, b, map[bool]string{true: "simple", false: "extended"}[simple], err)
					case "":
						if errorsIsTimeout(err) {
							stuck.Add(1)
							note("transfer %d -> %d stuck for 30s: %v", a, b, err)
						} else {
							otherErrs.Add(1)
							note("transfer %d -> %d: %v", a, b, err)
						}
					default:
						otherErrs.Add(1)
						note("transfer %d -> %d: %v", a, b, err)
					}
					if conn.IsClosed() {
						conn.Close(context.Background())
						if conn, err = tryConnect(dsn, simple, 30*time.Second); err != nil {
							note("transfer client %d: reconnect: %v", w, err)
							return
						}
					}
				}
			}
		}(w)
	}
	for r := 0; r < auditors; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			conn, err := tryConnect(c.CoordDSN(r%2, "postgres"), r%2 == 1, 30*time.Second)
			if err != nil {
				note("auditor %d: %v", r, err)
				auditErrs.Add(1)
				return
			}
			defer conn.Close(context.Background())
			for i := 0; time.Now().Before(stop); i++ {
				level := []string{"READ COMMITTED", "REPEATABLE READ"}[i%2]
				sums, err := audit(conn, level)
				if err != nil {
					auditErrs.Add(1)
					note("audit %s: %v", level, err)
					if conn.IsClosed() {
						return
					}
					continue
				}
				for _, s := range sums {
					audits.Add(1)
					if s.total != total {
						violations.Add(1)
						note("%s: %s saw %d, want %d", level, s.what, s.total, total)
					}
				}
			}
		}(r)
	}
	wg.Wait()

	var final int64
	if err := admin.QueryRow(context.Background(), "SELECT sum(balance) FROM accounts").Scan(&final); err != nil {
		t.Fatal(err)
	}
	direct := int64(0)
	for i := range c.Config.Datanodes {
		conn := connect(t, c.DatanodeDSN(i, "postgres"), true)
		var s int64
		if err := conn.QueryRow(context.Background(), "SELECT coalesce(sum(balance), 0) FROM accounts").Scan(&s); err != nil {
			t.Fatal(err)
		}
		conn.Close(context.Background())
		direct += s
	}
	prepared := preparedLeft(t, c)
	detections := fmt.Sprintf("coord1 %d, coord2 %d", len(logLines(c, "coord1", "distributed deadlock detected")),
		len(logLines(c, "coord2", "distributed deadlock detected")))
	for _, n := range notes {
		t.Log(n)
	}
	report(t, "%d transfers, %d audits, %d violations", committed.Load(), audits.Load(), violations.Load())
	report(t, "over %v: %d transfers across datanodes; retried: %d deadlocks (40P01), %d serialization failures (40001), %d cancelled (57014), %d other errors; %d stuck; %d audit errors; "+
		"distributed deadlocks broken by the detectors: %s; final total %d through the coordinator, %d on the datanodes (initial %d); %d prepared transactions left",
		duration, crossNode.Load(), deadlocks.Load(), serialization.Load(), cancelled.Load(), otherErrs.Load(), stuck.Load(), auditErrs.Load(),
		detections, final, direct, total, prepared)
	if violations.Load() != 0 || final != total || direct != total || prepared != 0 {
		t.Errorf("the invariant broke: %d violations, final total %d, on the datanodes %d, want %d; %d prepared left",
			violations.Load(), final, direct, total, prepared)
	}
	if stuck.Load() != 0 || otherErrs.Load() != 0 || auditErrs.Load() != 0 {
		t.Errorf("%d transfers stuck 30s, %d other transfer errors, %d audit errors", stuck.Load(), otherErrs.Load(), auditErrs.Load())
	}
	if cancelled.Load() != 0 {
		t.Errorf("%d transfers failed with 57014 (canceling statement due to user request): a deadlock victim must get 40P01", cancelled.Load())
	}
	if committed.Load() == 0 || audits.Load() == 0 {
		t.Errorf("no work done: %d transfers, %d audits", committed.Load(), audits.Load())
	}
}

// transfer moves amount from account a to account b in one transaction, and
// rolls back when a statement fails.
func transfer(conn *pgx.Conn, a, b, amount int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "UPDATE accounts SET balance = balance - $1 WHERE id = $2", amount, a); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "UPDATE accounts SET balance = balance + $1 WHERE id = $2", amount, b); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

type auditSum struct {
	what  string
	total int64
}

// audit reads the total and the per-node sums in one transaction of level.
func audit(conn *pgx.Conn, level string) ([]auditSum, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "SET TRANSACTION ISOLATION LEVEL "+level); err != nil {
		return nil, err
	}
	var out []auditSum
	var sum int64
	if err := tx.QueryRow(ctx, "SELECT sum(balance) FROM accounts").Scan(&sum); err != nil {
		return nil, err
	}
	out = append(out, auditSum{"sum(balance)", sum})
	rows, err := tx.Query(ctx, "SELECT xc_node_id, sum(balance) FROM accounts GROUP BY 1")
	if err != nil {
		return nil, err
	}
	var perNode, nodes int64
	for rows.Next() {
		var id int32
		var s int64
		if err := rows.Scan(&id, &s); err != nil {
			return nil, err
		}
		perNode += s
		nodes++
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("the per-node sums (%d nodes)", nodes)
	if nodes != 2 {
		perNode = -1 // a node missing is a violation too
	}
	out = append(out, auditSum{what, perNode})
	return out, tx.Commit(ctx)
}

func errorsIsTimeout(err error) bool {
	return err != nil && (os.IsTimeout(err) || context.DeadlineExceeded.Error() == err.Error() ||
		containsAny(err.Error(), "deadline exceeded", "timeout"))
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		for i := 0; i+len(sub) <= len(s); i++ {
			if s[i:i+len(sub)] == sub {
				return true
			}
		}
	}
	return false
}
