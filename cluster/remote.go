package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Nodes on other hosts. A node whose host is not this machine (see
// isLocalHost) is worked on over ssh, as pgxc_ctl does: xlctl runs
// `xlctl node VERB NAME` on that host (from the config's bin_dir, which
// xlctl deploy fills), with the config on its standard input, and that xlctl
// does there what it would do here for a local node. Connections the verb
// makes on the host (registering nodes on a coordinator, a role on a
// datanode) go through the host's Unix sockets, which every PostgreSQL and
// coordinator trusts by default, so the cluster's client rules need not
// admit the host xlctl runs on.

// NodeVerbs are the verbs of `xlctl node`.
var NodeVerbs = []string{"init", "start", "stop", "status", "clean", "role", "register", "check", "createdb", "sync", "promote", "replication", "rejoin",
	"hba", "copyschema", "unregister", "rebalance"}

// isLocalHost reports whether host is this machine: empty, localhost, a
// loopback address, an address of one of its interfaces or its host name.
func isLocalHost(host string) bool {
	switch strings.ToLower(host) {
	case "", "localhost", "localhost.localdomain":
		return true
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsLoopback() {
			return true
		}
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
				return true
			}
		}
		return false
	}
	h, err := os.Hostname()
	return err == nil && strings.EqualFold(h, host)
}

// remote reports whether node n is worked on over ssh.
func (c *Cluster) remote(n Node) bool {
	return c.agent == nil && c.Launch == nil && !isLocalHost(n.Host)
}

func (c *Cluster) anyLocal(nodes []Node) bool {
	for _, n := range nodes {
		if !c.remote(n) {
			return true
		}
	}
	return false
}

// RemoteBinDir is where the xlgo binaries are on the other hosts.
func (c *Cluster) RemoteBinDir() string {
	if c.Config.BinDir != "" {
		return c.Config.BinDir
	}
	return path.Join(c.Home, "bin")
}

// sshCmd runs argv on host through the config's ssh command.
func (c *Cluster) sshCmd(ctx context.Context, host string, argv ...string) *exec.Cmd {
	ssh := strings.Fields(c.Config.SSH)
	if len(ssh) == 0 {
		ssh = strings.Fields(DefaultSSH)
	}
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = shellQuote(a)
	}
	args := append(append(ssh[1:len(ssh):len(ssh)], host, "--"), strings.Join(quoted, " "))
	cmd := exec.CommandContext(ctx, ssh[0], args...)
	cmd.Env = os.Environ() // the user's agent (SSH_AUTH_SOCK) and HOME
	return cmd
}

// shellQuote quotes s for the remote shell that runs an ssh command.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-=:,+@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// HostError is a host that could not be reached or lacks what xlctl needs.
type HostError struct {
	Host string
	Err  error
}

func (e *HostError) Error() string { return fmt.Sprintf("host %s: %v", e.Host, e.Err) }
func (e *HostError) Unwrap() error { return e.Err }

// sshRun runs a command on host and returns its output. Progress, when not
// nil, receives the command's standard output as it comes.
func (c *Cluster) sshRun(ctx context.Context, host string, stdin io.Reader, progress io.Writer, argv ...string) ([]byte, error) {
	cmd := c.sshCmd(ctx, host, argv...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if progress != nil {
		cmd.Stdout = io.MultiWriter(&stdout, progress)
	}
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	msg := strings.TrimSpace(stderr.String())
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() == 255:
		if msg == "" {
			msg = "ssh failed"
		}
		return nil, &HostError{host, fmt.Errorf("cannot reach it over ssh (%s): %s", strings.Join(cmd.Args[:len(cmd.Args)-1], " "), msg)}
	case errors.As(err, &ee) && (ee.ExitCode() == 126 || ee.ExitCode() == 127):
		return nil, &HostError{host, fmt.Errorf("cannot run %s there (xlctl deploy copies the xlgo binaries to %s): %s", argv[0], c.RemoteBinDir(), msg)}
	case errors.As(err, &ee):
		if msg == "" {
			msg = err.Error()
		}
		return nil, &HostError{host, errors.New(strings.TrimPrefix(msg, "xlctl: "))}
	}
	return nil, &HostError{host, fmt.Errorf("ssh: %w", err)}
}

