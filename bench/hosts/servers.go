package main

import (
	"bytes"
	"context"
	"fmt"
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
	"github.com/xlgo/xlgo/internal/testhosts"
)

// system is one side of the comparison: servers on some hosts and the
// addresses pgbench spreads its clients over.
type system struct {
	name      string
	hosts     []*testhosts.Host // the hosts its servers run on
	roles     []string          // what runs on each of hosts
	endpoints []string          // host:port of each entry point (coordinator, pgpool, server)
}

// lab starts servers on the simulated hosts and stops them all at the end.
type lab struct {
	nt      *testhosts.Net
	work    string
	pgBin   string
	binDir  string
	role    string              // the role clients connect as
	cred    *syscall.Credential // PostgreSQL runs as this OS user when we are root
	next    int                 // the next free host
	stops   benchenv.Stops
	verbose bool
}

func newLab(nt *testhosts.Net, work, binDir string, verbose bool) (*lab, error) {
	pgBin, err := cluster.FindPgBin(os.Getenv("XLGO_PG_BIN"))
	if err != nil {
		return nil, err
	}
	l := &lab{nt: nt, work: work, pgBin: pgBin, binDir: binDir, role: "postgres", verbose: verbose}
	if u, err := user.Current(); err == nil {
		l.role = u.Username
	}
	if l.cred, err = benchenv.ServerCredential(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *lab) logf(format string, args ...any) {
	if l.verbose {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
	}
}

// take hands out the next n unused hosts.
func (l *lab) take(n int) ([]*testhosts.Host, error) {
	hs := l.nt.Hosts()
	if l.next+n > len(hs) {
		return nil, fmt.Errorf("%d more hosts wanted, %d left", n, len(hs)-l.next)
	}
	l.next += n
	return hs[l.next-n : l.next], nil
}

// mkdir makes a directory under the work dir that PostgreSQL's account owns.
func (l *lab) mkdir(name string) (string, error) {
	dir := filepath.Join(l.work, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if l.cred != nil {
		if err := os.Chown(dir, int(l.cred.Uid), int(l.cred.Gid)); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// command is prog run on host h as PostgreSQL's account.
func (l *lab) command(ctx context.Context, h *testhosts.Host, prog string, args ...string) *exec.Cmd {
	cmd := exec.Command(prog, args...)
	cmd.Dir = "/"
	cmd.Env = cluster.CleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: l.cred}
	return h.Adopt(ctx, cmd)
}

func (l *lab) run(ctx context.Context, h *testhosts.Host, prog string, args ...string) error {
	out, err := l.command(ctx, h, prog, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s on %s: %w\n%s", filepath.Base(prog), strings.Join(args, " "), h.Name(), err, bytes.TrimSpace(out))
	}
	return nil
}

// serverConf is what every PostgreSQL of the run gets: datanodes, the plain
// server, pgpool's primary and standby.
var serverConf = map[string]string{
	"max_prepared_transactions": "100",
	"max_connections":           "200",
}

// startPostgres starts a PostgreSQL on h in WORK/name: initdb'd, or, when
// primary is set, a streaming standby of it made with pg_basebackup.
func (l *lab) startPostgres(ctx context.Context, h *testhosts.Host, name, primary string) (string, error) {
	dir, err := l.mkdir(name)
	if err != nil {
		return "", err
	}
	ports, err := cluster.FreePorts(1) // distinct from every other server's: the Unix socket lock files share /tmp
	if err != nil {
		return "", err
	}
	if primary == "" {
		err = l.run(ctx, h, filepath.Join(l.pgBin, "initdb"), "-D", dir, "-E", "UTF8", "--locale="+cluster.InitdbLocale(),
			"-U", l.role, "-A", "trust", "--no-instructions")
	} else {
		host, port, _ := net.SplitHostPort(primary)
		err = l.run(ctx, h, filepath.Join(l.pgBin, "pg_basebackup"), "-h", host, "-p", port, "-U", l.role, "-D", dir, "-R", "-X", "stream", "-c", "fast")
	}
	if err != nil {
		return "", err
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "\n# bench/hosts\nport = %d\nlisten_addresses = '%s'\nunix_socket_directories = '%s'\n", ports[0], h.Addr(), dir)
	for k, v := range serverConf {
		fmt.Fprintf(&conf, "%s = %s\n", k, v)
	}
	if primary == "" {
		if err := benchenv.AppendFile(filepath.Join(dir, "postgresql.conf"), conf.String()); err != nil {
			return "", err
		}
		hba := fmt.Sprintf("host all all %s trust\nhost replication all %s trust\n", l.nt.Subnet(), l.nt.Subnet())
		if err := benchenv.AppendFile(filepath.Join(dir, "pg_hba.conf"), hba); err != nil {
			return "", err
		}
	} else if err := benchenv.AppendFile(filepath.Join(dir, "postgresql.auto.conf"), conf.String()); err != nil {
		return "", err
	}
	pgCtl := filepath.Join(l.pgBin, "pg_ctl")
	l.stops.Add(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); err == nil {
			l.run(ctx, h, pgCtl, "stop", "-D", dir, "-m", "fast", "-w", "-s")
		}
	})
	if err := l.run(ctx, h, pgCtl, "start", "-D", dir, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "120", "-s"); err != nil {
		return "", fmt.Errorf("%w\n%s", err, benchenv.Tail(filepath.Join(dir, "server.log")))
	}
	return net.JoinHostPort(h.Addr().String(), strconv.Itoa(ports[0])), nil
}

// startPlain is one PostgreSQL on one host.
func (l *lab) startPlain(ctx context.Context) (*system, error) {
	hs, err := l.take(1)
	if err != nil {
		return nil, err
	}
	addr, err := l.startPostgres(ctx, hs[0], "plain", "")
	if err != nil {
		return nil, err
	}
	return &system{name: "PostgreSQL, 1 host", hosts: hs, roles: []string{"postgres"}, endpoints: []string{addr}}, nil
}

// startXlgo is an xlgo cluster with a coordinator and a datanode on each of
// n hosts and the gtm on one more; with standbys, each datanode has a
// synchronous standby on the next of the n hosts.
func (l *lab) startXlgo(ctx context.Context, n int, standbys bool) (*system, error) {
	hs, err := l.take(n + 1)
	if err != nil {
		return nil, err
	}
	ports, err := cluster.FreePorts(1 + 3*n)
	if err != nil {
		return nil, err
	}
	cfg := cluster.DefaultConfig()
	cfg.PgBin = l.pgBin
	gtmHost := hs[n]
	cfg.GTM = cluster.Node{Name: "gtm", Host: gtmHost.Addr().String(), Port: ports[0]}
	cfg.Coordinators, cfg.Datanodes = nil, nil
	s := &system{name: fmt.Sprintf("xlgo, %d hosts", n)}
	if standbys {
		s.name += ", sync standbys"
	}
	for i, h := range hs[:n] {
		addr := h.Addr().String()
		cfg.Coordinators = append(cfg.Coordinators, cluster.Node{Name: fmt.Sprintf("coord%d", i+1), Host: addr, Port: ports[1+i]})
		cfg.Datanodes = append(cfg.Datanodes, cluster.Node{Name: fmt.Sprintf("datanode%d", i+1), Host: addr, Port: ports[1+n+i],
			Primary: i == 0, Preferred: i == 0})
		s.hosts = append(s.hosts, h)
		s.roles = append(s.roles, "coordinator, datanode")
		if standbys {
			next := hs[(i+1)%n].Addr().String()
			cfg.DatanodeStandbys = append(cfg.DatanodeStandbys, cluster.Node{Name: fmt.Sprintf("datanode%d_standby", i+1),
				Of: fmt.Sprintf("datanode%d", i+1), Host: next, Port: ports[1+2*n+i]})
			s.roles[i] += ", standby of datanode" + strconv.Itoa(1+(i+n-1)%n)
		}
		s.endpoints = append(s.endpoints, cfg.Coordinators[i].Addr())
	}
	s.hosts = append(s.hosts, gtmHost)
	s.roles = append(s.roles, "gtm")
	cfg.DatanodeSettings = serverConf
	subnet := l.nt.Subnet().String()
	cfg.Auth.Rules = []cluster.HBARule{
		{Type: "local", Method: "trust"},
		{Type: "host", Address: "127.0.0.1/32", Method: "trust"},
		{Type: "host", Address: subnet, Method: "trust"},
	}
	home, err := l.mkdir(strings.ReplaceAll(fmt.Sprintf("xlgo%d-%t", n, standbys), " ", ""))
	if err != nil {
		return nil, err
	}
	os.Chmod(home, 0o755)
	var out bytes.Buffer
	ctl := &cluster.Cluster{Home: home, Config: cfg, BinDir: l.binDir, Out: &out, ReadyTimeout: 90 * time.Second,
		TrustNetworks: []string{subnet},
		Launch: func(ctx context.Context, n cluster.Node, cmd *exec.Cmd) *exec.Cmd {
			return l.nt.Launch(ctx, n.Host, cmd)
		}}
	l.stops.Add(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := ctl.Stop(ctx, "fast"); err != nil {
			fmt.Fprintf(os.Stderr, "stop the xlgo cluster in %s: %v\n", home, err)
		}
	})
	if err := ctl.Init(ctx); err != nil {
		return nil, fmt.Errorf("xlgo init on %d hosts: %w\n%s\n%s", n, err, out.String(), ctl.LogTail("coord1", 20))
	}
	return s, nil
}

