package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/xlgo/xlgo/bench/internal/benchenv"
	"github.com/xlgo/xlgo/cluster"
)

// env holds what every server of the run shares and what to stop at the end.
type env struct {
	work    string // temporary directory holding every server of the run
	pgBin   string
	role    string              // the role clients connect as
	cred    *syscall.Credential // run servers as this OS user (when running as root)
	cleanup benchenv.Stops
	verbose bool
}

func newEnv(verbose bool) (*env, error) {
	pgBin, err := cluster.FindPgBin(os.Getenv("XLGO_PG_BIN"))
	if err != nil {
		return nil, err
	}
	e := &env{pgBin: pgBin, role: "postgres", verbose: verbose}
	if u, err := user.Current(); err == nil {
		e.role = u.Username
	}
	if os.Geteuid() == 0 {
		osUser := cluster.DefaultConfig().OSUser
		u, err := user.Lookup(osUser)
		if err != nil {
			return nil, fmt.Errorf("running as root needs the %s OS user to run PostgreSQL: %w", osUser, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		e.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	work, err := os.MkdirTemp("", "xlgo-bench-queries-")
	if err != nil {
		return nil, err
	}
	// PostgreSQL may run as another OS user: it must reach its directories.
	if err := os.Chmod(work, 0o755); err != nil {
		os.RemoveAll(work)
		return nil, err
	}
	e.work = work
	e.cleanup.Add(func() { os.RemoveAll(work) })
	return e, nil
}

func (e *env) logf(format string, args ...any) {
	if e.verbose {
		fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
}

// mkdir makes a directory under the work directory owned by the server user.
func (e *env) mkdir(name string, mode os.FileMode) (string, error) {
	dir := filepath.Join(e.work, name)
	if err := os.Mkdir(dir, mode); err != nil {
		return "", err
	}
	if e.cred != nil {
		if err := os.Chown(dir, int(e.cred.Uid), int(e.cred.Gid)); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// runServerCmd runs a PostgreSQL program as the server user, in its own
// session so that a Ctrl-C meant for the benchmark does not reach it.
func (e *env) runServerCmd(ctx context.Context, prog string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(e.pgBin, prog), args...)
	cmd.Dir = "/"
	cmd.Env = withoutPG(os.Environ())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: e.cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", prog, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// serverConf is what every PostgreSQL of the run gets, the datanodes and the
// plain server alike (the datanodes' defaults from xlctl).
func serverConf() map[string]string { return cluster.DefaultConfig().DatanodeSettings }

// startPlain initdbs and starts one stand-alone PostgreSQL and returns its port.
func (e *env) startPlain(ctx context.Context) (int, error) {
	base, err := e.mkdir("plain", 0o755)
	if err != nil {
		return 0, err
	}
	dir := filepath.Join(base, "data")
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	initdb := func(locale string) error {
		os.RemoveAll(dir)
		if _, err := e.mkdir("plain/data", 0o700); err != nil {
			return err
		}
		return e.runServerCmd(ctx, "initdb", "-D", dir, "-E", "UTF8", "--locale="+locale, "-U", e.role, "-A", "trust", "--no-instructions")
	}
	if err := initdb("C.UTF-8"); err != nil {
		if err := initdb("C"); err != nil { // a system without C.UTF-8
			return 0, err
		}
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "\nport = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n", port, base)
	for k, v := range serverConf() {
		fmt.Fprintf(&conf, "%s = %s\n", k, v)
	}
	f, err := os.OpenFile(filepath.Join(dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	_, err = f.WriteString(conf.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	logPath := filepath.Join(base, "server.log")
	if e.cred != nil {
		if f, err := os.Create(logPath); err == nil {
			f.Close()
			os.Chown(logPath, int(e.cred.Uid), int(e.cred.Gid))
		}
	}
	// Registered before the start: pg_ctl may leave a server behind even when it fails.
	e.cleanup.Add(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); err != nil {
			return
		}
		if err := e.runServerCmd(ctx, "pg_ctl", "stop", "-D", dir, "-m", "fast", "-w", "-s"); err != nil {
			fmt.Fprintf(os.Stderr, "stop plain PostgreSQL: %v\n", err)
		}
	})
	if err := e.runServerCmd(ctx, "pg_ctl", "start", "-D", dir, "-l", logPath, "-w", "-t", "120", "-s"); err != nil {
		return 0, fmt.Errorf("%w\n%s", err, tailFile(logPath, 20))
	}
	return port, nil
}

// buildBinaries builds gtm and coordinator from the module into dir.
func buildBinaries(ctx context.Context, root, dir string) error {
	for _, name := range []string{"gtm", "coordinator"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, name), "./cmd/"+name)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/%s: %w\n%s", name, err, out)
		}
	}
	return nil
}

// startXlgo inits and starts an xlgo cluster (gtm, one coordinator, the given
// number of datanodes) and returns the coordinator's port.
func (e *env) startXlgo(ctx context.Context, binDir string, datanodes int) (int, error) {
	home, err := e.mkdir("xlgo", 0o755)
	if err != nil {
		return 0, err
	}
	ports, err := freePorts(2 + datanodes)
	if err != nil {
		return 0, err
	}
	cfg := cluster.DefaultConfig()
	cfg.PgBin = e.pgBin
	cfg.GTM.Port = ports[0]
	cfg.Metrics.Off = true // port + 1000 may be taken here
	cfg.Coordinators = []cluster.Node{{Name: "coord1", Host: "127.0.0.1", Port: ports[1]}}
	cfg.Datanodes = nil
	for i := 0; i < datanodes; i++ {
		cfg.Datanodes = append(cfg.Datanodes, cluster.Node{Name: fmt.Sprintf("datanode%d", i+1), Host: "127.0.0.1",
			Port: ports[2+i], Primary: i == 0, Preferred: i == 0})
	}
	cfg.DatanodeSettings = serverConf()
	var out bytes.Buffer
	ctl := &cluster.Cluster{Home: home, Config: cfg, BinDir: binDir, Out: &out, ReadyTimeout: 90 * time.Second}
	e.cleanup.Add(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := ctl.Stop(ctx, "fast"); err != nil {
			fmt.Fprintf(os.Stderr, "stop xlgo cluster in %s: %v\n", home, err)
		}
	})
	if err := ctl.Init(ctx); err != nil {
		return 0, fmt.Errorf("xlgo init: %w\n%s\n%s", err, out.String(), ctl.LogTail("coord1", 20))
	}
	return ports[1], nil
}

func freePort() (int, error) {
	ps, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}

func freePorts(n int) ([]int, error) { return cluster.FreePorts(n) }

func tailFile(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func withoutPG(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PG") {
			out = append(out, kv)
		}
	}
	return out
}
