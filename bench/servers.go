package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
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

// target is one side of a comparison: something pgbench connects to.
type target struct {
	name string
	port int
	// pid is the process whose memory is measured per idle connection (0: none).
	pid func() int
	// backendCount counts the backend connections behind the target (nil: not measured).
	backendCount func() (int, error)
}

// env holds what every server of the run shares and what to stop at the end.
type env struct {
	work    string // temporary directory for every server of the run
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
	work, err := os.MkdirTemp("", "xlgo-bench-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(work, 0o755); err != nil {
		return nil, err
	}
	e := &env{work: work, pgBin: pgBin, role: "postgres", verbose: verbose}
	if u, err := user.Current(); err == nil {
		e.role = u.Username
	}
	if e.cred, err = benchenv.ServerCredential(); err != nil {
		return nil, err
	}
	e.cleanup.Add(func() { os.RemoveAll(work) })
	return e, nil
}

func (e *env) logf(format string, args ...any) {
	if e.verbose {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	}
}

// mkdir makes a directory the server user owns.
func (e *env) mkdir(parts ...string) (string, error) {
	dir := filepath.Join(append([]string{e.work}, parts...)...)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if e.cred != nil {
		if err := os.Chown(dir, int(e.cred.Uid), int(e.cred.Gid)); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// command is a server-side command, run as the server user when root.
func (e *env) command(ctx context.Context, prog string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = "/"
	cmd.Env = withoutPG(os.Environ())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: e.cred}
	return cmd
}

func (e *env) run(ctx context.Context, prog string, args ...string) error {
	cmd := e.command(ctx, prog, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", prog, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// spawn starts a long-running server in the foreground of a new session,
// logging to logPath, and registers its stop.
func (e *env) spawn(name, logPath string, prog string, args ...string) (*exec.Cmd, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := e.command(context.Background(), prog, args...)
	cmd.Stdout = f
	cmd.Stderr = f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); f.Close(); close(done) }()
	e.cleanup.Add(func() {
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return cmd, nil
}

// serverConf is what every PostgreSQL of the run gets, datanodes and the
// plain server alike.
var serverConf = map[string]string{
	"max_prepared_transactions": "100",
	"max_connections":           "200",
}

// startPlain initdbs and starts a stand-alone PostgreSQL.
func (e *env) startPlain(ctx context.Context) (*target, error) {
	dir, err := e.mkdir("plain")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := e.run(ctx, filepath.Join(e.pgBin, "initdb"), "-D", dir, "-E", "UTF8", "--locale=C.UTF-8", "-U", e.role, "-A", "trust", "--no-instructions"); err != nil {
		// Some systems have no C.UTF-8.
		os.RemoveAll(dir)
		if dir, err = e.mkdir("plain"); err != nil {
			return nil, err
		}
		if err := e.run(ctx, filepath.Join(e.pgBin, "initdb"), "-D", dir, "-E", "UTF8", "--locale=C", "-U", e.role, "-A", "trust", "--no-instructions"); err != nil {
			return nil, err
		}
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "\nport = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n", port, dir)
	for k, v := range serverConf {
		fmt.Fprintf(&conf, "%s = %s\n", k, v)
	}
	if err := benchenv.AppendFile(filepath.Join(dir, "postgresql.conf"), conf.String()); err != nil {
		return nil, err
	}
	if err := e.run(ctx, filepath.Join(e.pgBin, "pg_ctl"), "start", "-D", dir, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "120", "-s"); err != nil {
		return nil, err
	}
	e.cleanup.Add(func() {
		e.run(context.Background(), filepath.Join(e.pgBin, "pg_ctl"), "stop", "-D", dir, "-m", "fast", "-w", "-s")
	})
	return &target{name: "PostgreSQL", port: port, pid: func() int { return postmasterPid(dir) }}, nil
}

// startPgbouncer starts pgbouncer in transaction pooling mode in front of
// the PostgreSQL on backendPort.
func (e *env) startPgbouncer(backendPort int) (*target, error) {
	prog, err := exec.LookPath("pgbouncer")
	if err != nil {
		return nil, fmt.Errorf("pgbouncer not found (Debian package pgbouncer): %w", err)
	}
	dir, err := e.mkdir("pgbouncer")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	ini := fmt.Sprintf(`[databases]
* = host=127.0.0.1 port=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s/userlist.txt
pool_mode = transaction
max_client_conn = 5000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits
pidfile = %s/pgbouncer.pid
`, backendPort, port, dir, dir)
	if err := writeFiles(e, dir, map[string]string{"pgbouncer.ini": ini, "userlist.txt": fmt.Sprintf("%q \"\"\n", e.role)}); err != nil {
		return nil, err
	}
	cmd, err := e.spawn("pgbouncer", filepath.Join(dir, "pgbouncer.log"), prog, filepath.Join(dir, "pgbouncer.ini"))
	if err != nil {
		return nil, err
	}
	if err := waitPort(port, 30*time.Second); err != nil {
		return nil, fmt.Errorf("pgbouncer: %w\n%s", err, tail(filepath.Join(dir, "pgbouncer.log")))
	}
	return &target{name: "pgbouncer", port: port, pid: func() int { return cmd.Process.Pid }}, nil
}

// startPgpool starts pgpool-II (raw mode, connection cache) in front of the
// PostgreSQL on backendPort.
func (e *env) startPgpool(backendPort, clients int) (*target, error) {
	prog, err := exec.LookPath("pgpool")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/pgpool"); serr != nil {
			return nil, fmt.Errorf("pgpool not found (Debian package pgpool2): %w", err)
		}
		prog = "/usr/sbin/pgpool"
	}
	dir, err := e.mkdir("pgpool")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	pcpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`backend_clustering_mode = 'raw'
listen_addresses = '127.0.0.1'
port = %d
socket_dir = '%s'
pcp_listen_addresses = ''
pcp_port = %d
pcp_socket_dir = '%s'
backend_hostname0 = '127.0.0.1'
backend_port0 = %d
backend_weight0 = 1
backend_flag0 = 'DISALLOW_TO_FAILOVER'
enable_pool_hba = off
num_init_children = %d
max_pool = 4
connection_cache = on
load_balance_mode = off
health_check_period = 0
sr_check_period = 0
failover_on_backend_error = off
use_watchdog = off
pid_file_name = '%s/pgpool.pid'
logdir = '%s'
log_destination = 'stderr'
`, port, dir, pcpPort, dir, backendPort, clients+8, dir, dir)
	if err := writeFiles(e, dir, map[string]string{"pgpool.conf": conf, "pcp.conf": "", "pool_hba.conf": ""}); err != nil {
		return nil, err
	}
	_, err = e.spawn("pgpool", filepath.Join(dir, "pgpool.log"), prog, "-n", "-f", filepath.Join(dir, "pgpool.conf"),
		"-F", filepath.Join(dir, "pcp.conf"), "-a", filepath.Join(dir, "pool_hba.conf"))
	if err != nil {
		return nil, err
	}
	if err := waitPort(port, 30*time.Second); err != nil {
		return nil, fmt.Errorf("pgpool: %w\n%s", err, tail(filepath.Join(dir, "pgpool.log")))
	}
	return &target{name: "pgpool-II", port: port}, nil
}

