package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/gtmclient"
)

func TestStatusAndResolveInDoubt(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	// The coordinator's resolver acts only at its start: the test owns the in-doubt transactions.
	c.RestartCoordinator(t, 0, nil, "--resolve-interval", "0")
	ctx := context.Background()
	prepare := func(i int, gid string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, c.DatanodeDSN(i, "postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		for _, sql := range []string{"BEGIN", "SELECT 1", "PREPARE TRANSACTION '" + gid + "'"} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
	}
	g, err := gtmclient.Dial(ctx, c.Config.GTM.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	prepare(0, "xlgo_xlgo_700001")
	prepare(1, "xlgo_xlgo_700001")
	if err := g.LogDecision(ctx, "xlgo_xlgo_700001", []string{"datanode1", "datanode2"}, true); err != nil {
		t.Fatal(err)
	}
	prepare(1, "xlgo_xlgo_700002")

	args := func(a ...string) []string { return append(a, "--home", c.Home, "--bin", c.Ctl.BinDir) }
	out, err := run(t, args("status")...)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, want := range []string{"IN-DOUBT GID", "xlgo_xlgo_700001  datanode1  postgres", "committed", "xlgo_xlgo_700002  datanode2  postgres",
		"HOST       RUNNING  NODES", "127.0.0.1  4/4      gtm (gtm), coord1 (coordinator), datanode1 (datanode), datanode2 (datanode)",
		"COORDINATOR  CLIENTS  DATANODE1 A/I/W  DATANODE2 A/I/W"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}

	out, err = run(t, args("resolve", "--gid", "xlgo_xlgo_700001", "--abort")...)
	if err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("resolve --abort of a committed gid: %v\n%s", err, out)
	}
	out, err = run(t, args("resolve")...)
	if err != nil {
		t.Fatalf("resolve: %v\n%s", err, out)
	}
	for _, want := range []string{"xlgo_xlgo_700001", "xlgo_xlgo_700002", "rolled back (abort decision logged)", "forgotten at the gtm"} {
		if !strings.Contains(out, want) {
			t.Errorf("resolve output lacks %q:\n%s", want, out)
		}
	}
	t.Logf("xlctl resolve:\n%s", out)

	out, err = run(t, args("status")...)
	if err != nil || !strings.Contains(out, "No in-doubt transactions.") {
		t.Errorf("status after resolve: %v\n%s", err, out)
	}
}