// onHost runs `xlctl node VERB NAME ARGS...` on the host of n with the
// config on its standard input; what it prints goes to Out unless the verb
// answers with data (status).
func (c *Cluster) onHost(ctx context.Context, n Node, verb string, args ...string) ([]byte, error) {
	bin := c.RemoteBinDir()
	argv := append([]string{path.Join(bin, "xlctl"), "--home", c.Home, "--bin", bin, "--config", "-", "node", verb, n.Name,
		"--client-user", c.ClientUser()}, args...)
	var progress io.Writer = c.out()
	if verb == "status" || verb == "replication" {
		progress = nil
	}
	return c.sshRun(ctx, n.Host, bytes.NewReader(c.Config.YAML()), progress, argv...)
}

// NodeVerb does, on this machine, one verb of `xlctl node` for node name:
// what xlctl on another host asked for over ssh. Status writes the node's
// ProcessStatus to w as JSON.
func (c *Cluster) NodeVerb(ctx context.Context, w io.Writer, verb, name, arg string) error {
	if c.ClientRole == "" {
		return errors.New("node: --client-user is required")
	}
	n, role, ok := c.Config.Node(name)
	if !ok {
		return fmt.Errorf("node: no node %q in the config", name)
	}
	if err := c.Config.Validate(); err != nil {
		return fmt.Errorf("invalid config: %w", err)
	}
	c.agent = &env{} // every node is here now
	e, err := c.resolveFor([]Node{n})
	if err != nil {
		return err
	}
	c.agent = e
	switch verb {
	case "init":
		if err := c.prepareHome(e); err != nil {
			return err
		}
		if isPostgres(role) {
			return c.initNode(ctx, e, n, role)
		}
		return os.MkdirAll(c.DataDir(n.Name), 0o700)
	case "start":
		return c.startNode(ctx, e, n, role)
	case "stop":
		return c.stopNode(ctx, e, n, role, arg)
	case "status":
		return json.NewEncoder(w).Encode(c.nodeStatus(ctx, n, role))
	case "reload":
		return c.reloadCoordinator(n)
	case "clean":
		return c.cleanNode(ctx, n)
	case "role":
		return c.clientRoleOn(ctx, e, n)
	case "register", "check", "createdb", "unregister", "rebalance":
		return c.coordinatorStep(ctx, n, verb, arg)
	case "sync", "promote", "hba", "copyschema":
		return c.pgStep(ctx, n, verb, arg)
	case "rejoin":
		return c.rewind(ctx, e, n)
	case "replication":
		list, err := c.replicationOf(ctx, n)
		if err != nil {
			return err
		}
		return json.NewEncoder(w).Encode(list)
	}
	return fmt.Errorf("node: unknown verb %q (want one of %s)", verb, strings.Join(NodeVerbs, ", "))
}

// connHost is where xlctl connects to reach node n: its address, or on
// the node's own host its Unix socket directory.
func (c *Cluster) connHost(n Node, role string) string {
	if c.agent == nil {
		return n.Host
	}
	if isPostgres(role) {
		return c.agent.dnSocket
	}
	return c.agent.crdSocket
}

// deployed are the binaries xlctl deploy copies.
var deployed = []string{"xlctl", "gtm", "coordinator"}

// localBinary finds the binary this xlctl would copy to other hosts.
func (c *Cluster) localBinary(name string) (string, error) {
	if name == "xlctl" {
		if c.BinDir != "" {
			if p := filepath.Join(c.BinDir, name); fileExists(p) {
				return p, nil
			}
		}
		if exe, err := os.Executable(); err == nil && filepath.Base(exe) == "xlctl" {
			return exe, nil
		}
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		return "", fmt.Errorf("xlctl binary not found in %q or on PATH (run make build, or pass --bin)", c.BinDir)
	}
	return c.binary(name)
}

