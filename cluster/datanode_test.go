package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// requirePostgres fails under CI and skips elsewhere when PostgreSQL is missing.
func requirePostgres(t *testing.T) string {
	t.Helper()
	dir, err := FindPgBin("")
	if err == nil && os.Geteuid() == 0 {
		_, err = user.Lookup("postgres")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI: %v", err)
		}
		t.Skipf("skipping: PostgreSQL is not installed here: %v", err)
	}
	return dir
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestDatanodeLifecycle runs the datanode half of init, start and stop on
// real PostgreSQL: initdb, settings, pg_hba, the client role, status, stop.
func TestDatanodeLifecycle(t *testing.T) {
	pgBin := requirePostgres(t)
	home, err := os.MkdirTemp("", "xlgo-cluster-test-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o755)
	cfg := DefaultConfig()
	cfg.PgBin = pgBin
	cfg.Datanodes = []Node{{Name: "datanode1", Host: "127.0.0.1", Port: freePort(t), Primary: true}}
	c := New(home, cfg)
	e, err := c.resolve()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		if err := c.stopNodes(context.Background(), e, cfg.Datanodes, "immediate"); err != nil {
			t.Errorf("cleanup stop: %v", err)
			return
		}
		os.RemoveAll(home)
	})
	n := cfg.Datanodes[0]
	if err := c.prepareHome(e); err != nil {
		t.Fatal(err)
	}
	if err := c.initDatanode(ctx, e, n); err != nil {
		t.Fatal(err)
	}
	if err := c.startDatanode(ctx, e, n); err != nil {
		t.Fatal(err)
	}
	if e.pgUser != nil && c.ClientUser() != e.pgUser.Name {
		if err := c.createClientRole(ctx, e, n); err != nil {
			t.Fatal(err)
		}
		if err := c.createClientRole(ctx, e, n); err != nil {
			t.Fatalf("second createClientRole: %v", err)
		}
	}
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=postgres sslmode=disable", n.Port, c.ClientUser()))
	if err != nil {
		t.Fatalf("connect as %s: %v", c.ClientUser(), err)
	}
	var mpt, mc, enc, super string
	err = conn.QueryRow(ctx, `SELECT current_setting('max_prepared_transactions'), current_setting('max_connections'),
		current_setting('server_encoding'), (SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user)`).Scan(&mpt, &mc, &enc, &super)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if mpt != "100" || mc != "200" || enc != "UTF8" || super != "true" {
		t.Errorf("max_prepared_transactions=%s max_connections=%s encoding=%s superuser=%s", mpt, mc, enc, super)
	}
	if _, err := os.Stat(filepath.Join(home, "log", "datanode1.log")); err != nil {
		t.Errorf("datanode log: %v", err)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if want := s.Name == "datanode1"; s.Running != want {
			t.Errorf("status %s running=%v, want %v", s.Name, s.Running, want)
		}
	}
	// Start again: left alone.
	if err := c.startDatanode(ctx, e, n); err != nil {
		t.Errorf("second start: %v", err)
	}
	if err := c.stopNodes(ctx, e, cfg.Datanodes, "fast"); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.datanodePid(n); ok {
		t.Error("datanode still running after stop")
	}
}
