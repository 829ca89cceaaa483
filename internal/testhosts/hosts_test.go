package testhosts

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xlgo/xlgo/internal/poll"
)

// The test binary is also the program run on the hosts: with helperEnv set,
// TestMain runs one of the helpers below instead of the tests.
const helperEnv = "XLGO_TESTHOSTS_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "echo":
		echo(os.Args[1])
	case "dial":
		dial(os.Args[1], os.Args[2])
	case "spin":
		for {
		}
	case "leak":
		leak(os.Args[1])
	}
	os.Exit(0)
}

// echo listens on addr, says "listening", and answers each connection's
// line with the line and the caller's address.
func echo(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("listening")
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(1)
		}
		go func() {
			defer c.Close()
			line, _ := bufio.NewReader(c).ReadString('\n')
			from := c.RemoteAddr().(*net.TCPAddr).IP
			fmt.Fprintf(c, "%s from %s\n", strings.TrimSpace(line), from)
		}()
	}
}

// dial sends msg to addr and prints the answer.
func dial(addr, msg string) {
	ans, err := roundTrip(addr, msg)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println(ans)
}

func roundTrip(addr, msg string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "%s\n", msg)
	ans, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(ans), err
}

// leak makes a Net with a process on h1, prints its base name and waits to
// be killed, so that it never closes the Net.
func leak(prefix string) {
	nt, err := New(context.Background(), 1, Options{Prefix: prefix})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	cmd := nt.Hosts()[0].Command(context.Background(), os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=spin")
	if err := cmd.Start(); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	for len(procs(nt.Hosts()[0].cgDir[0])) == 0 {
		time.Sleep(time.Millisecond)
	}
	fmt.Println(nt.base)
	select {}
}

// helper returns a command running the helper on h (or on the root
// namespace when h is nil).
func helper(ctx context.Context, h *Host, name string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if h == nil {
		cmd = exec.CommandContext(ctx, os.Args[0], args...)
	} else {
		cmd = h.Command(ctx, os.Args[0], args...)
	}
	cmd.Env = append(os.Environ(), helperEnv+"="+name)
	return cmd
}

// startEcho runs the echo helper on h at port and returns once it listens.
func startEcho(t *testing.T, h *Host, port uint16) netip.AddrPort {
	t.Helper()
	addr := netip.AddrPortFrom(h.Addr(), port)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := helper(ctx, h, "echo", addr.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "listening\n" {
		t.Fatalf("echo on %s: %q %v", h.Name(), line, err)
	}
	return addr
}

func TestTwoHosts(t *testing.T) {
	nt := ForTest(t, 2, Options{SSH: true})
	h1, h2 := nt.Host("h1"), nt.Host("h2")
	if h1 == nil || h2 == nil || h1.Addr() == h2.Addr() || !nt.Subnet().Contains(h1.Addr()) || !nt.Subnet().Contains(h2.Addr()) {
		t.Fatalf("hosts %v in %s", nt.Hosts(), nt.Subnet())
	}
	t.Logf("subnet %s: h1 %s (%s), h2 %s, root namespace %s", nt.Subnet(), h1.Addr(), h1.Namespace(), h2.Addr(), nt.Gateway())
	ctx := context.Background()

	// TCP from the root namespace and from the other host: the listener sees
	// each caller's own address.
	addr := startEcho(t, h1, 7000)
	ans, err := roundTrip(addr.String(), "root")
	if want := "root from " + nt.Gateway().String(); ans != want || err != nil {
		t.Fatalf("from the root namespace: %q %v, want %q", ans, err, want)
	}
	out, err := helper(ctx, h2, "dial", addr.String(), "h2").CombinedOutput()
	if want := "h2 from " + h2.Addr().String() + "\n"; string(out) != want || err != nil {
		t.Fatalf("from h2: %q %v, want %q", out, err, want)
	}
	// h1's loopback is h1's own: the root namespace's listener is not there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if out, err := helper(ctx, h1, "dial", ln.Addr().String(), "x").CombinedOutput(); err == nil {
		t.Fatalf("h1 reached the root namespace's loopback: %q", out)
	}

	// ssh runs on the host: its namespace, its cgroup, no route off it.
	var rootAddrs []string
	as, _ := net.InterfaceAddrs()
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() && p.Addr() != nt.Gateway() {
			rootAddrs = append(rootAddrs, p.Addr().String())
		}
	}
	for _, h := range nt.Hosts() {
		out, err := h.SSH(ctx, "cat /proc/self/cgroup; ip -4 addr; ip -4 route").CombinedOutput()
		if err != nil {
			t.Fatalf("ssh %s: %v: %s", h.Name(), err, out)
		}
		s := string(out)
		if !strings.Contains(s, "inet "+h.Addr().String()+"/24") || !strings.Contains(s, "/"+nt.base+"/"+h.Name()+"\n") || strings.Contains(s, "\ndefault ") {
			t.Fatalf("ssh %s:\n%s", h.Name(), s)
		}
		for _, a := range rootAddrs {
			if strings.Contains(s, "inet "+a+"/") {
				t.Fatalf("ssh %s shows the root namespace's %s:\n%s", h.Name(), a, s)
			}
		}
		if h == h1 {
			t.Logf("ssh -F %s h1 'cat /proc/self/cgroup; ip -4 addr; ip -4 route':\n%s", nt.SSHConfig(), s)
		}
	}
	// By address too, as a config that names hosts by address has it.
	if out, err := exec.Command("ssh", "-F", nt.SSHConfig(), h2.Addr().String(), "hostname -I").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != h2.Addr().String() {
		t.Fatalf("ssh %s hostname -I: %q %v", h2.Addr(), out, err)
	}
	const n = 5
	start := time.Now()
	for range n {
		if out, err := h1.SSH(ctx, "true").CombinedOutput(); err != nil {
			t.Fatalf("ssh h1 true: %v: %s", err, out)
		}
	}
	t.Logf("ssh h1 true: %s per call (connection, key exchange, login, command), %d calls", time.Since(start)/n, n)
}

