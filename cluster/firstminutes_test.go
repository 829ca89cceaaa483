package cluster_test

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster"
	"github.com/xlgo/xlgo/cluster/clustertest"
)

// A new user's first minutes: after xlctl init, psql with nothing but the
// port reaches every coordinator as the user who ran init, in a database of
// that user's name; sessions that run their first CREATE TABLE in a fresh
// database all at once all succeed.
func TestFirstMinutes(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 2, ClientDatabase: true})
	psql := clustertest.RequireTool(t, "psql", "Debian package postgresql-client-15")
	for i := range c.Config.Coordinators {
		cmd := exec.Command(psql, "-h", "127.0.0.1", "-p", strconv.Itoa(c.CoordPort(i)), "-Atc", "select current_user || ' ' || current_database()")
		cmd.Env = cluster.CleanEnv()
		out, err := cmd.CombinedOutput()
		if want := c.User + " " + c.User; err != nil || strings.TrimSpace(string(out)) != want {
			t.Fatalf("psql -p %d: %v: %q; want %q", c.CoordPort(i), err, out, want)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, c.CoordDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "CREATE DATABASE firstddl"); err != nil {
		t.Fatal(err)
	}
	const sessions = 8
	conns := make([]*pgx.Conn, sessions)
	for i := range conns {
		if conns[i], err = pgx.Connect(ctx, c.CoordDSN(i%2, "firstddl")); err != nil {
			t.Fatal(err)
		}
		defer conns[i].Close(context.Background())
	}
	errs := make([]error, sessions)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = conn.Exec(ctx, fmt.Sprintf("CREATE TABLE sbtest%d (id int PRIMARY KEY, k int, c text)", i))
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("session %d's first CREATE TABLE in a fresh database: %v", i, err)
		}
	}
}
