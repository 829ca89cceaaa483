package clustertest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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
