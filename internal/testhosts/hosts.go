package testhosts

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultPrefix starts the names of everything a Net creates when
// Options.Prefix is empty.
const DefaultPrefix = "xlgo"

// ErrUnavailable is wrapped by the errors of New that mean this machine (or
// this user) cannot make hosts: not root, no network namespaces, no cgroup
// with the cpu controller, no sshd.
var ErrUnavailable = errors.New("simulated hosts unavailable")

// ErrNoNetem is wrapped by the error of New when Options.Delay is set and the
// kernel has no netem queueing discipline (or tc is missing).
var ErrNoNetem = errors.New("netem is unavailable: cannot delay the network")

// Options shape a Net; zero values take the defaults.
type Options struct {
	// CPU is the CPU time each host may use, in cores (0.5 is half a core);
	// 0 leaves hosts uncapped.
	CPU float64
	// Delay is added to every packet a host (and the root namespace) sends
	// to the hosts' network, so a round trip between two of them takes
	// 2*Delay more. It needs netem.
	Delay time.Duration
	// SSH runs an sshd on port 22 of every host and writes a client config
	// (Net.SSHConfig) that logs in as root with a generated key.
	SSH bool
	// Prefix starts the names of namespaces, cgroups and temp dirs
	// (DefaultPrefix when empty); Sweep finds leftovers by it.
	Prefix string
}

// Net is a set of simulated hosts on one private /24 network.
type Net struct {
	opt    Options
	base   string // PREFIX-PID-SEQ: the name every object starts with
	dir    string // temp dir: keys, configs, logs
	ipPath string
	subnet netip.Prefix
	gw     netip.Addr // the root namespace's address on the hosts' network
	link   string     // the root namespace's end of its veth to the switch
	swNS   string     // the namespace holding the bridge
	cg     *cgroups
	hosts  []*Host

	sshConfig string

	closeOnce sync.Once
	closeErr  error
	mu        sync.Mutex
	created   []string // namespaces made, to delete
	daemons   []*daemon
}

// Host is one simulated host: a network namespace with one address and a
// cgroup that every process started on it runs in.
type Host struct {
	net   *Net
	name  string
	ns    string
	addr  netip.Addr
	cgDir []string // the host's cgroup in each hierarchy it joins
	sshd  *daemon  // its sshd, with Options.SSH
}

// daemon is a process the Net started and waits for.
type daemon struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

var seq atomic.Int64

// New makes n hosts named h1..hn. On error nothing of it is left.
func New(ctx context.Context, n int, opt Options) (*Net, error) {
	if n < 1 || n > 250 {
		return nil, fmt.Errorf("testhosts: %d hosts: want 1 to 250", n)
	}
	if opt.Prefix == "" {
		opt.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(opt.Prefix, "/ \t\n'\"") {
		return nil, fmt.Errorf("testhosts: prefix %q: no slashes, blanks or quotes", opt.Prefix)
	}
	if opt.CPU < 0 {
		return nil, fmt.Errorf("testhosts: CPU %v: want 0 (no cap) or more", opt.CPU)
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: network namespaces and cgroups need root", ErrUnavailable)
	}
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		return nil, fmt.Errorf("%w: iproute2's ip is not installed", ErrUnavailable)
	}
	if opt.SSH {
		if err := sshAvailable(); err != nil {
			return nil, err
		}
	}
	// Leftovers of killed runs would hold addresses and names.
	_ = Sweep(ctx, opt.Prefix)

	s := seq.Add(1)
	nt := &Net{
		opt:    opt,
		base:   fmt.Sprintf("%s-%d-%d", opt.Prefix, os.Getpid(), s),
		ipPath: ipPath,
		link:   fmt.Sprintf("xl%dn%d", os.Getpid(), s),
	}
	nt.swNS = nt.base + "-sw"
	if err := nt.build(ctx, n); err != nil {
		return nil, errors.Join(err, nt.Close())
	}
	return nt, nil
}

