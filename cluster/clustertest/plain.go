package clustertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xlgo/xlgo/cluster"
)

// Plain is one stand-alone PostgreSQL server (no coordinator, no GTM), made
// like a datanode (initdb -E UTF8 with the datanodes' locale), for tests that
// compare the cluster's answers with PostgreSQL's own.
type Plain struct {
	Dir  string // data directory
	Port int
	User string // superuser role the DSN connects as
}

// DSN is a libpq/pgx connection string for database db.
func (p *Plain) DSN(db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=%s sslmode=disable", p.Port, p.User, db)
}

// LogTail returns the last lines of the server's log.
func (p *Plain) LogTail(n int) string {
	data, _ := os.ReadFile(filepath.Join(p.Dir, "server.log"))
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// StartPlain initdbs and starts a plain PostgreSQL on a free loopback port in
// a temporary directory (as the cluster's OS user when running as root) and
// registers t.Cleanup to stop and remove it.
func StartPlain(t testing.TB) *Plain {
	t.Helper()
	pgBin := RequirePostgres(t)
	var attr *syscall.SysProcAttr
	if os.Geteuid() == 0 {
		u, err := user.Lookup(cluster.DefaultConfig().OSUser)
		if err != nil {
			t.Fatalf("clustertest: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		attr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	role := "postgres"
	if u, err := user.Current(); err == nil {
		role = u.Username
	}
	base, err := os.MkdirTemp("", "xlgo-plain-")
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	dir := filepath.Join(base, "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	if attr != nil {
		c := attr.Credential
		for _, d := range []string{base, dir} {
			if err := os.Chown(d, int(c.Uid), int(c.Gid)); err != nil {
				t.Fatalf("clustertest: %v", err)
			}
		}
	}
	ports, err := freePorts(1)
	if err != nil {
		t.Fatalf("clustertest: free port: %v", err)
	}
	p := &Plain{Dir: dir, Port: ports[0], User: role}
	run := func(ctx context.Context, prog string, args ...string) error {
		cmd := exec.CommandContext(ctx, filepath.Join(pgBin, prog), args...)
		cmd.SysProcAttr = attr
		if attr != nil && prog == "pg_ctl" {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: attr.Credential, Setsid: true}
		}
		cmd.Dir = "/"
		cmd.Env = cluster.CleanEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := run(ctx, "initdb", "-D", dir, "-E", "UTF8", "--locale="+cluster.InitdbLocale(), "-U", role, "-A", "trust", "--no-instructions"); err != nil {
		os.RemoveAll(base)
		t.Fatalf("clustertest: %v", err)
	}
	conf := fmt.Sprintf("\nport = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nfsync = off\n", p.Port, base)
	f, err := os.OpenFile(filepath.Join(dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(conf)
		f.Close()
	}
	if err != nil {
		os.RemoveAll(base)
		t.Fatalf("clustertest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := run(ctx, "pg_ctl", "stop", "-D", dir, "-m", "immediate", "-w", "-s"); err != nil {
			t.Errorf("clustertest: stop plain PostgreSQL: %v", err)
			return
		}
		os.RemoveAll(base)
	})
	if err := run(ctx, "pg_ctl", "start", "-D", dir, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "120", "-s"); err != nil {
		t.Fatalf("clustertest: %v\n%s", err, p.LogTail(20))
	}
	return p
}
