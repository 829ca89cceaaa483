package clustertest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster"
)

func TestStart(t *testing.T) {
	c := Start(t, Options{})
	if len(c.Config.Coordinators) != 1 || len(c.Config.Datanodes) != 2 {
		t.Fatalf("default options gave %d coordinators, %d datanodes", len(c.Config.Coordinators), len(c.Config.Datanodes))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	for i := range c.Config.Datanodes {
		conn, err := pgx.Connect(ctx, c.DatanodeDSN(i, "postgres"))
		if err != nil {
			t.Fatalf("datanode %d: %v\n%s", i, err, c.LogTail(c.Config.Datanodes[i].Name, 20))
		}
		conn.Close(ctx)
	}

	cc, err := pgx.ParseConfig(c.CoordDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		t.Fatalf("coord1: %v\n%s", err, c.LogTail("coord1", 20))
	}
	defer conn.Close(ctx)
	var one string
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != "1" {
		t.Fatalf("SELECT 1 on coord1 = %q, %v", one, err)
	}

	st, err := c.Ctl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if !s.Running || s.Pid == 0 {
			t.Errorf("%s (%s) is not running", s.Name, s.Role)
		}
	}
}

func TestRaceReports(t *testing.T) {
	home := t.TempDir()
	cfg := cluster.DefaultConfig()
	c := &Cluster{Home: home, Config: cfg, Ctl: &cluster.Cluster{Home: home, Config: cfg}}
	if err := os.MkdirAll(filepath.Join(home, "log"), 0o755); err != nil {
		t.Fatal(err)
	}
	race := "==================\nWARNING: DATA RACE\nRead at 0x00c by goroutine 7:\n  main.f()\n==================\n"
	os.WriteFile(c.Ctl.LogPath("gtm"), []byte("time=1 level=INFO msg=started\n"), 0o644)
	os.WriteFile(c.Ctl.LogPath("coord2"), []byte("level=INFO msg=a\n"+race+"level=INFO msg=b\n"+race), 0o644)
	got := c.RaceReports()
	if len(got) != 2 {
		t.Fatalf("%d reports, want 2: %q", len(got), got)
	}
	if want := "--- coord2\nWARNING: DATA RACE\nRead at 0x00c by goroutine 7:\n  main.f()"; got[0] != want {
		t.Errorf("report %q, want %q", got[0], want)
	}
}
