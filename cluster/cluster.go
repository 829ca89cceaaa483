package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ConfigFileName is the config's name inside the home directory.
const ConfigFileName = "xlgo.yaml"

// Cluster is one cluster: its home directory and its config.
type Cluster struct {
	Home   string
	Config *Config
	// ConfigFile is where Config was read from ("" when built in code); Init
	// copies it into the home.
	ConfigFile string
	// BinDir holds the gtm and coordinator binaries; empty means PATH.
	BinDir string
	// Out receives progress and the registration log; nil discards it.
	Out io.Writer
	// Steps, when set, is told as each step of Init starts and ends: its
	// name, its number and how many there are (a progress bar).
	Steps func(name string, i, total int, done bool)
	// ReadyTimeout bounds the wait for a started gtm or coordinator (default 60s).
	ReadyTimeout time.Duration
	// TLS makes Init create a CA and a server certificate in HOME/tls, which
	// the coordinators then offer to clients (xlctl init --tls).
	TLS bool
	// ClientDatabase makes Init create a database named after the client
	// role (xlctl init does; tests that make many clusters do not).
	ClientDatabase bool
	// Launch, when set, decides where a node's processes run: it receives
	// every command the cluster is about to start for node n (initdb and
	// pg_ctl of a datanode, a gtm, a coordinator), built to run on this
	// machine with its path, arguments, environment, directory, output and
	// process attributes (the account to run as, setsid), and returns the
	// command to start instead, e.g. one that runs it on the host n.Host
	// names. The returned command must end up as the same process (exec, not
	// fork), since the cluster keeps its pid. Nil runs everything here.
	Launch func(ctx context.Context, n Node, cmd *exec.Cmd) *exec.Cmd
	// TrustNetworks are more address ranges (CIDR) whose clients a
	// datanode's pg_hba.conf trusts, beside loopback and the coordinators'
	// hosts: where clients and tools reach datanodes on other hosts from.
	TrustNetworks []string
	// ClientRole, when set, is the role ClientUser names: the one xlctl on
	// the user's host connects as, passed to xlctl on a node's host.
	ClientRole string

	agent *env // set when this xlctl works on a node's own host for another (NodeVerb)
}

// New returns the cluster of cfg living in home.
func New(home string, cfg *Config) *Cluster { return &Cluster{Home: home, Config: cfg} }

// ConfigPath is HOME/xlgo.yaml.
func (c *Cluster) ConfigPath() string { return filepath.Join(c.Home, ConfigFileName) }

// DataDir is the data directory of node NAME on its host: PGDATA of a
// datanode, the data dir of the gtm or a coordinator. It is the node's dir
// in the config, HOME/NAME when that is empty.
func (c *Cluster) DataDir(name string) string {
	if c.Config != nil {
		if n, _, ok := c.Config.Node(name); ok && n.Dir != "" {
			return n.Dir
		}
	}
	return filepath.Join(c.Home, name)
}

// LogPath is HOME/log/NAME.log.
func (c *Cluster) LogPath(name string) string { return filepath.Join(c.Home, "log", name+".log") }

// PidPath is HOME/run/NAME.pid.
func (c *Cluster) PidPath(name string) string { return filepath.Join(c.Home, "run", name+".pid") }

// LogTail returns the last n lines of a process's log.
func (c *Cluster) LogTail(name string, n int) string { return tailFile(c.LogPath(name), n) }

