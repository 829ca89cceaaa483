package workload

import (
	"context"
	"errors"

	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/cluster"
	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/internal/poll"
)

// TestReloadUnderPgbench reloads the coordinator (xlctl reload: SIGHUP)
// again and again while pgbench runs through it, changing its client
// authentication rules, log level, slow-statement threshold and pool
// sizes: no transaction may fail, and each change is in force after.
func TestReloadUnderPgbench(t *testing.T) {
	pgbench := pgbenchPath(t)
	trust := cluster.HBARule{Type: "host", Database: "all", User: "all", Address: "127.0.0.1/32", Method: "trust"}
	c := clustertest.Start(t, clustertest.Options{Datanodes: 2, Auth: cluster.AuthConfig{Rules: []cluster.HBARule{trust}}})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	env := clustertest.ClientEnv("127.0.0.1", c.CoordPort(0), c.User, "postgres")
	if out, err := runTool(t, 3*time.Minute, env, pgbench, "-i", "-s", "1"); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	conn := connect(t, c.CoordDSN(0, "postgres"))
	mustExec(t, conn, "CREATE ROLE visitor LOGIN")
	visitor := func() error {
		dsn := strings.Replace(c.CoordDSN(0, "postgres"), "user="+c.User, "user=visitor", 1)
		vc, err := pgx.Connect(ctx, dsn)
		if err == nil {
			vc.Close(ctx)
		}
		return err
	}
	if err := visitor(); err != nil {
		t.Fatalf("visitor before the reload: %v", err)
	}

	done := make(chan struct{})
	var out string
	var runErr error
	go func() {
		defer close(done)
		out, runErr = runTool(t, 3*time.Minute, env, pgbench, "-n", "-c", "4", "-j", "1", "-T", "20", "-P", "5")
	}()
	reject := cluster.HBARule{Type: "host", Database: "all", User: "visitor", Address: "127.0.0.1/32", Method: "reject"}
	reloads := 0
	for i := 0; ; i++ {
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			cfg := c.Ctl.Config
			if i%2 == 0 {
				cfg.Auth.Rules = []cluster.HBARule{reject, trust}
				cfg.CoordinatorSettings = map[string]string{"pool_size": "8", "log_level": "debug", "log_min_duration_statement": "0", "pool_wait_timeout": "20s"}
			} else {
				cfg.Auth.Rules = []cluster.HBARule{trust}
				cfg.CoordinatorSettings = map[string]string{"pool_size": "50", "log_level": "info"}
			}
			if err := c.Ctl.Reload(ctx); err != nil {
				t.Fatalf("xlctl reload: %v", err)
			}
			reloads++
			continue
		}
		break
	}
	r := parsePgbench(out)
	t.Logf("pgbench through coord1 with %d reloads: %.0f tps, %d transactions, %d failed", reloads, r.TPS, r.Processed, r.Failed)
	if runErr != nil || r.Failed != 0 || r.Processed <= 0 {
		t.Fatalf("pgbench under reloads: %v, %d processed, %d failed\n%s", runErr, r.Processed, r.Failed, lastLines(errorLines(out), 20))
	}
	if reloads < 5 {
		t.Fatalf("only %d reloads ran during pgbench", reloads)
	}

	// The last state in force: the visitor rule rejects or not.
	cfg := c.Ctl.Config
	cfg.Auth.Rules = []cluster.HBARule{reject, trust}
	cfg.CoordinatorSettings = map[string]string{"log_min_duration_statement": "0", "pool_size": "7", "pool_wait_timeout": "12s"}
	if err := c.Ctl.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	// The pool's limits in force, as the admin console shows them.
	console := connect(t, c.CoordDSN(0, "xlgo"))
	poll.Within(t, 10*time.Second, "the reloaded pool limits in SHOW CONFIG", func() bool {
		rows, err := console.Query(ctx, "SHOW CONFIG", pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return false
		}
		got := map[string]string{}
		for rows.Next() {
			var k, v string
			if rows.Scan(&k, &v) == nil {
				got[k] = v
			}
		}
		return rows.Err() == nil && got["pool_max_per_key"] == "7" && got["pool_wait_timeout"] == "12s"
	})
	// Clients connected before keep their session.
	mustExec(t, conn, "SELECT 1")
	poll.Within(t, 10*time.Second, "the reject rule to be in force", func() bool {
		var pe *pgconn.PgError
		err := visitor()
		return errors.As(err, &pe) && pe.Code == "28000"
	})
	mustExec(t, conn, "SELECT 'a slow one' FROM pg_sleep(0.01)")
	poll.Within(t, 10*time.Second, "the statement in the log with its session", func() bool {
		log := c.LogTail("coord1", 400)
		return strings.Contains(log, "slow statement") && strings.Contains(log, "a slow one") && strings.Contains(log, "session=")
	})
	if log, err := os.ReadFile(c.Ctl.LogPath("coord1")); err != nil || strings.Count(string(log), "configuration reloaded") < reloads {
		t.Errorf("the coordinator's log shows fewer reloads than %d:\n%s", reloads, c.LogTail("coord1", 30))
	}
	cfg.Auth.Rules = []cluster.HBARule{trust}
	if err := c.Ctl.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	poll.Within(t, 10*time.Second, "the visitor to be let in again", func() bool { return visitor() == nil })
}
