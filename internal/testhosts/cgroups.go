package testhosts

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroups are a Net's cgroups: BASE in each hierarchy it uses, with one
// child per host. With cgroup v2 one hierarchy holds the cap and the
// accounting; with v1 the cpu hierarchy holds the cap and cpuacct the
// accounting (often the same hierarchy, mounted as cpu,cpuacct).
type cgroups struct {
	h    hierarchies
	base string
}

// hierarchies are the mounted cgroup hierarchies a Net uses.
type hierarchies struct {
	v2   bool
	cpu  string // root of the hierarchy with the cpu controller
	acct string // v1: root of the one with cpuacct ("" when missing)
}

// roots are the distinct hierarchy roots a host's processes join.
func (h hierarchies) roots() []string {
	if h.acct == "" || h.acct == h.cpu {
		return []string{h.cpu}
	}
	return []string{h.cpu, h.acct}
}

// findHierarchies reads /proc/self/mounts for a cgroup v2 hierarchy whose
// controllers include cpu, else the v1 cpu (and cpuacct) hierarchies.
func findHierarchies() (hierarchies, error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return hierarchies{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer f.Close()
	var v1 hierarchies
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 4 {
			continue
		}
		mp, typ, opts := fs[1], fs[2], strings.Split(fs[3], ",")
		switch typ {
		case "cgroup2":
			b, err := os.ReadFile(filepath.Join(mp, "cgroup.controllers"))
			if err == nil && slices.Contains(strings.Fields(string(b)), "cpu") {
				return hierarchies{v2: true, cpu: mp}, nil
			}
		case "cgroup":
			if slices.Contains(opts, "cpu") && v1.cpu == "" {
				v1.cpu = mp
			}
			if slices.Contains(opts, "cpuacct") && v1.acct == "" {
				v1.acct = mp
			}
		}
	}
	if v1.cpu == "" {
		return hierarchies{}, fmt.Errorf("%w: no cgroup hierarchy with the cpu controller is mounted", ErrUnavailable)
	}
	return v1, nil
}

// newCgroups makes the Net's cgroup BASE in each hierarchy it uses.
func newCgroups(h hierarchies, base string) (*cgroups, error) {
	c := &cgroups{h: h, base: base}
	for _, r := range h.roots() {
		if err := os.Mkdir(filepath.Join(r, base), 0o755); err != nil {
			return c, fmt.Errorf("%w: cgroup: %v", ErrUnavailable, err)
		}
	}
	if h.v2 {
		// Hosts get the cpu controller only if every level above hands it down.
		for _, d := range []string{h.cpu, filepath.Join(h.cpu, base)} {
			if err := enableCPU(d); err != nil {
				return c, err
			}
		}
	}
	return c, nil
}

// enableCPU hands the cpu controller down to dir's children (cgroup v2).
func enableCPU(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	if err == nil && slices.Contains(strings.Fields(string(b)), "cpu") {
		return nil
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+cpu"), 0o644); err != nil {
		return fmt.Errorf("%w: cgroup v2: enable cpu in %s: %v", ErrUnavailable, dir, err)
	}
	return nil
}

// CFS period of the caps: the quota is cpu times this.
const cfsPeriod = 100000 // µs

// addHost makes the host's cgroups, capped to cpu cores (0: no cap), and
// returns them.
func (c *cgroups) addHost(name string, cpu float64) ([]string, error) {
	var dirs []string
	for _, r := range c.h.roots() {
		d := filepath.Join(r, c.base, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, fmt.Errorf("%w: cgroup: %v", ErrUnavailable, err)
		}
		dirs = append(dirs, d)
	}
	if cpu == 0 {
		return dirs, nil
	}
	quota := max(int(cpu*cfsPeriod), 1000)
	d := filepath.Join(c.h.cpu, c.base, name)
	var files [][2]string
	if c.h.v2 {
		files = [][2]string{{"cpu.max", fmt.Sprintf("%d %d", quota, cfsPeriod)}}
	} else {
		files = [][2]string{{"cpu.cfs_period_us", strconv.Itoa(cfsPeriod)}, {"cpu.cfs_quota_us", strconv.Itoa(quota)}}
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(d, f[0]), []byte(f[1]), 0o644); err != nil {
			return nil, fmt.Errorf("%w: cgroup: cap %s: %v", ErrUnavailable, d, err)
		}
	}
	return dirs, nil
}

