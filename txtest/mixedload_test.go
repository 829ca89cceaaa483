package txtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	oexec "os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

// mixedRunTime is how long TestMixedLoad loads the cluster
// ($XLGO_MIXED_DURATION, default 15s).
func mixedRunTime(t *testing.T) time.Duration {
	if s := os.Getenv("XLGO_MIXED_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("XLGO_MIXED_DURATION: %v", err)
		}
		return d
	}
	return 15 * time.Second
}

// clientTool is an external client program (pgbench, psql) of the
// PostgreSQL the datanodes run.
func clientTool(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(clustertest.RequirePostgres(t), name)
	if _, err := oexec.LookPath(p); err == nil {
		return p
	}
	return clustertest.RequireTool(t, name, "Debian package postgresql-client-15")
}

// toolRun is an external client started by a test.
type toolRun struct {
	what  string
	cmd   *oexec.Cmd
	out   bytes.Buffer
	start time.Time
	done  chan struct{}
	err   error
	end   time.Time
}

// startTool starts prog with args and env; done closes when it has exited.
func startTool(t *testing.T, what string, env []string, dir, prog string, args ...string) *toolRun {
	t.Helper()
	r := &toolRun{what: what, done: make(chan struct{})}
	r.cmd = oexec.Command(prog, args...)
	r.cmd.Env = env
	r.cmd.Dir = dir
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	r.start = time.Now()
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	pid := r.cmd.Process.Pid
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			syscall.Kill(pid, syscall.SIGKILL)
			<-r.done
		}
	})
	go func() {
		r.err = r.cmd.Wait()
		r.end = time.Now()
		close(r.done)
	}()
	return r
}

// wait waits until the program exits or the deadline passes; false: it still runs.
func (r *toolRun) wait(d time.Duration) bool {
	select {
	case <-r.done:
		return true
	case <-time.After(d):
		return false
	}
}

var rePgbenchFailed = regexp.MustCompile(`(?m)^number of failed transactions: (\d+)`)
var rePgbenchProcessed = regexp.MustCompile(`(?m)^number of transactions actually processed: (\d+)`)

func pgbenchFigure(re *regexp.Regexp, out string) string {
	if m := re.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return "?"
}