// Two Nets made at once take two subnets; each host reaches its own Net only.
func TestTwoNets(t *testing.T) {
	var nets [2]*Net
	var errs [2]error
	var wg sync.WaitGroup
	for i := range nets {
		wg.Go(func() { nets[i], errs[i] = New(context.Background(), 1, Options{}) })
	}
	wg.Wait()
	// Those made are closed at the end even if the other fails.
	for _, made := range []bool{true, false} {
		for i := range nets {
			if (errs[i] == nil) == made {
				forTest(t, nets[i], errs[i])
			}
		}
	}
	a, b := nets[0].Hosts()[0], nets[1].Hosts()[0]
	if nets[0].Subnet().Overlaps(nets[1].Subnet()) {
		t.Fatalf("two Nets on %s and %s", nets[0].Subnet(), nets[1].Subnet())
	}
	addr := startEcho(t, b, 7000)
	if _, err := roundTrip(addr.String(), "root"); err != nil {
		t.Fatalf("root namespace to %s: %v", addr, err)
	}
	if out, err := helper(context.Background(), a, "dial", addr.String(), "a").CombinedOutput(); err == nil {
		t.Fatalf("a host of %s reached %s: %q", nets[0].Subnet(), addr, out)
	}
}

func TestCPUCap(t *testing.T) {
	nt := ForTest(t, 1, Options{CPU: 0.5})
	h := nt.Hosts()[0]
	// The test measures the cap, not the other work of a shared machine: the
	// host's cgroup outweighs every other task, so the cap alone bounds it.
	weight := [2]string{"cpu.shares", "10240"}
	if nt.cg.h.v2 {
		weight = [2]string{"cpu.weight", "1000"}
	}
	for _, d := range []string{filepath.Dir(h.cgDir[0]), h.cgDir[0]} {
		if err := os.WriteFile(filepath.Join(d, weight[0]), []byte(weight[1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := helper(ctx, h, "spin")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	// The window starts once the loop runs; no window may see more than the
	// cap, and one of three must see about the cap.
	poll.Until(t, "the busy loop to start", func() bool { u, _ := h.CPUUsage(); return u > 20*time.Millisecond })
	var shares []float64
	for range 3 {
		u0, err := h.CPUUsage()
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		time.Sleep(time.Second) // the measurement window
		u1, err := h.CPUUsage()
		if err != nil {
			t.Fatal(err)
		}
		share := float64(u1-u0) / float64(time.Since(t0))
		t.Logf("a busy loop on a host capped to 0.5 core used %.3f core over %s", share, time.Since(t0).Round(time.Millisecond))
		if share > 0.65 {
			t.Fatalf("CPU share %.3f, want 0.35-0.65", share)
		}
		if share >= 0.35 {
			return
		}
		shares = append(shares, share)
	}
	t.Fatalf("CPU shares %.3f, want one in 0.35-0.65 ", shares)
}

func TestDelay(t *testing.T) {
	const delay = 20 * time.Millisecond
	nt, err := New(context.Background(), 1, Options{Delay: delay, Prefix: "xlgo-delaytest"})
	if errors.Is(err, ErrUnavailable) && os.Getenv("CI") != "true" {
		t.Skipf("simulated hosts cannot be made on this machine (outside CI only; CI=true fails instead): %v", err)
	}
	if errors.Is(err, ErrNoNetem) {
		t.Logf("New with Delay: %v", err)
		if !strings.Contains(err.Error(), "netem is unavailable") {
			t.Fatalf("error does not say netem is unavailable: %v", err)
		}
		if left := leftovers("xlgo-delaytest-"); len(left) > 0 {
			t.Fatalf("a failed New left %v", left)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer nt.Close()
	addr := startEcho(t, nt.Hosts()[0], 7000)
	start := time.Now()
	if _, err := roundTrip(addr.String(), "x"); err != nil {
		t.Fatal(err)
	}
	// Connect and one exchange: two round trips.
	if rt := time.Since(start); rt < 4*delay {
		t.Fatalf("connect and exchange took %s, want at least %s", rt, 4*delay)
	}
}

func TestCloseLeavesNothing(t *testing.T) {
	nt := ForTest(t, 2, Options{SSH: true, CPU: 0.5})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A process nobody stops, and one that leaves its process group.
	if err := helper(ctx, nt.Hosts()[0], "spin").Start(); err != nil {
		t.Fatal(err)
	}
	if out, err := nt.Hosts()[1].SSH(ctx, "setsid sleep 600 </dev/null >/dev/null 2>&1 &").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var pids []int
	for _, h := range nt.Hosts() {
		pids = append(pids, procs(h.cgDir[0])...)
	}
	if len(pids) < 4 {
		t.Fatalf("processes on the hosts: %v, want two sshd, a busy loop and a sleep", pids)
	}
	if left := leftovers(nt.base); len(left) == 0 {
		t.Fatal("leftovers finds nothing of a running Net")
	}
	if err := nt.Close(); err != nil {
		t.Fatal(err)
	}
	if err := nt.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if left := leftovers(nt.base); len(left) > 0 {
		t.Fatalf("left after Close: %v", left)
	}
	for _, pid := range pids {
		if running(pid) {
			t.Fatalf("process %d runs after Close", pid)
		}
	}
}

func TestSweep(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root")
		}
		t.Skip("needs root to make network namespaces (outside CI only; CI=true fails instead)")
	}
	const prefix = "xlgo-sweeptest"
	cmd := helper(context.Background(), nil, "leak", prefix)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	base := strings.TrimSpace(line)
	cmd.Process.Kill()
	cmd.Wait()
	defer Sweep(context.Background(), prefix)
	if !strings.HasPrefix(base, prefix+"-") {
		t.Fatalf("leak: %q", line)
	}
	left := leftovers(base)
	if len(left) == 0 {
		t.Fatalf("the killed owner left nothing behind")
	}
	t.Logf("left by a killed owner: %v", left)
	if err := Sweep(context.Background(), prefix); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(base); len(left) > 0 {
		t.Fatalf("left after Sweep: %v", left)
	}
}

// leftovers lists the namespaces, root-namespace links, cgroups, processes
// in them and temp dirs whose names start with base.
func leftovers(base string) []string {
	var left []string
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), base) {
			left = append(left, "netns "+e.Name())
		}
	}
	if h, err := findHierarchies(); err == nil {
		for _, r := range h.roots() {
			ents, _ := os.ReadDir(r)
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), base) {
					left = append(left, "cgroup "+filepath.Join(r, e.Name()))
				}
			}
		}
	}
	if ents, _ := os.ReadDir(tempRoot()); len(ents) > 0 {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), base) {
				left = append(left, "dir "+e.Name())
			}
		}
	}
	// A Net's uplink is named after its owner and sequence: xlPIDnSEQ.
	var pid, s int
	rest := base[strings.LastIndex(base[:strings.LastIndex(base, "-")], "-")+1:]
	if _, err := fmt.Sscanf(rest, "%d-%d", &pid, &s); err == nil {
		if _, err := os.Stat(fmt.Sprintf("/sys/class/net/xl%dn%d", pid, s)); err == nil {
			left = append(left, fmt.Sprintf("link xl%dn%d", pid, s))
		}
	}
	return left
}