// weigh gives the Net's cgroup the CPU weight of n ordinary cgroups, so that
// its n hosts together compete with the machine's other work as n would,
// not as one.
func (c *cgroups) weigh(n int) error {
	file, w := "cpu.shares", min(n*1024, 262144)
	if c.h.v2 {
		file, w = "cpu.weight", min(n*100, 10000)
	}
	if err := os.WriteFile(filepath.Join(c.h.cpu, c.base, file), []byte(strconv.Itoa(w)), 0o644); err != nil {
		return fmt.Errorf("%w: cgroup: %v", ErrUnavailable, err)
	}
	return nil
}

// usage is the CPU time used by the host's processes.
func (c *cgroups) usage(name string) (time.Duration, error) {
	if c.h.v2 {
		b, err := os.ReadFile(filepath.Join(c.h.cpu, c.base, name, "cpu.stat"))
		if err != nil {
			return 0, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
				us, err := strconv.ParseInt(v, 10, 64)
				return time.Duration(us) * time.Microsecond, err
			}
		}
		return 0, fmt.Errorf("testhosts: no usage_usec in cpu.stat of %s", name)
	}
	if c.h.acct == "" {
		return 0, fmt.Errorf("testhosts: no cpuacct cgroup hierarchy is mounted")
	}
	b, err := os.ReadFile(filepath.Join(c.h.acct, c.base, name, "cpuacct.usage"))
	if err != nil {
		return 0, err
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return time.Duration(ns), err
}

// stop ends every process of the host.
func (c *cgroups) stop(name string) error {
	return stopProcs(filepath.Join(c.h.cpu, c.base, name))
}

// remove deletes the Net's cgroups; one already gone is no error.
func (c *cgroups) remove() error {
	var errs []error
	for _, r := range c.h.roots() {
		if err := removeCgroup(filepath.Join(r, c.base)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// procs are the processes in a cgroup.
func procs(dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// stopProcs sends SIGTERM to every process in dir, and SIGKILL to those
// still there after two seconds; it returns when dir holds none.
func stopProcs(dir string) error {
	for _, step := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGTERM, 2 * time.Second}, {syscall.SIGKILL, 10 * time.Second}} {
		pids := procs(dir)
		if len(pids) == 0 {
			return nil
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, step.sig)
		}
		within(step.wait, func() bool { return len(procs(dir)) == 0 })
	}
	if pids := procs(dir); len(pids) > 0 {
		return fmt.Errorf("processes %v still in %s", pids, dir)
	}
	return nil
}

// removeCgroup ends the processes of dir and of its children and removes
// them all, children first.
func removeCgroup(dir string) error {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		if e.IsDir() {
			errs = append(errs, removeCgroup(filepath.Join(dir, e.Name())))
		}
	}
	errs = append(errs, stopProcs(dir))
	// A cgroup is busy for a moment after its last process exits, and a
	// process started just before may join it late: it is killed too.
	var rmErr error
	within(5*time.Second, func() bool {
		rmErr = syscall.Rmdir(dir)
		if rmErr == syscall.ENOENT {
			rmErr = nil
		}
		if rmErr != syscall.EBUSY {
			return true
		}
		for _, pid := range procs(dir) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		return false
	})
	if rmErr != nil {
		errs = append(errs, fmt.Errorf("rmdir %s: %w", dir, rmErr))
	}
	return errors.Join(errs...)
}

// within polls cond, with pauses growing to 50 ms, until it holds or d
// passes; it tells whether cond held.
func within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(wait)
	}
}