func fileSum(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// remoteHosts lists the hosts of the config that are not this machine, in
// the config's order.
func (c *Cluster) remoteHosts() []string {
	var hosts []string
	for _, n := range c.allNodes() {
		if c.remote(n) && !containsStr(hosts, n.Host) {
			hosts = append(hosts, n.Host)
		}
	}
	return hosts
}

// Deploy copies xlctl, gtm and coordinator to RemoteBinDir on every other
// host of the config that lacks them or has other builds of them
// (pgxc_ctl's deploy all).
func (c *Cluster) Deploy(ctx context.Context) error {
	if err := c.Config.Validate(); err != nil {
		return fmt.Errorf("invalid config: %w", err)
	}
	hosts := c.remoteHosts()
	if len(hosts) == 0 {
		c.say("Every node runs on this host: nothing to deploy.")
		return nil
	}
	local := map[string]string{}
	sums := map[string]string{}
	for _, b := range deployed {
		p, err := c.localBinary(b)
		if err != nil {
			return err
		}
		if sums[b], err = fileSum(p); err != nil {
			return err
		}
		local[b] = p
	}
	dir := c.RemoteBinDir()
	for _, h := range hosts {
		out, err := c.sshRun(ctx, h, nil, nil, "sh", "-c", "cd "+shellQuote(dir)+" 2>/dev/null && sha256sum "+strings.Join(deployed, " ")+" 2>/dev/null; true")
		if err != nil {
			return err
		}
		have := map[string]string{}
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) == 2 {
				have[f[1]] = f[0]
			}
		}
		for _, b := range deployed {
			if have[b] == sums[b] {
				continue
			}
			c.say("Deploy %s to %s:%s", b, h, dir)
			f, err := os.Open(local[b])
			if err != nil {
				return err
			}
			tmp := path.Join(dir, "."+b+".new")
			_, err = c.sshRun(ctx, h, f, nil, "sh", "-c", fmt.Sprintf("mkdir -p %s && cat > %s && chmod 755 %s && mv -f %s %s",
				shellQuote(dir), shellQuote(tmp), shellQuote(tmp), shellQuote(tmp), shellQuote(path.Join(dir, b))))
			f.Close()
			if err != nil {
				return fmt.Errorf("deploy %s: %w", b, err)
			}
		}
	}
	c.say("The xlgo binaries are in %s on %s.", dir, strings.Join(hosts, ", "))
	return nil
}

// onHostSuffix names n's host in a step when it is another machine.
func (c *Cluster) onHostSuffix(n Node) string {
	if c.remote(n) {
		return " on " + n.Host
	}
	return ""
}

// initNode makes a node's directories on its host; a datanode's by initdb.
func (c *Cluster) initNode(ctx context.Context, e *env, n Node, role string) error {
	if c.remote(n) {
		_, err := c.onHost(ctx, n, "init")
		return err
	}
	switch role {
	case RoleDatanode:
		return c.initDatanode(ctx, e, n)
	case RoleDatanodeStandby:
		return c.initStandby(ctx, e, n)
	}
	return nil
}

func (c *Cluster) startNode(ctx context.Context, e *env, n Node, role string) error {
	if c.remote(n) {
		_, err := c.onHost(ctx, n, "start")
		return err
	}
	switch role {
	case RoleDatanode, RoleDatanodeStandby:
		return c.startDatanode(ctx, e, n)
	case RoleGTM:
		return c.startGTM(ctx)
	case RoleGTMStandby:
		return c.startGTMStandby(ctx)
	}
	return c.startCoordinator(ctx, e, n)
}

func (c *Cluster) stopNode(ctx context.Context, e *env, n Node, role, mode string) error {
	if c.remote(n) {
		_, err := c.onHost(ctx, n, "stop", mode)
		return err
	}
	if isPostgres(role) {
		return c.stopDatanode(ctx, e, n, mode)
	}
	return c.stopSpawned(n, role, mode)
}

