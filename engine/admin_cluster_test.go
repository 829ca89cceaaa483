package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/cluster"
	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/internal/poll"
	"github.com/xlgo/xlgo/pgerr"
)

// consoleCluster is a running cluster and how the test reaches its console.
type consoleCluster struct {
	*clustertest.Cluster
	psql string
}

// console runs one console command through psql as user; the rows come
// back as maps from column name to value.
func (c *consoleCluster) console(t *testing.T, user, cmd string) ([]map[string]string, error) {
	t.Helper()
	out, err := c.psqlRun(user, AdminDatabase, cmd)
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" {
		return nil, nil
	}
	cols := strings.Split(lines[0], "|")
	var rows []map[string]string
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "WARNING:") || strings.HasPrefix(l, "NOTICE:") {
			continue
		}
		vals := strings.Split(l, "|")
		row := map[string]string{}
		for i, col := range cols {
			if i < len(vals) {
				row[col] = vals[i]
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// mustConsole is console that fails the test on an error.
func (c *consoleCluster) mustConsole(t *testing.T, cmd string) []map[string]string {
	t.Helper()
	rows, err := c.console(t, c.User, cmd)
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return rows
}

// psqlRun runs psql -c cmd against coord1 as user in database db.
func (c *consoleCluster) psqlRun(user, db, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	port := strconv.Itoa(c.CoordPort(0))
	p := exec.CommandContext(ctx, c.psql, "-X", "-A", "-F", "|", "-P", "footer=off", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", port, "-U", user, "-d", db, "-c", cmd)
	p.Env = clustertest.ClientEnv("127.0.0.1", c.CoordPort(0), user, db)
	out, err := p.CombinedOutput()
	return string(out), err
}

// clientOf is the SHOW CLIENTS row of the client with application_name app.
func (c *consoleCluster) clientOf(t *testing.T, app string) map[string]string {
	t.Helper()
	for _, r := range c.mustConsole(t, "SHOW CLIENTS") {
		if r["application_name"] == app {
			return r
		}
	}
	return nil
}

// connect opens a client of coord1 named app in database db.
func (c *consoleCluster) connect(t *testing.T, db, app string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.CoordDSN(0, db)+" application_name="+app)
	if err != nil {
		t.Fatalf("connect %s to %s: %v", app, db, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func exec1(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestAdminConsole runs the admin console's commands through psql against
// a cluster of two datanodes, and pgxc_stat_activity.
func TestAdminConsole(t *testing.T) {
	cc := &consoleCluster{psql: clustertest.RequireTool(t, "psql", "postgresql-client")}
	trust := cluster.HBARule{Type: "host", Database: "all", User: "all", Address: "127.0.0.1/32", Method: "trust"}
	cc.Cluster = clustertest.Start(t, clustertest.Options{Datanodes: 2, Auth: cluster.AuthConfig{AdminUsers: []string{"ops"}, Rules: []cluster.HBARule{trust}}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	setup := cc.connect(t, "postgres", "adm-setup")
	for _, sql := range []string{
		"CREATE ROLE ops LOGIN", "CREATE ROLE plain LOGIN", "CREATE DATABASE db2",
		"CREATE TABLE t (id int PRIMARY KEY, v int) DISTRIBUTE BY HASH (id)",
		"INSERT INTO t SELECT g, 0 FROM generate_series(1, 20) g",
	} {
		exec1(t, setup, sql)
	}
	a := cc.connect(t, "postgres", "adm-a")

	t.Run("show", func(t *testing.T) {
		// A transaction that touched both datanodes holds a backend on each.
		exec1(t, a, "BEGIN")
		exec1(t, a, "UPDATE t SET v = v + 1")
		ca := cc.clientOf(t, "adm-a")
		if ca == nil {
			t.Fatalf("SHOW CLIENTS does not list adm-a: %v", cc.mustConsole(t, "SHOW CLIENTS"))
		}
		if ca["state"] != "idle in transaction" || ca["datanodes"] != "datanode1,datanode2" || ca["database"] != "postgres" ||
			ca["user"] != cc.User || ca["addr"] != "127.0.0.1" || ca["port"] == "" || ca["connect_time"] == "" || ca["type"] != "C" {
			t.Errorf("SHOW CLIENTS row of adm-a: %v", ca)
		}
		id := ca["id"]
		sessionID, _ := strconv.ParseInt(id, 10, 64)

		pools := map[string]map[string]string{}
		for _, r := range cc.mustConsole(t, "SHOW POOLS") {
			if r["database"] == "postgres" && r["user"] == cc.User {
				pools[r["node"]] = r
			}
		}
		for _, dn := range []string{"datanode1", "datanode2"} {
			if p := pools[dn]; p == nil || p["cl_active"] == "0" || p["sv_active"] == "0" || p["pool_mode"] != "transaction" {
				t.Errorf("SHOW POOLS of %s: %v", dn, p)
			}
		}

		held := map[string]string{}
		idle := 0
		for _, r := range cc.mustConsole(t, "SHOW SERVERS") {
			switch {
			case r["session_id"] == id:
				held[r["node"]] = r["remote_pid"]
				if r["state"] != "active" || r["database"] != "postgres" {
					t.Errorf("SHOW SERVERS row of adm-a: %v", r)
				}
			case r["state"] == "idle":
				idle++
			}
		}
		if len(held) != 2 || held["datanode1"] == "" || held["datanode2"] == "" {
			t.Errorf("SHOW SERVERS: adm-a's backends %v", held)
		}

		// pgxc_stat_activity, from adm-a itself and from another session.
		rows, err := a.Query(ctx, "SELECT node_name, pid, state, coordinator FROM pgxc_stat_activity WHERE session_id = $1 ORDER BY node_name", sessionID)
		if err != nil {
			t.Fatal(err)
		}
		type act struct {
			node, state, coord string
			pid                int32
		}
		acts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (act, error) {
			var x act
			err := r.Scan(&x.node, &x.pid, &x.state, &x.coord)
			return x, err
		})
		if err != nil {
			out, _ := cc.psqlRun(cc.User, "postgres", "SELECT * FROM pgxc_stat_activity")
			t.Fatalf("%v\n%s", err, out)
		}
		if len(acts) != 2 || acts[0].node != "datanode1" || acts[1].node != "datanode2" || acts[0].coord != "coord1" ||
			strconv.Itoa(int(acts[0].pid)) != held["datanode1"] || strconv.Itoa(int(acts[1].pid)) != held["datanode2"] {
			t.Errorf("pgxc_stat_activity of session %s from itself: %+v (SHOW SERVERS: %v)", id, acts, held)
		}
		var n int
		var sid int64
		if err := setup.QueryRow(ctx, `SELECT count(*), min(session_id) FROM pgxc_stat_activity
			WHERE session_id IS NOT NULL AND state = 'idle in transaction' AND usename = current_user`).Scan(&n, &sid); err != nil {
			t.Fatal(err)
		}
		if n != 2 || strconv.FormatInt(sid, 10) != id {
			t.Errorf("pgxc_stat_activity from another session: %d backends idle in transaction, session %d; want 2 of %s", n, sid, id)
		}
		var cols []string
		if err := setup.QueryRow(ctx, "SELECT array_agg(DISTINCT node_name ORDER BY node_name)::text[] FROM pgxc_stat_activity WHERE backend_type = 'client backend'").Scan(&cols); err != nil {
			t.Fatal(err)
		}
		if strings.Join(cols, ",") != "datanode1,datanode2" {
			t.Errorf("pgxc_stat_activity's nodes: %v", cols)
		}
		exec1(t, a, "COMMIT")

		nodes := map[string]map[string]string{}
		for _, r := range cc.mustConsole(t, "SHOW NODES") {
			nodes[r["node_name"]] = r
		}
		for _, dn := range []string{"datanode1", "datanode2"} {
			if r := nodes[dn]; r == nil || r["node_type"] != "D" || r["answers"] != "t" || r["sv_open"] == "0" {
				t.Errorf("SHOW NODES row of %s: %v", dn, r)
			}
		}
		if r := nodes["coord1"]; r == nil || r["node_type"] != "C" || r["answers"] != "t" {
			t.Errorf("SHOW NODES row of coord1: %v", r)
		}
		if nodes["datanode1"]["nodeis_primary"] != "t" || nodes["datanode2"]["nodeis_primary"] != "f" {
			t.Errorf("SHOW NODES primary: %v", nodes)
		}

		versions := map[string]string{}
		for _, r := range cc.mustConsole(t, "show version;") {
			versions[r["node_name"]] = r["version"]
		}
		if versions["coord1"] != "xlgo "+Version || !strings.HasPrefix(versions["datanode1"], "15") || !strings.HasPrefix(versions["datanode2"], "15") {
			t.Errorf("SHOW VERSION: %v", versions)
		}

		var stats map[string]string
		for _, r := range cc.mustConsole(t, "SHOW STATS") {
			if r["database"] == "postgres" {
				stats = r
			}
		}
		num := func(k string) int64 { n, _ := strconv.ParseInt(stats[k], 10, 64); return n }
		if stats == nil || num("total_xact_count") < 3 || num("total_query_count") < 5 || num("total_received") == 0 ||
			num("total_sent") == 0 || num("total_query_time") == 0 || num("total_xact_time") < num("total_query_time")/2 {
			t.Errorf("SHOW STATS of postgres: %v", stats)
		}

		config := map[string]string{}
		for _, r := range cc.mustConsole(t, "SHOW CONFIG") {
			config[r["key"]] = r["value"]
		}
		if config["name"] != "coord1" || config["admin_users"] != "ops" || config["port"] != strconv.Itoa(cc.CoordPort(0)) ||
			config["pool_max_per_key"] == "" {
			t.Errorf("SHOW CONFIG: %v", config)
		}

		if testing.Verbose() {
			for _, cmd := range []string{"SHOW POOLS", "SHOW CLIENTS", "SHOW SERVERS", "SHOW STATS", "SHOW NODES", "SHOW VERSION"} {
				out, _ := cc.psqlRun(cc.User, AdminDatabase, cmd)
				t.Logf("%s:\n%s", cmd, out)
			}
		}
		if out, err := cc.psqlRun(cc.User, AdminDatabase, "SHOW FOO"); err == nil || !strings.Contains(out, "unsupported SHOW command") {
			t.Errorf("SHOW FOO: %v %s", err, out)
		}
		if out, err := cc.psqlRun(cc.User, AdminDatabase, "SELECT 1"); err == nil || !strings.Contains(out, "invalid command") {
			t.Errorf("SELECT 1: %v %s", err, out)
		}
	})

	t.Run("access", func(t *testing.T) {
		out, err := cc.psqlRun("plain", AdminDatabase, "SHOW VERSION")
		if err == nil || !strings.Contains(out, "permission denied for the admin console") {
			t.Errorf("plain got in: %v %s", err, out)
		}
		if rows, err := cc.console(t, "ops", "SHOW VERSION"); err != nil || len(rows) != 3 {
			t.Errorf("ops (in --admin-users): %v %v", err, rows)
		}
		// plain may use databases, just not the console.
		if out, err := cc.psqlRun("plain", "postgres", "SELECT 1"); err != nil {
			t.Errorf("plain in postgres: %v %s", err, out)
		}
		// A driver's extended protocol gets 0A000; its simple protocol works.
		conn, err := pgx.Connect(ctx, cc.CoordDSN(0, AdminDatabase))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		res := conn.PgConn().ExecParams(ctx, "SHOW POOLS", nil, nil, nil, nil).Read()
		if err := res.Err; !pgerr.Is(err, pgerr.FeatureNotSupported) {
			t.Errorf("extended protocol: %v", err)
		}
		if _, err := conn.Exec(ctx, "SHOW POOLS", pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Errorf("simple protocol after the refusal: %v", err)
		}
	})

	t.Run("pause", func(t *testing.T) {
		b := cc.connect(t, "postgres", "adm-b")
		c2 := cc.connect(t, "db2", "adm-c")
		exec1(t, c2, "CREATE TABLE u (id int)")

		// PAUSE waits for the transaction running when it came.
		exec1(t, a, "BEGIN")
		exec1(t, a, "SELECT count(*) FROM t")
		paused := make(chan error, 1)
		go func() {
			_, err := cc.console(t, cc.User, "PAUSE")
			paused <- err
		}()
		poll.Until(t, "the pause", func() bool {
			for _, r := range cc.mustConsole(t, "SHOW CONFIG") {
				if r["key"] == "paused" {
					return r["value"] == "*"
				}
			}
			return false
		})
		// A new transaction of another client waits.
		done := make(chan error, 1)
		go func() {
			_, err := b.Exec(context.Background(), "SELECT count(*) FROM t")
			done <- err
		}()
		poll.Until(t, "adm-b waiting", func() bool { r := cc.clientOf(t, "adm-b"); return r != nil && r["state"] == "waiting" })
		select {
		case err := <-paused:
			t.Fatalf("PAUSE returned while adm-a's transaction ran: %v", err)
		case err := <-done:
			t.Fatalf("adm-b's statement ran while paused: %v", err)
		default:
		}
		// The running transaction goes on and ends; then PAUSE returns.
		exec1(t, a, "UPDATE t SET v = v + 1 WHERE id = 1")
		exec1(t, a, "COMMIT")
		select {
		case err := <-paused:
			if err != nil {
				t.Fatalf("PAUSE: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("PAUSE did not return once the running transaction ended")
		}
		select {
		case err := <-done:
			t.Fatalf("adm-b's statement ran while paused: %v", err)
		default:
		}
		resumed := time.Now()
		cc.mustConsole(t, "RESUME")
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("adm-b's statement after RESUME: %v", err)
			}
			t.Logf("adm-b's statement finished %s after RESUME", time.Since(resumed))
			if d := time.Since(resumed); d > 5*time.Second {
				t.Errorf("adm-b's statement took %s after RESUME", d)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("adm-b's statement did not finish after RESUME")
		}

		// PAUSE db2 holds db2 only.
		cc.mustConsole(t, "PAUSE db2")
		exec1(t, b, "SELECT count(*) FROM t")
		go func() {
			_, err := c2.Exec(context.Background(), "INSERT INTO u VALUES (1)")
			done <- err
		}()
		poll.Until(t, "adm-c waiting", func() bool { r := cc.clientOf(t, "adm-c"); return r != nil && r["state"] == "waiting" })
		exec1(t, b, "UPDATE t SET v = v + 1 WHERE id = 2")
		// A client that goes away while it waits leaves nothing behind.
		cmd := exec.Command(cc.psql, "-X", "-h", "127.0.0.1", "-p", strconv.Itoa(cc.CoordPort(0)), "-U", cc.User, "-d", "db2", "-c", "SELECT 1")
		cmd.Env = append(clustertest.ClientEnv("127.0.0.1", cc.CoordPort(0), cc.User, "db2"), "PGAPPNAME=adm-gone")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		poll.Until(t, "adm-gone waiting", func() bool { r := cc.clientOf(t, "adm-gone"); return r != nil && r["state"] == "waiting" })
		cmd.Process.Kill()
		cmd.Wait()
		poll.Until(t, "adm-gone gone", func() bool { return cc.clientOf(t, "adm-gone") == nil })
		select {
		case err := <-done:
			t.Fatalf("adm-c's statement ran while db2 was paused: %v", err)
		default:
		}
		cc.mustConsole(t, "RESUME db2")
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("adm-c's statement after RESUME db2: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("adm-c's statement did not finish after RESUME db2")
		}

		// A wait is bounded by the client's statement_timeout.
		exec1(t, c2, "SET statement_timeout = '300ms'")
		exec1(t, c2, "SELECT 1")
		cc.mustConsole(t, "PAUSE db2")
		_, err := c2.Exec(ctx, "SELECT count(*) FROM u")
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != pgerr.QueryCanceled || pe.Message != "query_wait_timeout" {
			t.Errorf("a wait past statement_timeout: %v", err)
		}
		cc.mustConsole(t, "RESUME")
		exec1(t, c2, "SELECT count(*) FROM u")
	})

	t.Run("reload", func(t *testing.T) {
		// RELOAD reads the changed hba file: plain is rejected, then let in again.
		hba := filepath.Join(cc.Ctl.DataDir("coord1"), cluster.CoordinatorHBAFile)
		write := func(rules ...cluster.HBARule) {
			a := cluster.AuthConfig{Rules: rules}
			if err := os.WriteFile(hba, []byte(a.HBAText()), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		write(cluster.HBARule{Type: "host", Database: "all", User: "plain", Address: "127.0.0.1/32", Method: "reject"}, trust)
		cc.mustConsole(t, "RELOAD")
		if out, err := cc.psqlRun("plain", "postgres", "SELECT 1"); err == nil || !strings.Contains(out, "rejects connection") {
			t.Errorf("plain after RELOAD of a rule that rejects it: %v %s", err, out)
		}
		exec1(t, a, "SELECT 1") // connected clients keep their sessions
		write(trust)
		cc.mustConsole(t, "RELOAD")
		if out, err := cc.psqlRun("plain", "postgres", "SELECT 1"); err != nil {
			t.Errorf("plain after RELOAD of the trust rule: %v %s", err, out)
		}
	})

	t.Run("kill client", func(t *testing.T) {
		e := cc.connect(t, "postgres", "adm-e")
		other := cc.connect(t, "postgres", "adm-other")
		exec1(t, e, "BEGIN")
		exec1(t, e, "UPDATE t SET v = 100 WHERE id IN (3, 4, 5, 6)")
		ce := cc.clientOf(t, "adm-e")
		if ce == nil {
			t.Fatal("SHOW CLIENTS does not list adm-e")
		}
		cc.mustConsole(t, "KILL_CLIENT "+ce["id"])
		if r := cc.clientOf(t, "adm-e"); r != nil {
			t.Errorf("adm-e still listed after KILL_CLIENT: %v", r)
		}
		_, err := e.Exec(ctx, "SELECT 1")
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != pgerr.AdminShutdown || pe.Severity != "FATAL" {
			t.Errorf("adm-e after KILL_CLIENT: %v", err)
		}
		// Its transaction rolled back: its row locks are gone, its update undone.
		lctx, lcancel := context.WithTimeout(ctx, 20*time.Second)
		defer lcancel()
		if _, err := other.Exec(lctx, "UPDATE t SET v = v WHERE id IN (3, 4, 5, 6)"); err != nil {
			t.Fatalf("the killed client's rows: %v", err)
		}
		var sum int
		if err := other.QueryRow(lctx, "SELECT count(*) FROM t WHERE v = 100").Scan(&sum); err != nil || sum != 0 {
			t.Errorf("rows updated by the killed client: %d %v", sum, err)
		}
		exec1(t, a, "SELECT count(*) FROM t")
		if _, err := cc.console(t, cc.User, "KILL_CLIENT "+ce["id"]); err == nil || !strings.Contains(err.Error(), "no client with id") {
			t.Errorf("KILL_CLIENT of a client gone: %v", err)
		}
	})
}