// TestMixedLoad puts two coordinators under the mix of issue 11 at once:
// pgbench TPC-B through coord1; transfers between 20 accounts on both
// datanodes (BEGIN, two UPDATEs, COMMIT) and a select-only run with the
// extended protocol through coord2; and in a loop a multi-node read cancelled
// while it runs, a join of two tables that are not co-located under
// statement_timeout = 50, and a client killed inside a transaction that
// wrote on both datanodes. Every client must finish within seconds of the end
// of the load (no session stuck at the snapshot gate), the transfers must
// keep the bank's total, and no prepared transaction may stay in doubt after
// the resolver's pass.
func TestMixedLoad(t *testing.T) {
	const (
		accounts = 20
		initial  = 1000
		grace    = 10 * time.Second // how long after the load every client must have finished
	)
	duration := mixedRunTime(t)
	pgbench, psql := clientTool(t, "pgbench"), clientTool(t, "psql")
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 2,
		DatanodeSettings: map[string]string{"deadlock_timeout": "1s"}})
	env := []([]string){
		clustertest.ClientEnv("127.0.0.1", c.CoordPort(0), c.User, "postgres"),
		clustertest.ClientEnv("127.0.0.1", c.CoordPort(1), c.User, "postgres"),
	}
	dir := t.TempDir()
	init := startTool(t, "pgbench -i -s 2", env[0], dir, pgbench, "-i", "-s", "2", "-q")
	if !init.wait(3*time.Minute) || init.err != nil {
		t.Fatalf("pgbench -i -s 2: %v\n%s\n%s", init.err, init.out.String(), c.LogTail("coord1", 20))
	}
	admin := connect(t, c.CoordDSN(0, "postgres"), true)
	exec(t, admin,
		"CREATE TABLE bank (id int PRIMARY KEY, balance int NOT NULL) DISTRIBUTE BY HASH (id)",
		fmt.Sprintf("INSERT INTO bank SELECT i, %d FROM generate_series(1, %d) i", initial, accounts))
	if keys := keysByNode(t, admin, "bank"); len(keys["datanode1"]) == 0 || len(keys["datanode2"]) == 0 {
		t.Fatalf("bank by node: %v: want both datanodes", keys)
	}
	script := filepath.Join(dir, "transfer.sql")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(`\set a random(1, %d)
\set b random(1, %d)
\set amount random(1, 100)
BEGIN;
UPDATE bank SET balance = balance - :amount WHERE id = :a;
UPDATE bank SET balance = balance + :amount WHERE id = :b;
COMMIT;
`, accounts, accounts)), 0o644); err != nil {
		t.Fatal(err)
	}

	secs := fmt.Sprint(int(duration.Seconds()))
	loadStart := time.Now()
	benches := []*toolRun{
		startTool(t, "pgbench TPC-B -c 6 (coord1)", env[0], dir, pgbench, "-n", "-c", "6", "-j", "2", "-T", secs),
		startTool(t, "pgbench transfers -c 4 (coord2)", env[1], dir, pgbench, "-n", "-c", "4", "-j", "2", "-T", secs,
			"--max-tries", "1000", "-f", script),
		startTool(t, "pgbench -S -M extended -c 2 (coord2)", env[1], dir, pgbench, "-n", "-S", "-M", "extended", "-c", "2", "-T", secs),
	}

	// The loop of disturbances, each through both coordinators in turn.
	type disturbance struct {
		name   string
		args   []string
		signal syscall.Signal
		after  time.Duration
		// expected: the error messages it may end with (besides none).
		expected []string
	}
	disturbances := []disturbance{
		{"multi-node read cancelled after 0.3s",
			[]string{"-c", "select count(*), pg_sleep(0.5) from pgbench_accounts"}, syscall.SIGINT, 300 * time.Millisecond,
			[]string{"canceling statement due to user request"}},
		{"join under statement_timeout = 50",
			[]string{"-c", "set statement_timeout = 50", "-c",
				"select count(*) from pgbench_accounts join pgbench_branches using (bid)"}, 0, 0,
			[]string{"canceling statement due to statement timeout"}},
		{"client killed inside a transaction on both datanodes",
			[]string{"-c", "begin; update bank set balance = balance where id < 20; select pg_sleep(1)"}, syscall.SIGKILL, 200 * time.Millisecond,
			nil},
	}
	outcomes := make([]map[string]int, len(disturbances))
	for i := range outcomes {
		outcomes[i] = map[string]int{}
	}
	var (
		rounds    atomic.Int64
		slowMu    sync.Mutex
		slow      []string
		loopWG    sync.WaitGroup
		loopStop  = loadStart.Add(duration)
		perClient = 10 * time.Second // no disturbance may take longer
	)
	for i, d := range disturbances {
		loopWG.Add(1)
		go func(i int, d disturbance) {
			defer loopWG.Done()
			for k := 0; time.Now().Before(loopStop); k++ {
				args := append([]string{"-X", "-q", "-v", "ON_ERROR_STOP=1"}, d.args...)
				r := startTool(t, d.name, env[(i+k)%2], dir, psql, args...)
				if d.signal != 0 {
					select {
					case <-r.done:
					case <-time.After(d.after):
						r.cmd.Process.Signal(d.signal)
					}
				}
				if !r.wait(perClient) {
					slowMu.Lock()
					slow = append(slow, fmt.Sprintf("%s through coord%d still runs after %v", d.name, (i+k)%2+1, perClient))
					if len(slow) == 1 {
						// What it waits for (the coordinator ends: the test has failed).
						t.Logf("coord%d goroutines at the gate or the pool:\n%s", (i+k)%2+1, gateStacks(t, c, (i+k)%2))
					}
					slowMu.Unlock()
					r.cmd.Process.Signal(syscall.SIGKILL)
					<-r.done
				}
				rounds.Add(1)
				outcome := "ok"
				if r.err != nil {
					outcome = "unexpected: " + lastLines(r.out.String(), 3)
					switch {
					case d.signal == syscall.SIGKILL:
						outcome = "killed"
					case d.signal == syscall.SIGINT && strings.TrimSpace(r.out.String()) == "":
						// Signalled before its statement was sent (psql still
						// starting on a loaded machine): it ends without a word.
						outcome = "interrupted before its statement"
					}
					for _, e := range d.expected {
						if strings.Contains(r.out.String(), e) {
							outcome = e
						}
					}
				}
				slowMu.Lock()
				outcomes[i][outcome]++
				slowMu.Unlock()
			}
		}(i, d)
	}

	loopWG.Wait()
	var stuck []string
	for _, b := range benches {
		left := time.Until(loadStart.Add(duration + grace))
		if !b.wait(max(left, 0)) {
			stuck = append(stuck, b.what)
		}
	}
	if len(stuck) > 0 {
		t.Errorf("still running %v after the load ended: %v", grace, stuck)
		for i := range c.Config.Coordinators {
			t.Logf("coord%d sessions at the gate:\n%s", i+1, gateStacks(t, c, i))
		}
		for _, b := range benches {
			select {
			case <-b.done:
			default:
				b.cmd.Process.Kill()
				<-b.done
			}
		}
	}
	for _, b := range benches {
		out := b.out.String()
		report(t, "%s: exit %v %v after the load, %s transactions, %s failed", b.what, b.err,
			b.end.Sub(loadStart.Add(duration)).Round(100*time.Millisecond), pgbenchFigure(rePgbenchProcessed, out), pgbenchFigure(rePgbenchFailed, out))
		if b.err != nil {
			t.Errorf("%s: %v\n%s", b.what, b.err, lastLines(out, 15))
		}
	}
	report(t, "%d disturbances over %v; %d slow", rounds.Load(), duration, len(slow))
	for i, d := range disturbances {
		report(t, "%s: %v", d.name, outcomes[i])
		for o, k := range outcomes[i] {
			if strings.HasPrefix(o, "unexpected") {
				t.Errorf("%s: %d times %s", d.name, k, o)
			}
		}
	}
	for _, s := range slow {
		t.Error(s)
	}

	// After the resolver's pass nothing stays prepared.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, closeRes, err := c.Ctl.Resolver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer closeRes()
	res.Grace = 0 // every client has finished: nothing undecided is still on its way
	rep, err := res.RunOnce(ctx)
	if err != nil {
		t.Fatalf("resolver: %v", err)
	}
	report(t, "the resolver's pass: %d actions, %d problems", len(rep.Actions), len(rep.Problems))
	if left := preparedLeft(t, c); left != 0 {
		t.Errorf("%d prepared transactions left after the resolver's pass", left)
	}
	var total int64
	if err := admin.QueryRow(ctx, "SELECT sum(balance) FROM bank").Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != accounts*initial {
		t.Errorf("bank total %d, want %d", total, accounts*initial)
	}
	var abal, tbal, bbal, delta int64
	if err := admin.QueryRow(ctx, `SELECT
		(SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts),
		(SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers),
		(SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches),
		(SELECT coalesce(sum(delta), 0) FROM pgbench_history)`).Scan(&abal, &tbal, &bbal, &delta); err != nil {
		t.Fatal(err)
	}
	if abal != delta || tbal != delta || bbal != delta {
		t.Errorf("pgbench balances disagree with history: accounts %d, tellers %d, branches %d, history %d", abal, tbal, bbal, delta)
	}
	report(t, "bank total %d (want %d); pgbench balances %d/%d/%d, history %d", total, accounts*initial, abal, tbal, bbal, delta)
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}

// gateStacks makes coordinator i print its goroutines (SIGQUIT ends it) and
// returns those that wait at the snapshot gate or for a backend.
func gateStacks(t *testing.T, c *clustertest.Cluster, i int) string {
	pid := c.CoordinatorPid(i)
	if pid == 0 {
		return "(not running)"
	}
	syscall.Kill(pid, syscall.SIGQUIT)
	name := c.Config.Coordinators[i].Name
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && c.CoordinatorPid(i) != 0 {
		time.Sleep(50 * time.Millisecond)
	}
	var out []string
	for _, g := range strings.Split(c.LogTail(name, 100000), "\n\n") {
		if strings.Contains(g, "GateEnter") || strings.Contains(g, "pooler.(*Pool).Get") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}
