package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster"
	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/gtmclient"
)

// waitGTMStandby polls the gtm at addr until it is a standby streaming from its primary.
func waitGTMStandby(t *testing.T, ctx context.Context, addr string) {
	t.Helper()
	g, err := gtmclient.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ni, err := g.NodeInfo(ctx)
		if err == nil && ni.Standby && ni.PeerConnected {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gtm %s is not a streaming standby: %+v, %v", addr, ni, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The guide's GTM slave: kill -9 the gtm, `xlctl failover gtm`, and the
// coordinators commit multi-node transactions through the promoted standby
// by themselves; nothing committed before is lost; `xlctl start` brings the
// old gtm back as the new one's standby.
func TestFailoverGTM(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 2, GTMStandby: true})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	args := func(a ...string) []string { return append(a, "--home", c.Home, "--bin", c.Ctl.BinDir) }
	oldGTM, standby := c.Config.GTM, c.Config.GTMStandby

	out, err := run(t, args("status")...)
	if err != nil || !strings.Contains(out, "gtm_standby") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	waitGTMStandby(t, ctx, standby.Addr())
	// Its lag, from the gtm's metrics.
	if out, err := run(t, args("status")...); err != nil || !strings.Contains(out, "GTM standby gtm_standby: connected, ") {
		t.Errorf("status with a gtm standby: %v\n%s", err, out)
	}

	conns := make([]*pgx.Conn, 2)
	for i := range conns {
		conn, err := pgx.Connect(ctx, c.CoordDSN(i, "postgres"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		conns[i] = conn
	}
	exec := func(i int, sql string) error {
		_, err := conns[i].Exec(ctx, sql)
		return err
	}
	if err := exec(0, "CREATE TABLE ft (id int PRIMARY KEY, v int) DISTRIBUTE BY HASH (id)"); err != nil {
		t.Fatal(err)
	}
	// Multi-node writes: two-phase commit with the decision at the gtm.
	if err := exec(0, "INSERT INTO ft SELECT g, 0 FROM generate_series(1, 100) g"); err != nil {
		t.Fatal(err)
	}
	if err := exec(1, "INSERT INTO ft SELECT g, 1 FROM generate_series(101, 200) g"); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(c.Ctl.PidPath(oldGTM.Name))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	out, err = run(t, args("failover", "gtm")...)
	if err != nil {
		t.Fatalf("failover gtm: %v\n%s", err, out)
	}
	if !strings.Contains(out, "is the primary now") {
		t.Errorf("failover output:\n%s", out)
	}
	t.Logf("xlctl failover gtm:\n%s", out)

	// Both coordinators find the promoted gtm by themselves.
	for i := range conns {
		deadline := time.Now().Add(60 * time.Second)
		for {
			err := exec(i, "INSERT INTO ft SELECT g, 2 FROM generate_series("+strconv.Itoa(1000*(i+1))+", "+strconv.Itoa(1000*(i+1)+99)+") g")
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("coordinator %d after failover: %v\n%s", i, err, c.LogTail(c.Config.Coordinators[i].Name, 20))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var n int
	if err := conns[1].QueryRow(ctx, "SELECT count(*) FROM ft").Scan(&n); err != nil || n != 400 {
		t.Fatalf("rows after failover: %d, %v; want 400", n, err)
	}

	cfg, err := cluster.LoadConfig(filepath.Join(c.Home, cluster.ConfigFileName))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GTM != standby || cfg.GTMStandby != oldGTM {
		t.Fatalf("config after failover: gtm %+v, gtm_standby %+v", cfg.GTM, cfg.GTMStandby)
	}

	// The old gtm comes back as the standby of the new one, never as a primary.
	out, err = run(t, args("start")...)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	waitGTMStandby(t, ctx, oldGTM.Addr())
	out, err = run(t, args("status")...)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "gtm ") || strings.HasPrefix(line, "gtm_standby ") {
			if !strings.Contains(line, "running") {
				t.Errorf("status after start: %q\n%s", line, out)
			}
		}
	}
	if err := exec(0, "INSERT INTO ft SELECT g, 3 FROM generate_series(5000, 5099) g"); err != nil {
		t.Fatalf("write with the new standby attached: %v", err)
	}
}