func (nt *Net) build(ctx context.Context, n int) error {
	if err := os.MkdirAll(tempRoot(), 0o755); err != nil {
		return err
	}
	dir := filepath.Join(tempRoot(), nt.base)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("testhosts: %w", err)
	}
	nt.dir = dir
	h, err := findHierarchies()
	if err != nil {
		return err
	}
	cg, err := newCgroups(h, nt.base)
	nt.cg = cg
	if err != nil {
		return err
	}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("h%d", i)
		dirs, err := cg.addHost(name, nt.opt.CPU)
		if err != nil {
			return err
		}
		nt.hosts = append(nt.hosts, &Host{net: nt, name: name, ns: nt.base + "-" + name, cgDir: dirs})
	}
	if err := cg.weigh(n); err != nil {
		return err
	}
	if err := nt.buildNetwork(ctx); err != nil {
		return err
	}
	if nt.opt.Delay > 0 {
		if err := nt.delay(ctx); err != nil {
			return err
		}
	}
	if nt.opt.SSH {
		if err := nt.startSSH(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Hosts returns the hosts, h1 first.
func (nt *Net) Hosts() []*Host { return nt.hosts }

// Host returns the host named name (h1, h2 ...), or nil.
func (nt *Net) Host(name string) *Host {
	for _, h := range nt.hosts {
		if h.name == name {
			return h
		}
	}
	return nil
}

// Subnet is the hosts' network.
func (nt *Net) Subnet() netip.Prefix { return nt.subnet }

// Gateway is the root namespace's address on the hosts' network: what a
// host sees as the address of a process running outside the hosts.
func (nt *Net) Gateway() netip.Addr { return nt.gw }

// Dir is the Net's temp dir (keys, configs, sshd logs); Close removes it.
func (nt *Net) Dir() string { return nt.dir }

// SSHConfig is the path of an ssh client config with one entry per host
// (by name and by address): `ssh -F PATH h1 true` runs on h1 as root with
// no prompt. Empty without Options.SSH.
func (nt *Net) SSHConfig() string { return nt.sshConfig }

// HostOf returns the host whose address is addr, or nil when none has it.
func (nt *Net) HostOf(addr string) *Host {
	for _, h := range nt.hosts {
		if h.addr.String() == addr {
			return h
		}
	}
	return nil
}

// Launch runs cmd on the host whose address is addr (Adopt), or returns it
// unchanged when no host has that address: a cluster's Launch hook.
func (nt *Net) Launch(ctx context.Context, addr string, cmd *exec.Cmd) *exec.Cmd {
	if h := nt.HostOf(addr); h != nil {
		return h.Adopt(ctx, cmd)
	}
	return cmd
}

// Name is the host's name: h1, h2 ...
func (h *Host) Name() string { return h.name }

// Namespace is the name of the host's network namespace (ip netns).
func (h *Host) Namespace() string { return h.ns }

// Addr is the host's address on the hosts' network.
func (h *Host) Addr() netip.Addr { return h.addr }

// Command returns a command that runs name with args inside the host: in
// its network namespace and its cgroup, as are all its children. It runs in
// a process group of its own. Close ends it if it still runs.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	var b strings.Builder
	for _, d := range h.cgDir {
		fmt.Fprintf(&b, "echo $$ > %s && ", shellQuote(filepath.Join(d, "cgroup.procs")))
	}
	fmt.Fprintf(&b, `exec %s netns exec %s "$@"`, shellQuote(h.net.ipPath), shellQuote(h.ns))
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", b.String(), "sh", name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// Adopt returns a command that runs cmd inside the host, as Command does:
// the same program, arguments, environment, directory and standard streams,
// as the account cmd's SysProcAttr.Credential names (entering the host needs
// root, so the account is taken on by setpriv once inside), in a session of
// its own when cmd asks for one, else in a process group of its own. Each
// step execs the next, so the process started is cmd's program, with the
// pid the returned command reports.
func (h *Host) Adopt(ctx context.Context, cmd *exec.Cmd) *exec.Cmd {
	args := cmd.Args[1:]
	prog := cmd.Path
	attr := cmd.SysProcAttr
	if attr != nil && attr.Credential != nil {
		c := attr.Credential
		groups := "--clear-groups"
		if len(c.Groups) > 0 {
			gs := make([]string, len(c.Groups))
			for i, g := range c.Groups {
				gs[i] = strconv.FormatUint(uint64(g), 10)
			}
			groups = "--groups=" + strings.Join(gs, ",")
		}
		args = append([]string{fmt.Sprintf("--reuid=%d", c.Uid), fmt.Sprintf("--regid=%d", c.Gid), groups, "--", prog}, args...)
		prog = "setpriv"
	}
	out := h.Command(ctx, prog, args...)
	out.Env, out.Dir = cmd.Env, cmd.Dir
	out.Stdin, out.Stdout, out.Stderr = cmd.Stdin, cmd.Stdout, cmd.Stderr
	out.ExtraFiles = cmd.ExtraFiles
	if attr != nil && attr.Setsid {
		out.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	return out
}

// CPUUsage is the CPU time the host's processes have used since it was made,
// from the cgroup's accounting.
func (h *Host) CPUUsage() (time.Duration, error) {
	return h.net.cg.usage(h.name)
}

// Close stops every process running on the hosts, then deletes the
// namespaces, links, cgroups and the temp dir. It may be called again.
func (nt *Net) Close() error {
	nt.closeOnce.Do(func() { nt.closeErr = nt.close() })
	return nt.closeErr
}

func (nt *Net) close() error {
	var errs []error
	if nt.cg != nil {
		for _, h := range nt.hosts {
			if err := nt.cg.stop(h.name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	nt.mu.Lock()
	daemons := nt.daemons
	nt.mu.Unlock()
	for _, d := range daemons {
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := deleteLink(ctx, nt.link); err != nil {
		errs = append(errs, err)
	}
	nt.mu.Lock()
	created := nt.created
	nt.mu.Unlock()
	for i := len(created) - 1; i >= 0; i-- {
		if err := deleteNetns(ctx, created[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if nt.cg != nil {
		if err := nt.cg.remove(); err != nil {
			errs = append(errs, err)
		}
	}
	if nt.dir != "" {
		if err := os.RemoveAll(nt.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("testhosts: close %s: %w", nt.base, err)
	}
	return nil
}

// start starts cmd as a daemon of the Net: Close kills it and waits for it.
func (nt *Net) start(cmd *exec.Cmd) (*daemon, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &daemon{cmd: cmd, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		close(d.done)
	}()
	nt.mu.Lock()
	nt.daemons = append(nt.daemons, d)
	nt.mu.Unlock()
	return d, nil
}

// run runs a setup command and returns its error with its output.
func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// tempRoot holds the temp dirs of every Net, so that Sweep looks nowhere else.
func tempRoot() string { return filepath.Join(os.TempDir(), "xlgo-testhosts") }

// Crash kill -9s every process of h but its sshd, as a machine that went down
// and came back up with only its sshd running: what ran there is gone, its
// files stay. It returns once they are gone.
func (h *Host) Crash() error {
	keep := 0
	if h.sshd != nil {
		keep = h.sshd.cmd.Process.Pid
	}
	left := func() []int {
		var pids []int
		for _, dir := range h.cgDir {
			for _, pid := range procs(dir) {
				if pid != keep && !slices.Contains(pids, pid) {
					pids = append(pids, pid)
				}
			}
		}
		return pids
	}
	for range 10 { // what a dying process forks meanwhile goes too
		pids := left()
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		within(time.Second, func() bool { return len(left()) == 0 })
	}
	if pids := left(); len(pids) > 0 {
		return fmt.Errorf("testhosts: %s: processes %v outlive kill -9", h.name, pids)
	}
	return nil
}

// Isolate cuts h off the network, or with cut false joins it again: its
// link to the switch goes down (up). Its processes run on, unreachable, as
// on the far side of a partition.
func (h *Host) Isolate(ctx context.Context, cut bool) error {
	state := "up"
	if cut {
		state = "down"
	}
	return h.net.ip(ctx, "-n", h.net.swNS, "link", "set", h.name, state)
}
