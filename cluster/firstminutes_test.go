package cluster_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
		// As root (CI), with nothing but the port: the sockets are where
		// psql looks. Elsewhere the socket may be in /tmp (see
		// TestFirstMinutesAsNewUser for a user in the postgres group).
		args := []string{"-p", strconv.Itoa(c.CoordPort(i)), "-Atc", "select current_user || ' ' || current_database()"}
		if os.Geteuid() != 0 {
			args = append([]string{"-h", "127.0.0.1"}, args...)
		}
		cmd := exec.Command(psql, args...)
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

// TestFirstMinutesAsNewUser is a new user's first minutes on a machine
// set up by root: an OS user made for the test (in the postgres group, as
// scripts/setup.sh puts its user, so that sockets go where psql looks)
// runs xlctl init in a home of its own; then psql with nothing but the port
// reaches both coordinators as that user, in that user's database. As root,
// TestFirstMinutes does the same for root.
func TestFirstMinutesAsNewUser(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; this test makes an OS user")
		}
		t.Skip("skipping: making an OS user needs root")
	}
	pgBin := clustertest.RequirePostgres(t)
	psql := clustertest.RequireTool(t, "psql", "Debian package postgresql-client-15")
	bin := clustertest.Binaries(t)
	name := fmt.Sprintf("xlgofm%d", os.Getpid()%100000)
	home, err := os.MkdirTemp("", "xlgo-newuser-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o755)
	if out, err := exec.Command("useradd", "--home-dir", home, "--no-create-home", "--groups", "postgres", "--shell", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	pg, err := user.LookupGroup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	pgGid, _ := strconv.Atoi(pg.Gid)
	if err := os.Chown(home, uid, gid); err != nil {
		t.Fatal(err)
	}
	as := func(timeout time.Duration, prog string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, prog, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(pgGid)}}}
		cmd.Env = []string{"HOME=" + home, "USER=" + name, "LOGNAME=" + name, "PATH=/usr/local/bin:/usr/bin:/bin"}
		cmd.Dir = home
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	xlctl := filepath.Join(bin, "xlctl")
	cfgPath := filepath.Join(home, "xlgo.yaml")
	t.Cleanup(func() {
		as(2*time.Minute, xlctl, "--home", filepath.Join(home, "xlgo"), "stop", "-m", "immediate")
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
		}
		os.RemoveAll(home)
	})

	ports, err := cluster.FreePorts(8)
	if err != nil {
		t.Fatal(err)
	}
	cfg := cluster.DefaultConfig()
	cfg.PgBin = pgBin
	cfg.GTM.Port, cfg.GTM.MetricsPort = ports[0], ports[5]
	cfg.Coordinators[0].Port, cfg.Coordinators[0].MetricsPort = ports[1], ports[6]
	cfg.Coordinators[1].Port, cfg.Coordinators[1].MetricsPort = ports[2], ports[7]
	cfg.Datanodes[0].Port, cfg.Datanodes[1].Port = ports[3], ports[4]
	if err := os.WriteFile(cfgPath, cfg.YAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := as(5*time.Minute, xlctl, "--home", filepath.Join(home, "xlgo"), "--config", cfgPath, "init"); err != nil {
		t.Fatalf("xlctl init as %s: %v\n%s", name, err, out)
	}
	for _, port := range ports[1:3] {
		out, err := as(time.Minute, psql, "-p", strconv.Itoa(port), "-Atc", "select current_user || ' ' || current_database()")
		if want := name + " " + name; err != nil || strings.TrimSpace(out) != want {
			t.Fatalf("psql -p %d as %s: %v: %q; want %q", port, name, err, out, want)
		}
	}
}