// startPgpool is pgpool-II in front of a streaming primary on one host and
// its standby on another, reads balanced over both (the guide's
// master/slave mode); pgpool runs on the primary's host.
func (l *lab) startPgpool(ctx context.Context, clients int) (*system, error) {
	prog, err := exec.LookPath("pgpool")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/pgpool"); serr != nil {
			return nil, fmt.Errorf("pgpool not found (apt-get install -y pgpool2): %w", err)
		}
		prog = "/usr/sbin/pgpool"
	}
	hs, err := l.take(2)
	if err != nil {
		return nil, err
	}
	primary, err := l.startPostgres(ctx, hs[0], "pgpool-primary", "")
	if err != nil {
		return nil, err
	}
	standby, err := l.startPostgres(ctx, hs[1], "pgpool-standby", primary)
	if err != nil {
		return nil, err
	}
	dir, err := l.mkdir("pgpool")
	if err != nil {
		return nil, err
	}
	ports, err := cluster.FreePorts(2)
	if err != nil {
		return nil, err
	}
	p0, port0, _ := net.SplitHostPort(primary)
	p1, port1, _ := net.SplitHostPort(standby)
	conf := fmt.Sprintf(`backend_clustering_mode = 'streaming_replication'
listen_addresses = '%s'
port = %d
socket_dir = '%s'
pcp_listen_addresses = ''
pcp_port = %d
pcp_socket_dir = '%s'
backend_hostname0 = '%s'
backend_port0 = %s
backend_weight0 = 1
backend_flag0 = 'DISALLOW_TO_FAILOVER'
backend_hostname1 = '%s'
backend_port1 = %s
backend_weight1 = 1
backend_flag1 = 'DISALLOW_TO_FAILOVER'
enable_pool_hba = off
num_init_children = %d
max_pool = 4
connection_cache = on
load_balance_mode = on
statement_level_load_balance = on
sr_check_period = 0
sr_check_user = '%s'
health_check_period = 0
failover_on_backend_error = off
use_watchdog = off
pid_file_name = '%s/pgpool.pid'
logdir = '%s'
log_destination = 'stderr'
`, hs[0].Addr(), ports[0], dir, ports[1], dir, p0, port0, p1, port1, clients+8, l.role, dir, dir)
	for name, text := range map[string]string{"pgpool.conf": conf, "pcp.conf": "", "pool_hba.conf": ""} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	logf, err := os.Create(filepath.Join(dir, "pgpool.log"))
	if err != nil {
		return nil, err
	}
	cmd := l.command(context.Background(), hs[0], prog, "-n", "-f", filepath.Join(dir, "pgpool.conf"),
		"-F", filepath.Join(dir, "pcp.conf"), "-a", filepath.Join(dir, "pool_hba.conf"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start pgpool: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	l.stops.Add(func() {
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	addr := net.JoinHostPort(hs[0].Addr().String(), strconv.Itoa(ports[0]))
	if err := waitTCP(addr, 30*time.Second, done); err != nil {
		return nil, fmt.Errorf("pgpool: %w\n%s", err, benchenv.Tail(filepath.Join(dir, "pgpool.log")))
	}
	return &system{name: "Pgpool-II, 2 hosts", hosts: hs, roles: []string{"pgpool, primary", "standby"}, endpoints: []string{addr}}, nil
}

// waitTCP polls until addr accepts connections, the process ends or d passes.
func waitTCP(addr string, d time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited before it accepted connections on %s", addr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing accepts connections on %s after %v", addr, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