// ClientUser is the role xlctl connects as: $PGUSER when set, else the
// invoking OS user, for whom Init creates a superuser role on every datanode.
func (c *Cluster) ClientUser() string {
	if c.ClientRole != "" {
		return c.ClientRole
	}
	if u := os.Getenv("PGUSER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return c.Config.OSUser
}

func (c *Cluster) out() io.Writer {
	if c.Out == nil {
		return io.Discard
	}
	return c.Out
}

func (c *Cluster) readyTimeout() time.Duration {
	if c.ReadyTimeout > 0 {
		return c.ReadyTimeout
	}
	return 60 * time.Second
}

func (c *Cluster) say(format string, a ...any) { fmt.Fprintf(c.out(), format+"\n", a...) }

func (c *Cluster) allNodes() []Node {
	gtms := []Node{c.Config.GTM}
	if c.Config.HasGTMStandby() {
		gtms = append(gtms, c.Config.GTMStandby)
	}
	return append(append(append(gtms, c.Config.Coordinators...), c.Config.Datanodes...), c.Config.DatanodeStandbys...)
}

// ErrExists is returned by Init when the home already holds a cluster.
var ErrExists = errors.New("a cluster already exists")

// StepError says which step of a verb failed.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("%s failed: %v", e.Step, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

// Existing lists the data directories of the config's nodes that exist in the home.
func (c *Cluster) Existing() []string {
	var out []string
	for _, n := range c.allNodes() {
		if _, err := os.Stat(c.DataDir(n.Name)); err == nil {
			out = append(out, c.DataDir(n.Name))
		}
	}
	return out
}

func nonEmptyDir(dir string) bool {
	ents, err := os.ReadDir(dir)
	return err == nil && len(ents) > 0
}

// env gathers what every verb that runs processes needs.
type env struct {
	pgBin     string
	pgUser    *pgUser // nil: run PostgreSQL as self
	dnSocket  string  // datanodes' unix_socket_directories
	crdSocket string  // coordinators' --unix-socket-dir
}

func (c *Cluster) resolve() (*env, error) {
	if err := c.Config.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	return c.resolveFor(c.allNodes())
}

// resolveFor finds PostgreSQL and its account when a datanode of nodes runs
// on this machine.
func (c *Cluster) resolveFor(nodes []Node) (*env, error) {
	e := &env{}
	local := false
	for _, n := range nodes {
		if _, role, _ := c.Config.Node(n.Name); isPostgres(role) && !c.remote(n) {
			local = true
		}
	}
	var err error
	if local {
		if e.pgBin, err = FindPgBin(c.Config.PgBin); err != nil {
			return nil, err
		}
		if e.pgUser, err = runAsUser(c.Config.OSUser); err != nil {
			return nil, err
		}
	}
	uid, gids := selfIDs()
	e.crdSocket = pickSocketDir(c.Config.SocketDir, uid, gids)
	if e.pgUser != nil {
		uid, gids = e.pgUser.UID, append([]uint32{e.pgUser.GID}, e.pgUser.Groups...)
	}
	e.dnSocket = pickSocketDir(c.Config.SocketDir, uid, gids)
	return e, nil
}

// binary finds the gtm or coordinator executable.
func (c *Cluster) binary(name string) (string, error) {
	if c.BinDir != "" {
		p := filepath.Join(c.BinDir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s binary not found in %q or on PATH (run make build, or pass --bin)", name, c.BinDir)
}

// Init creates the cluster: config, datanodes (initdb), then starts
// everything and registers the nodes on every coordinator. On failure it
// stops what it started and returns a *StepError.
func (c *Cluster) Init(ctx context.Context) (err error) {
	if err := c.Config.Validate(); err != nil {
		return fmt.Errorf("invalid config: %w", err)
	}
	existing := c.Existing()
	if _, statErr := os.Stat(c.ConfigPath()); statErr == nil && len(existing) > 0 {
		return fmt.Errorf("%w in %s (%s and %s); use xlctl start, or xlctl clean first", ErrExists, c.Home, c.ConfigPath(), strings.Join(existing, ", "))
	}
	for _, d := range existing {
		if nonEmptyDir(d) {
			return fmt.Errorf("%w in %s: %s is not empty; remove it or use another --home", ErrExists, c.Home, d)
		}
	}
	e, err := c.resolve()
	if err != nil {
		return err
	}
	if c.anyLocal(append(append([]Node{c.Config.GTM}, c.Config.Coordinators...), c.Config.GTMStandby)) {
		for _, b := range []string{"gtm", "coordinator"} {
			if _, err := c.binary(b); err != nil {
				return err
			}
		}
	}
	if c.TLS && len(c.remoteHosts()) > 0 {
		return errors.New("init --tls makes the certificates in this host's home only; with nodes on other hosts, give the coordinators their certificates in the config's auth section instead")
	}

	var started []Node
	total, done := c.initSteps(), 0
	step := func(name string, f func() error) error {
		done++
		if c.Steps != nil {
			c.Steps(name, done, total, false)
		}
		if err := f(); err != nil {
			return &StepError{Step: name, Err: err}
		}
		if c.Steps != nil {
			c.Steps(name, done, total, true)
		}
		return nil
	}
	defer func() {
		if err == nil {
			return
		}
		if len(started) > 0 {
			c.say("Stopping what init started after the failure.")
			c.stopNodes(context.WithoutCancel(ctx), e, started, "immediate")
		}
		err = fmt.Errorf("init: %w (logs in %s on each node's host; remove the partial cluster with xlctl clean --yes)", err, filepath.Join(c.Home, "log"))
	}()

	if err = step("prepare home "+c.Home, func() error { return c.prepareHome(e) }); err != nil {
		return err
	}
	if hosts := c.remoteHosts(); len(hosts) > 0 {
		if err = step("deploy to "+strings.Join(hosts, ", "), func() error { return c.Deploy(ctx) }); err != nil {
			return err
		}
	}
	if c.TLS {
		if err = step("make TLS certificates", c.makeCerts); err != nil {
			return err
		}
	}
	for _, n := range c.allNodes() {
		_, role, _ := c.Config.Node(n.Name)
		if role == RoleDatanodeStandby || role != RoleDatanode && !c.remote(n) {
			continue // its directory is made when it starts; a standby's once its datanode runs
		}
		if err = step("initialize "+role+" "+n.Name+c.onHostSuffix(n), func() error { return c.initNode(ctx, e, n, role) }); err != nil {
			return err
		}
	}
	for _, n := range c.Config.Datanodes {
		started = append(started, n) // pg_ctl may leave a server behind even when it fails
		if err = step("start datanode "+n.Name+c.onHostSuffix(n), func() error { return c.startNode(ctx, e, n, RoleDatanode) }); err != nil {
			return err
		}
	}
	for _, n := range c.Config.Datanodes {
		if err = step("create role "+c.ClientUser()+" on datanode "+n.Name, func() error { return c.clientRoleOn(ctx, e, n) }); err != nil {
			return err
		}
	}
	for _, n := range c.Config.activeStandbys() {
		started = append(started, n)
		if err = step("make datanode standby "+n.Name+" of "+n.Of+c.onHostSuffix(n), func() error { return c.makeStandby(ctx, e, n) }); err != nil {
			return err
		}
	}
	gtms := []Node{c.Config.GTM}
	if c.Config.HasGTMStandby() {
		gtms = append(gtms, c.Config.GTMStandby)
	}
	for _, n := range append(gtms, c.Config.Coordinators...) {
		started = append(started, n)
		_, role, _ := c.Config.Node(n.Name)
		if err = step("start "+strings.ReplaceAll(role, "_", " ")+" "+n.Name+c.onHostSuffix(n), func() error { return c.startNode(ctx, e, n, role) }); err != nil {
			return err
		}
	}
	for _, n := range c.Config.Coordinators {
		if err = step("register nodes on coordinator "+n.Name, func() error { return c.coordinatorStep(ctx, n, "register", "") }); err != nil {
			return err
		}
	}
	for _, n := range c.Config.Coordinators {
		if err = step("check coordinator "+n.Name, func() error { return c.coordinatorStep(ctx, n, "check", "") }); err != nil {
			return err
		}
	}
	if db := c.ClientUser(); c.ClientDatabase && db != "postgres" && len(c.Config.Coordinators) > 0 {
		co := c.Config.Coordinators[0]
		if err = step("create database "+db, func() error { return c.coordinatorStep(ctx, co, "createdb", db) }); err != nil {
			return err
		}
	}
	if c.PrometheusAddr() != "" {
		if err = step("start Prometheus", func() error { return c.startPrometheus(ctx) }); err != nil {
			return err
		}
	}
	c.say("Done.")
	return nil
}

// initSteps is the number of steps Init takes (for its progress).
func (c *Cluster) initSteps() int {
	n := 1 // prepare home
	if len(c.remoteHosts()) > 0 {
		n++
	}
	if c.TLS {
		n++
	}
	for _, x := range c.allNodes() {
		if _, role, _ := c.Config.Node(x.Name); role == RoleDatanode || role != RoleDatanodeStandby && c.remote(x) {
			n++
		}
	}
	n += 2*len(c.Config.Datanodes) + len(c.Config.activeStandbys()) + 1 + 3*len(c.Config.Coordinators)
	if c.Config.HasGTMStandby() {
		n++
	}
	if c.ClientDatabase && c.ClientUser() != "postgres" && len(c.Config.Coordinators) > 0 {
		n++
	}
	if c.PrometheusAddr() != "" {
		n++
	}
	return n
}

func (c *Cluster) prepareHome(e *env) error {
	for _, d := range []string{c.Home, filepath.Join(c.Home, "log"), filepath.Join(c.Home, "run")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if c.ConfigFile == "" || c.ConfigFile != c.ConfigPath() {
		data := c.Config.YAML()
		if c.ConfigFile != "" {
			var err error
			if data, err = os.ReadFile(c.ConfigFile); err != nil {
				return err
			}
		}
		mode := os.FileMode(0o644)
		if c.Config.Auth.HasSecrets() {
			mode = 0o600 // it holds datanode passwords
		}
		if err := os.WriteFile(c.ConfigPath(), data, mode); err != nil {
			return err
		}
		if err := os.Chmod(c.ConfigPath(), mode); err != nil {
			return err
		}
		if c.agent == nil {
			c.say("Wrote %s", c.ConfigPath())
		}
	}
	if e.pgUser != nil {
		if dir, ok := unreachable(c.Home, e.pgUser); ok {
			return fmt.Errorf("os_user %s cannot enter %s (a parent of the home); choose another --home (e.g. /var/lib/xlgo) or allow it with chmod o+x %s", e.pgUser.Name, dir, dir)
		}
	}
	return nil
}

// unreachable returns the first directory on the path to home that u may not
// enter.
func unreachable(home string, u *pgUser) (string, bool) {
	abs, err := filepath.Abs(home)
	if err != nil {
		return home, true
	}
	for dir := abs; ; dir = filepath.Dir(dir) {
		st, err := os.Stat(dir)
		if err == nil {
			sys := st.Sys().(*syscall.Stat_t)
			mode := st.Mode().Perm()
			ok := mode&0o001 != 0
			if sys.Uid == u.UID {
				ok = mode&0o100 != 0
			} else if sys.Gid == u.GID || slices.Contains(u.Groups, sys.Gid) {
				ok = mode&0o010 != 0
			}
			if !ok {
				return dir, true
			}
		}
		if dir == filepath.Dir(dir) {
			return "", false
		}
	}
}

// pgCmd runs a PostgreSQL program of datanode n as the PostgreSQL account.
func (c *Cluster) pgCmd(ctx context.Context, e *env, n Node, setsid bool, prog string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(e.pgBin, prog), args...)
	cmd.SysProcAttr = e.pgUser.attr(setsid)
	cmd.Dir = "/"
	cmd.Env = CleanEnv()
	return c.launch(ctx, n, cmd)
}

// launch passes cmd through Launch when set.
func (c *Cluster) launch(ctx context.Context, n Node, cmd *exec.Cmd) *exec.Cmd {
	if c.Launch == nil {
		return cmd
	}
	return c.Launch(ctx, n, cmd)
}

func runOut(cmd *exec.Cmd) error {
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (c *Cluster) initDatanode(ctx context.Context, e *env, n Node) error {
	c.say("Initialize datanode %s", n.Name)
	dir := c.DataDir(n.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := e.pgUser.chown(dir); err != nil {
		return err
	}
	if err := runOut(c.pgCmd(ctx, e, n, false, "initdb", "-D", dir, "-E", "UTF8", "--locale="+InitdbLocale(), "-A", "trust", "--no-instructions")); err != nil {
		return err
	}
	if err := appendFile(filepath.Join(dir, "postgresql.conf"), c.datanodeConf(n, e.dnSocket)); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "pg_hba.conf"), []byte(c.datanodeHBA()), 0o600); err != nil {
		return err
	}
	if err := e.pgUser.chown(filepath.Join(dir, "pg_hba.conf")); err != nil {
		return err
	}
	return c.touchLog(e, n) // pg_ctl -l appends to it as the PostgreSQL account
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// datanodeConf is what Init appends to a datanode's postgresql.conf.
func (c *Cluster) datanodeConf(n Node, socketDir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n# Added by xlctl init for datanode %s of cluster %s.\n", n.Name, c.Config.ClusterName)
	fmt.Fprintf(&b, "port = %d\n", n.Port)
	fmt.Fprintf(&b, "listen_addresses = %s\n", sqlString(n.Host))
	fmt.Fprintf(&b, "unix_socket_directories = %s\n", sqlString(socketDir))
	b.WriteString("wal_log_hints = on   # pg_rewind can make a failed-over datanode a standby (xlctl rejoin)\n")
	// pg_rewind also needs the old datanode's WAL back to the last checkpoint
	// both share; the crash recovery it runs first would drop it otherwise.
	b.WriteString("wal_keep_size = 256MB\n")
	for _, k := range sortedKeys(c.Config.DatanodeSettings) {
		fmt.Fprintf(&b, "%s = %s\n", k, confValue(c.Config.DatanodeSettings[k]))
	}
	return b.String()
}

// confValue writes numbers, units and plain words bare and quotes the rest.
func confValue(v string) string {
	if strings.HasPrefix(v, "'") && strings.HasSuffix(v, "'") && len(v) >= 2 {
		return v
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return sqlString(v)
		}
	}
	if v == "" {
		return "''"
	}
	return v
}

// datanodeHBA trusts local connections, loopback, the coordinators' hosts
// and TrustNetworks.
func (c *Cluster) datanodeHBA() string {
	var b strings.Builder
	b.WriteString("# Written by xlctl init: coordinators and local clients are trusted.\n")
	b.WriteString("local   all   all                 trust\n")
	b.WriteString("host    all   all   127.0.0.1/32  trust\n")
	b.WriteString("host    all   all   ::1/128       trust\n")
	b.WriteString("local   replication   all                 trust\n")
	b.WriteString("host    replication   all   127.0.0.1/32  trust\n")
	seen := map[string]bool{"127.0.0.1": true, "::1": true, "localhost": true}
	for _, n := range append(append(append([]Node{}, c.Config.Datanodes...), c.Config.DatanodeStandbys...), c.Config.Coordinators...) {
		if seen[n.Host] {
			continue
		}
		seen[n.Host] = true
		for _, addr := range hbaAddrs(n.Host) {
			fmt.Fprintf(&b, "host    all   all   %s  trust\n", addr)
			fmt.Fprintf(&b, "host    replication   all   %s  trust\n", addr)
		}
	}
	for _, nw := range c.TrustNetworks {
		fmt.Fprintf(&b, "host    all   all   %s  trust\n", nw)
	}
	return b.String()
}

// hbaAddrs are the pg_hba.conf addresses of a host: its address, or the
// addresses its name resolves to (PostgreSQL would match a name only by
// reverse lookup), or the name when it does not resolve.
func hbaAddrs(host string) []string {
	ips := []net.IP{net.ParseIP(host)}
	if ips[0] == nil {
		ips = nil
		if addrs, err := net.LookupIP(host); err == nil {
			ips = addrs
		}
	}
	if len(ips) == 0 {
		return []string{host}
	}
	var out []string
	for _, ip := range ips {
		if ip.To4() != nil {
			out = append(out, ip.String()+"/32")
		} else {
			out = append(out, ip.String()+"/128")
		}
	}
	return out
}

// datanodePid returns the postmaster's pid when the datanode runs.
func (c *Cluster) datanodePid(n Node) (int, bool) {
	pid, err := readPid(filepath.Join(c.DataDir(n.Name), "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	return pid, procAlive(pid, "postgres")
}

// staleServerWait bounds how long starting a datanode waits for what a
// killed server left behind (backends, an unreaped postmaster).
const staleServerWait = 30 * time.Second

func (c *Cluster) startDatanode(ctx context.Context, e *env, n Node) error {
	if pid, ok := c.datanodePid(n); ok {
		c.say("Datanode %s is already running (pid %d).", n.Name, pid)
		return nil
	}
	if _, err := os.Stat(filepath.Join(c.DataDir(n.Name), "PG_VERSION")); err != nil {
		return fmt.Errorf("%s is not a datanode data directory (run xlctl init)", c.DataDir(n.Name))
	}
	// Right after a kill -9 of the postmaster its backends may still run,
	// and the dead postmaster may not be reaped yet.
	if removed, err := clearStaleServer(c.DataDir(n.Name), staleServerWait); err != nil {
		return fmt.Errorf("datanode %s: %w", n.Name, err)
	} else if removed {
		c.say("Removed the postmaster.pid of datanode %s's dead server.", n.Name)
	}
	c.say("Start datanode %s", n.Name)
	err := runOut(c.pgCmd(ctx, e, n, true, "pg_ctl", "start", "-D", c.DataDir(n.Name), "-l", c.LogPath(n.Name), "-w", "-t", "120", "-s"))
	if err != nil {
		return fmt.Errorf("%w\nlast lines of %s:\n%s", err, c.LogPath(n.Name), c.LogTail(n.Name, 20))
	}
	if pid, ok := c.datanodePid(n); ok {
		os.WriteFile(c.PidPath(n.Name), []byte(strconv.Itoa(pid)+"\n"), 0o644)
	}
	return nil
}

// createClientRole creates a superuser role for the invoking OS user (root
// when PostgreSQL runs as os_user) so psql works without -U.
func (c *Cluster) createClientRole(ctx context.Context, e *env, n Node) error {
	cc, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=disable connect_timeout=10", c.connHost(n, RoleDatanode), n.Port, e.pgUser.Name))
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	role := c.ClientUser()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" SUPERUSER LOGIN")
	return err
}

// createClientDatabase creates, through coordinator co, a database named
// after the client role, as PostgreSQL's own packages do for their user:
// psql with no -d then connects to it, as the guide's `psql -p 20004` did
// for its postgres user.
func (c *Cluster) createClientDatabase(ctx context.Context, co Node, db string) error {
	conn, err := connectSimple(ctx, c.connHost(co, RoleCoordinator), co.Port, c.ClientUser(), "postgres")
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize())
	return err
}

// spawn starts a gtm or coordinator detached from the terminal, logging to
// HOME/log/NAME.log, and records its pid. The channel yields its exit.
func (c *Cluster) spawn(n Node, bin string, args []string) (<-chan error, error) {
	name := n.Name
	path, err := c.binary(bin)
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(c.LogPath(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logf, "%s xlctl: starting %s %s\n", time.Now().Format(time.RFC3339), path, strings.Join(args, " "))
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = c.Home
	cmd.Env = CleanEnv()
	cmd = c.launch(context.Background(), n, cmd) // the daemon outlives the verb that starts it
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	if err := os.WriteFile(c.PidPath(name), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		cmd.Process.Kill()
		logf.Close()
		return nil, err
	}
	exited := make(chan error, 1)
	go func() {
		exited <- cmd.Wait()
		logf.Close()
	}()
	return exited, nil
}

// spawnedPid returns the pid of a running gtm or coordinator started by
// xlctl, identified by its pid file and its --name argument.
func (c *Cluster) spawnedPid(n Node) (int, bool) {
	pid, err := readPid(c.PidPath(n.Name))
	if err != nil {
		return 0, false
	}
	return pid, procAlive(pid, "--name\x00"+n.Name+"\x00")
}

// processArgs are the flags every gtm and coordinator n gets: log level
// and format, its metrics address.
func (c *Cluster) processArgs(n Node) []string {
	var args []string
	if c.Config.LogLevel != "" {
		args = append(args, "--log-level", c.Config.LogLevel)
	}
	if c.Config.LogFormat != "" {
		args = append(args, "--log-format", c.Config.LogFormat)
	}
	if addr := c.Config.MetricsAddr(n); addr != "" {
		args = append(args, "--metrics-listen", addr)
		if c.Config.Metrics.Pprof {
			args = append(args, "--pprof")
		}
	}
	return args
}

// GTMFailoverAfter is the gtms' failover time when the config has a gtm
// standby: automatic failover is on (gtm --failover-after, coordinator
// --gtm-failover-after).
const GTMFailoverAfter = 8 * time.Second

// gtmFailoverArgs turns the gtm's automatic failover on when it has a standby.
func (c *Cluster) gtmFailoverArgs(flag string) []string {
	if !c.Config.HasGTMStandby() {
		return nil
	}
	return []string{flag, GTMFailoverAfter.String()}
}

// GTMArgs are the command-line flags of the gtm process.
func (c *Cluster) GTMArgs() []string {
	g := c.Config.GTM
	return append(append([]string{"--name", g.Name, "--listen", g.Host, "--port", strconv.Itoa(g.Port),
		"--data-dir", c.DataDir(g.Name)}, c.processArgs(g)...), c.gtmFailoverArgs("--failover-after")...)
}

// CoordinatorArgs are the command-line flags of coordinator n.
func (c *Cluster) CoordinatorArgs(n Node, socketDir string) []string {
	return append([]string{"--name", n.Name, "--listen", n.Host, "--port", strconv.Itoa(n.Port),
		"--unix-socket-dir", socketDir, "--gtm", c.Config.GTMAddrs(), "--data-dir", c.DataDir(n.Name),
		"--cluster-name", c.Config.ClusterName, "--config", c.CoordinatorSettingsPath(n)}, append(append(append(c.processArgs(n), c.coordinatorAuthArgs(n)...),
		c.gtmFailoverArgs("--gtm-failover-after")...), c.datanodeFailoverArgs()...)...)
}

// datanodeFailoverArgs are the coordinators' datanode failover settings of
// the config.
func (c *Cluster) datanodeFailoverArgs() []string {
	var args []string
	if c.Config.FailoverAfter != "" {
		args = append(args, "--failover-after", c.Config.FailoverAfter)
	}
	if c.Config.FailoverWait != "" {
		args = append(args, "--failover-wait", c.Config.FailoverWait)
	}
	return args
}

func (c *Cluster) startGTM(ctx context.Context) error {
	g := c.Config.GTM
	if pid, ok := c.spawnedPid(g); ok {
		c.say("GTM %s is already running (pid %d).", g.Name, pid)
		return nil
	}
	c.say("Start GTM %s", g.Name)
	if err := os.MkdirAll(c.DataDir(g.Name), 0o700); err != nil {
		return err
	}
	exited, err := c.spawn(g, "gtm", c.GTMArgs())
	if err != nil {
		return err
	}
	if err := waitTCP(ctx, g.Addr(), c.readyTimeout(), exited); err != nil {
		return fmt.Errorf("gtm %s: %w\nlast lines of %s:\n%s", g.Name, err, c.LogPath(g.Name), c.LogTail(g.Name, 20))
	}
	return nil
}

func (c *Cluster) startCoordinator(ctx context.Context, e *env, n Node) error {
	if pid, ok := c.spawnedPid(n); ok {
		c.say("Coordinator %s is already running (pid %d).", n.Name, pid)
		return nil
	}
	c.say("Start coordinator %s", n.Name)
	if err := os.MkdirAll(c.DataDir(n.Name), 0o700); err != nil {
		return err
	}
	if err := c.writeCoordinatorAuth(n); err != nil {
		return err
	}
	if err := c.writeCoordinatorSettings(n); err != nil {
		return err
	}
	exited, err := c.spawn(n, "coordinator", c.CoordinatorArgs(n, e.crdSocket))
	if err != nil {
		return err
	}
	if err := waitSQL(ctx, c.connHost(n, RoleCoordinator), n.Port, c.ClientUser(), c.readyTimeout(), exited, true); err != nil {
		return fmt.Errorf("coordinator %s: %w\nsee %s; its last lines:\n%s", n.Name, err, c.LogPath(n.Name), c.LogTail(n.Name, 20))
	}
	return nil
}

// waitTCP polls until addr accepts a TCP connection.
func waitTCP(ctx context.Context, addr string, d time.Duration, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var dialer net.Dialer
	for {
		conn, err := dialer.DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case err := <-exited:
			if err == nil {
				err = errors.New("exited")
			}
			return fmt.Errorf("process ended before it accepted connections on %s: %w", addr, err)
		case <-ctx.Done():
			return fmt.Errorf("nothing accepts connections on %s after %s: %w", addr, d, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Start starts the datanodes, the gtm and the coordinators, in that order,
// leaving running ones alone.
func (c *Cluster) Start(ctx context.Context) error {
	e, err := c.resolve()
	if err != nil {
		return err
	}
	start := func(nodes []Node) error {
		for _, n := range nodes {
			_, role, _ := c.Config.Node(n.Name)
			if err := c.startNode(ctx, e, n, role); err != nil {
				return &StepError{"start " + strings.ReplaceAll(role, "_", " ") + " " + n.Name + c.onHostSuffix(n), err}
			}
		}
		return nil
	}
	// A gtm standby that promoted itself is the gtm: the old one comes back
	// as its standby.
	if err := c.adoptGTMFailover(ctx); err != nil {
		return err
	}
	gtms := []Node{c.Config.GTM}
	if c.Config.HasGTMStandby() {
		gtms = append(gtms, c.Config.GTMStandby)
	}
	if err := start(gtms); err != nil {
		return err
	}
	// A datanode the coordinators failed over while xlctl did not look is
	// not started again: the config first follows the gtm's record.
	if err := c.AdoptFailovers(ctx); err != nil {
		return err
	}
	if err := start(append(append([]Node{}, c.Config.Datanodes...), c.Config.activeStandbys()...)); err != nil {
		return err
	}
	if err := start(c.Config.Coordinators); err != nil {
		return err
	}
	return c.startPrometheus(ctx)
}

// StopModes are the modes Stop accepts (pg_ctl's).
var StopModes = []string{"fast", "immediate", "smart"}

// Stop stops the coordinators, the gtm and the datanodes, in that order. Mode
// is fast, smart (SIGTERM, pg_ctl stop -m MODE) or immediate (SIGKILL).
func (c *Cluster) Stop(ctx context.Context, mode string) error {
	if mode == "" {
		mode = "fast"
	}
	if !containsStr(StopModes, mode) {
		return fmt.Errorf("stop mode %q: want fast, immediate or smart", mode)
	}
	e, err := c.resolve()
	if err != nil {
		return err
	}
	// The config learns the failovers made while it was not looking, while
	// the processes still run to tell: the next start must not bring a
	// replaced gtm or datanode back as the primary. Immediate stops (tests,
	// init's clean-up) do not wait for that.
	if mode != "immediate" {
		if err := c.AdoptFailovers(ctx); err != nil {
			return err
		}
	}
	nodes := append(append([]Node{}, c.Config.Coordinators...), c.Config.GTM)
	if c.Config.HasGTMStandby() {
		nodes = append(nodes, c.Config.GTMStandby)
	}
	nodes = append(append(nodes, c.Config.Datanodes...), c.Config.DatanodeStandbys...)
	return errors.Join(c.stopPrometheus(mode), c.stopNodes(ctx, e, nodes, mode))
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// stopNodes stops nodes in the order coordinators, gtm standby, gtm, datanodes.
func (c *Cluster) stopNodes(ctx context.Context, e *env, nodes []Node, mode string) error {
	var errs []error
	order := map[string]int{RoleCoordinator: 0, RoleGTMStandby: 1, RoleGTM: 2, RoleDatanode: 3, RoleDatanodeStandby: 4}
	for pass := 0; pass < 5; pass++ {
		for _, n := range nodes {
			_, role, _ := c.Config.Node(n.Name)
			if order[role] != pass {
				continue
			}
			if err := c.stopNode(ctx, e, n, role, mode); err != nil {
				errs = append(errs, fmt.Errorf("stop %s %s: %w", role, n.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (c *Cluster) stopSpawned(n Node, role, mode string) error {
	pid, ok := c.spawnedPid(n)
	if !ok {
		os.Remove(c.PidPath(n.Name))
		return nil
	}
	c.say("Stop %s %s (pid %d, %s)", role, n.Name, pid, mode)
	// As pg_ctl's modes: smart lets a coordinator's open transactions
	// finish (SIGTERM), fast rolls them back (SIGINT).
	sig := syscall.SIGINT
	switch mode {
	case "immediate":
		sig = syscall.SIGKILL
	case "smart":
		sig = syscall.SIGTERM
	}
	want := "--name\x00" + n.Name + "\x00"
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	if !waitGone(pid, 45*time.Second, want) {
		c.say("%s %s did not exit within 30s of %v; sending SIGKILL", role, n.Name, sig)
		syscall.Kill(pid, syscall.SIGKILL)
		if !waitGone(pid, 10*time.Second, want) {
			return fmt.Errorf("pid %d is still running", pid)
		}
	}
	os.Remove(c.PidPath(n.Name))
	return nil
}

func (c *Cluster) stopDatanode(ctx context.Context, e *env, n Node, mode string) error {
	if _, ok := c.datanodePid(n); !ok {
		os.Remove(c.PidPath(n.Name))
		return nil
	}
	c.say("Stop datanode %s (%s)", n.Name, mode)
	if err := runOut(c.pgCmd(ctx, e, n, false, "pg_ctl", "stop", "-D", c.DataDir(n.Name), "-m", mode, "-w", "-t", "120", "-s")); err != nil {
		return err
	}
	os.Remove(c.PidPath(n.Name))
	return nil
}

// ProcessStatus is one line of xlctl status.
type ProcessStatus struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Addr    string `json:"addr"`
	Pid     int    `json:"pid"` // 0 when stopped
	Running bool   `json:"running"`
	Log     string `json:"log"`
	// Err says why the state is unknown: the node's host could not be asked.
	Err string `json:"error,omitempty"`
}

// Status reports every process of the cluster: gtm, coordinators, datanodes.
func (c *Cluster) Status(ctx context.Context) ([]ProcessStatus, error) {
	if err := c.Config.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	if err := c.AdoptFailovers(ctx); err != nil {
		return nil, err
	}
	var out []ProcessStatus
	for _, n := range c.allNodes() {
		_, role, _ := c.Config.Node(n.Name)
		out = append(out, c.nodeStatus(ctx, n, role))
	}
	return out, ctx.Err()
}

// Clean stops the cluster, then removes its data directories, logs and pid
// files. The config file stays.
func (c *Cluster) Clean(ctx context.Context) error {
	if err := c.Stop(ctx, "fast"); err != nil {
		c.say("Stop failed (%v); stopping immediately", err)
		if err := c.Stop(ctx, "immediate"); err != nil {
			return fmt.Errorf("clean: %w", err)
		}
	}
	var errs []error
	for _, n := range c.allNodes() {
		errs = append(errs, c.cleanNode(ctx, n))
	}
	for _, d := range []string{filepath.Join(c.Home, "log"), filepath.Join(c.Home, "run")} {
		if dirExists(d) {
			c.say("Remove %s", d)
			errs = append(errs, os.RemoveAll(d))
		}
	}
	return errors.Join(errs...)
}

func dirExists(d string) bool {
	st, err := os.Stat(d)
	return err == nil && st.IsDir()
}

// WaitCoordinators waits until every coordinator answers SELECT 1, for at
// most ReadyTimeout each.
func (c *Cluster) WaitCoordinators(ctx context.Context) error {
	for _, n := range c.Config.Coordinators {
		if c.remote(n) {
			if err := c.coordinatorStep(ctx, n, "check", ""); err != nil {
				return err
			}
			continue
		}
		if err := waitSQL(ctx, n.Host, n.Port, c.ClientUser(), c.readyTimeout(), nil, true); err != nil {
			return fmt.Errorf("coordinator %s: %w", n.Name, err)
		}
	}
	return nil
}

// ConnectHint is the psql command line that reaches the first coordinator.
func (c *Cluster) ConnectHint() string {
	co := c.Config.Coordinators[0]
	uid, gids := selfIDs()
	dir := pickSocketDir(c.Config.SocketDir, uid, gids)
	if dir == libpqSocketDir && (co.Host == "127.0.0.1" || co.Host == "localhost") {
		return fmt.Sprintf("psql -p %d", co.Port)
	}
	return fmt.Sprintf("psql -h %s -p %d", co.Host, co.Port)
}