// nodeStatus is n's line of xlctl status; a host that cannot be asked
// leaves the state unknown and says why.
func (c *Cluster) nodeStatus(ctx context.Context, n Node, role string) ProcessStatus {
	st := ProcessStatus{Name: n.Name, Role: role, Addr: n.Addr(), Log: c.LogPath(n.Name)}
	if c.remote(n) {
		out, err := c.onHost(ctx, n, "status")
		if err == nil {
			err = json.Unmarshal(out, &st)
		}
		if err != nil {
			st.Err = err.Error()
		}
		return st
	}
	var pid int
	var ok bool
	if isPostgres(role) {
		pid, ok = c.datanodePid(n)
	} else {
		pid, ok = c.spawnedPid(n)
	}
	if ok {
		st.Pid, st.Running = pid, true
	}
	return st
}

// cleanNode removes n's data directory, and on its own host its log and
// pid file.
func (c *Cluster) cleanNode(ctx context.Context, n Node) error {
	if c.remote(n) {
		_, err := c.onHost(ctx, n, "clean")
		return err
	}
	var errs []error
	paths := []string{c.DataDir(n.Name)}
	if c.agent != nil {
		paths = append(paths, c.LogPath(n.Name), c.PidPath(n.Name))
	}
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			c.say("Remove %s", p)
			errs = append(errs, os.RemoveAll(p))
		}
	}
	return errors.Join(errs...)
}

// clientRoleOn makes the client's role on datanode n when PostgreSQL runs
// under another account there.
func (c *Cluster) clientRoleOn(ctx context.Context, e *env, n Node) error {
	if c.remote(n) {
		_, err := c.onHost(ctx, n, "role")
		return err
	}
	if e.pgUser == nil || c.ClientUser() == e.pgUser.Name {
		return nil
	}
	return c.createClientRole(ctx, e, n)
}

// coordinatorStep registers the nodes on coordinator n, checks that it
// answers, or creates the client's database through it.
func (c *Cluster) coordinatorStep(ctx context.Context, n Node, verb, arg string) error {
	if c.remote(n) {
		var args []string
		if arg != "" {
			args = []string{arg}
		}
		_, err := c.onHost(ctx, n, verb, args...)
		return err
	}
	switch verb {
	case "register":
		return c.registerOn(ctx, n)
	case "check":
		return c.checkCoordinator(ctx, n)
	case "createdb":
		return c.createClientDatabase(ctx, n, arg)
	case "unregister":
		return c.unregisterOn(ctx, n, arg)
	case "rebalance":
		return c.Rebalance(ctx, parseRebalanceArg(arg))
	}
	return fmt.Errorf("unknown coordinator step %q", verb)
}

func (c *Cluster) checkCoordinator(ctx context.Context, n Node) error {
	return waitSQL(ctx, c.connHost(n, RoleCoordinator), n.Port, c.ClientUser(), c.readyTimeout(), nil, false)
}

// TrustedHost is the host that commands reaching the datanodes directly
// (in-doubt listing, resolve) run on: the first coordinator's, which every
// datanode trusts. It is "" when they can run here: every datanode is on
// this machine, or a coordinator is.
func (c *Cluster) TrustedHost() string {
	if c.agent != nil || c.Launch != nil || len(c.Config.Coordinators) == 0 || !slices.ContainsFunc(c.Config.Datanodes, c.remote) {
		return ""
	}
	if slices.ContainsFunc(c.Config.Coordinators, func(n Node) bool { return !c.remote(n) }) {
		return ""
	}
	return c.Config.Coordinators[0].Host
}

// RunXlctl runs `xlctl ARGS...` on host with the cluster's home and config,
// its output to w.
func (c *Cluster) RunXlctl(ctx context.Context, host string, w io.Writer, args ...string) error {
	bin := c.RemoteBinDir()
	argv := append([]string{path.Join(bin, "xlctl"), "--home", c.Home, "--bin", bin, "--config", "-"}, args...)
	_, err := c.sshRun(ctx, host, bytes.NewReader(c.Config.YAML()), w, argv...)
	return err
}