// startXlgo inits and starts an xlgo cluster with one coordinator and the
// given number of datanodes, from the binaries in binDir; suffix is appended
// to its name.
func (e *env) startXlgo(ctx context.Context, binDir string, datanodes int, suffix string) (*target, error) {
	home, err := os.MkdirTemp(e.work, fmt.Sprintf("xlgo%d-", datanodes))
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(home, 0o755); err != nil {
		return nil, err
	}
	ports, err := freePorts(2 + datanodes)
	if err != nil {
		return nil, err
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
	cfg.DatanodeSettings = map[string]string{}
	for k, v := range serverConf {
		cfg.DatanodeSettings[k] = v
	}
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
		return nil, fmt.Errorf("xlgo init: %w\n%s\n%s", err, out.String(), ctl.LogTail("coord1", 20))
	}
	name := fmt.Sprintf("xlgo %d datanode", datanodes)
	if datanodes > 1 {
		name += "s"
	}
	name += suffix
	t := &target{name: name, port: ports[1]}
	t.pid = func() int {
		data, err := os.ReadFile(ctl.PidPath("coord1"))
		if err != nil {
			return 0
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		return pid
	}
	dnPorts := ports[2:]
	t.backendCount = func() (int, error) {
		total := 0
		for _, p := range dnPorts {
			n, err := countBackends(p, e.role)
			if err != nil {
				return 0, err
			}
			total += n
		}
		return total, nil
	}
	return t, nil
}

func writeFiles(e *env, dir string, files map[string]string) error {
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			return err
		}
		if e.cred != nil {
			if err := os.Chown(p, int(e.cred.Uid), int(e.cred.Gid)); err != nil {
				return err
			}
		}
	}
	return nil
}

func postmasterPid(dataDir string) int {
	data, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(data), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(first))
	return pid
}

func freePort() (int, error) {
	ps, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}

func freePorts(n int) ([]int, error) { return cluster.FreePorts(n) }

func waitPort(port int, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("port %d not accepting connections after %v", port, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	data, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
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