// running tells whether pid runs (a zombie does not).
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestPrefixesIn(t *testing.T) {
	out := "default via 192.0.2.1 dev eth0\n192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2\nlocal 127.0.0.1 dev lo table local\n"
	got := fmt.Sprint(prefixesIn(out))
	if want := "[192.0.2.1/32 192.0.2.0/24 192.0.2.2/32 127.0.0.1/32]"; got != want {
		t.Fatalf("prefixesIn: %s, want %s", got, want)
	}
}

func TestDeadOwner(t *testing.T) {
	self := os.Getpid()
	for _, c := range []struct {
		name string
		host bool
		want bool
	}{
		{fmt.Sprintf("xlgo-%d-1", self), false, false},
		{"xlgo-999999999-1", false, true},
		{"xlgo-999999999-1-h1", true, true},
		{"xlgo-999999999-1", true, false},
		{"xlgo-999999999-1-h1", false, false},
		{"xlgo-bench-999999999-1", false, false},
		{"xlgo-test-abc", false, false},
		{"other-999999999-1", false, false},
	} {
		if got := deadOwner("xlgo", c.name, c.host); got != c.want {
			t.Errorf("deadOwner(%q, %v) = %v, want %v", c.name, c.host, got, c.want)
		}
	}
}

// TestCgroupFiles checks the files a cap is written to and usage read from,
// for both cgroup versions, on plain directories shaped as the hierarchies.
func TestCgroupFiles(t *testing.T) {
	for _, c := range []struct {
		name  string
		h     func(dir string) hierarchies
		cap   map[string]string // file under BASE/h1 of the cpu hierarchy: content
		usage [2]string         // file under BASE/h1 of the accounting hierarchy, content
		weigh [2]string         // file under BASE of the cpu hierarchy, content for three hosts
	}{
		{"v2", func(dir string) hierarchies { return hierarchies{v2: true, cpu: dir} },
			map[string]string{"cpu.max": "50000 100000"},
			[2]string{"cpu.stat", "usage_usec 1500\nuser_usec 1000\n"}, [2]string{"cpu.weight", "300"}},
		{"v1", func(dir string) hierarchies {
			return hierarchies{cpu: filepath.Join(dir, "cpu"), acct: filepath.Join(dir, "cpuacct")}
		},
			map[string]string{"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "50000"},
			[2]string{"cpuacct.usage", "1500000\n"}, [2]string{"cpu.shares", "3072"}},
		{"v1 cpu,cpuacct", func(dir string) hierarchies { return hierarchies{cpu: dir, acct: dir} },
			map[string]string{"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "50000"},
			[2]string{"cpuacct.usage", "1500000\n"}, [2]string{"cpu.shares", "3072"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			h := c.h(dir)
			for _, r := range h.roots() {
				if err := os.MkdirAll(r, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			cg, err := newCgroups(h, "base")
			if err != nil {
				t.Fatal(err)
			}
			dirs, err := cg.addHost("h1", 0.5)
			if err != nil {
				t.Fatal(err)
			}
			if len(dirs) != len(h.roots()) {
				t.Fatalf("host cgroups %v for hierarchies %v", dirs, h.roots())
			}
			for f, want := range c.cap {
				if b, _ := os.ReadFile(filepath.Join(h.cpu, "base", "h1", f)); string(b) != want {
					t.Errorf("%s: %q, want %q", f, b, want)
				}
			}
			if h.v2 {
				for _, d := range []string{h.cpu, filepath.Join(h.cpu, "base")} {
					if b, _ := os.ReadFile(filepath.Join(d, "cgroup.subtree_control")); string(b) != "+cpu" {
						t.Errorf("%s/cgroup.subtree_control: %q", d, b)
					}
				}
			}
			acct := h.acct
			if h.v2 {
				acct = h.cpu
			}
			if err := os.WriteFile(filepath.Join(acct, "base", "h1", c.usage[0]), []byte(c.usage[1]), 0o644); err != nil {
				t.Fatal(err)
			}
			if u, err := cg.usage("h1"); u != 1500*time.Microsecond || err != nil {
				t.Errorf("usage %s %v, want 1.5ms", u, err)
			}
			if err := cg.weigh(3); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(filepath.Join(h.cpu, "base", c.weigh[0])); string(b) != c.weigh[1] {
				t.Errorf("%s: %q, want %q", c.weigh[0], b, c.weigh[1])
			}
		})
	}
}

// Isolate makes a host unreachable and back; Crash ends everything on it
// but its sshd.
func TestIsolateAndCrash(t *testing.T) {
	nt := ForTest(t, 2, Options{SSH: true})
	h1 := nt.Host("h1")
	addr := startEcho(t, h1, 7000)
	if got, err := roundTrip(addr.String(), "a"); err != nil || !strings.HasPrefix(got, "a ") {
		t.Fatalf("before: %q, %v", got, err)
	}
	ctx := context.Background()
	if err := h1.Isolate(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := roundTrip(addr.String(), "b"); err == nil {
		t.Fatal("an isolated host answered")
	}
	if err := h1.Isolate(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(addr.String(), "c"); err != nil || !strings.HasPrefix(got, "c ") {
		t.Fatalf("joined again: %q, %v", got, err)
	}
	if err := h1.Crash(); err != nil {
		t.Fatal(err)
	}
	if _, err := roundTrip(addr.String(), "d"); err == nil {
		t.Fatal("the echo server outlived the crash")
	}
	if out, err := h1.SSH(ctx, "true").CombinedOutput(); err != nil {
		t.Fatalf("ssh after the crash: %v %s", err, out)
	}
}
