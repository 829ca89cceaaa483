package clustertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Proc is a process a fault test started.
type Proc struct {
	Pid int
	// Exited yields the process's exit once it has ended.
	Exited <-chan error
}

// RestartCoordinator stops coordinator i (from 0) if it runs and starts it
// again with env added to its environment (e.g. XLGO_FAILPOINT) and args
// appended to its command line (later flags win), then waits until it
// answers SQL. The cluster's cleanup stops it like any other coordinator.
func (c *Cluster) RestartCoordinator(t testing.TB, i int, env map[string]string, args ...string) *Proc {
	t.Helper()
	n := c.Config.Coordinators[i]
	if pid, ok := c.alivePid(c.Ctl.PidPath(n.Name)); ok {
		c.KillPid(t, pid)
	}
	bin := filepath.Join(c.Ctl.BinDir, "coordinator")
	logf, err := os.OpenFile(c.Ctl.LogPath(n.Name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	cmdArgs := append(c.Ctl.CoordinatorArgs(n, ""), args...)
	fmt.Fprintf(logf, "%s clustertest: starting %s %s (env %v)\n", time.Now().Format(time.RFC3339), bin, strings.Join(cmdArgs, " "), env)
	cmd := exec.Command(bin, cmdArgs...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = c.Home
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "XLGO_FAILPOINT") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("clustertest: start %s: %v", n.Name, err)
	}
	if err := os.WriteFile(c.Ctl.PidPath(n.Name), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		cmd.Process.Kill()
		t.Fatalf("clustertest: %v", err)
	}
	exited := make(chan error, 1)
	go func() {
		exited <- cmd.Wait()
		logf.Close()
	}()
	p := &Proc{Pid: cmd.Process.Pid, Exited: exited}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, c.CoordDSN(i, "postgres"))
		if err == nil {
			conn.Close(ctx)
			return p
		}
		select {
		case err := <-exited:
			t.Fatalf("clustertest: %s exited while starting: %v\n%s", n.Name, err, c.LogTail(n.Name, 20))
		case <-ctx.Done():
			t.Fatalf("clustertest: %s does not answer: %v\n%s", n.Name, err, c.LogTail(n.Name, 20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// GTMPid is the pid of the running gtm (0 when it is not running).
func (c *Cluster) GTMPid() int {
	pid, _ := c.alivePid(c.Ctl.PidPath(c.Config.GTM.Name))
	return pid
}

// CoordinatorPid is the pid of running coordinator i (0 when it is not running).
func (c *Cluster) CoordinatorPid(i int) int {
	pid, _ := c.alivePid(c.Ctl.PidPath(c.Config.Coordinators[i].Name))
	return pid
}

// DatanodePid is the postmaster pid of running datanode i (0 when it is not running).
func (c *Cluster) DatanodePid(i int) int {
	pid, _ := c.alivePid(filepath.Join(c.Ctl.DataDir(c.Config.Datanodes[i].Name), "postmaster.pid"))
	return pid
}

// KillPid sends SIGKILL to one process of the cluster and waits until it is gone.
func (c *Cluster) KillPid(t testing.TB, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("clustertest: kill -9 %d: %v", pid, err)
	}
	waitDead(t, pid)
}

// KillDatanode kill -9s datanode i as a machine crash would: the postmaster
// and every one of its processes (a postmaster killed alone leaves its
// backends serving their sessions).
func (c *Cluster) KillDatanode(t testing.TB, i int) {
	t.Helper()
	c.KillPostgres(t, c.Config.Datanodes[i].Name)
}

// KillPostgres kill -9s the PostgreSQL node of that name (a datanode or a
// datanode standby) as KillDatanode does.
func (c *Cluster) KillPostgres(t testing.TB, name string) {
	t.Helper()
	pid, _ := c.alivePid(filepath.Join(c.Ctl.DataDir(name), "postmaster.pid"))
	if pid == 0 {
		t.Fatalf("clustertest: %s is not running", name)
	}
	// Stopped, the postmaster starts no new backend while its children are listed.
	syscall.Kill(pid, syscall.SIGSTOP)
	kids := children(pid)
	for _, k := range kids {
		syscall.Kill(k, syscall.SIGKILL)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	for _, k := range append(kids, pid) {
		waitDead(t, k)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		// Still an unreaped zombie: its lock file would stop the restart.
		os.Remove(filepath.Join(c.Ctl.DataDir(name), "postmaster.pid"))
	}
}

// StartStopped starts every process of the cluster that does not run (xlctl start).
func (c *Cluster) StartStopped(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Ctl.Start(ctx); err != nil {
		t.Fatalf("clustertest: start: %v", err)
	}
}

// alivePid reads a pid file and tells whether that process lives.
func (c *Cluster) alivePid(path string) (int, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(data), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 || !alive(pid) {
		return 0, false
	}
	return pid, true
}

// alive tells whether pid is a process that is neither gone nor a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || (stat[i+2] != 'Z' && stat[i+2] != 'X')
}

// waitDead waits until a killed process is gone. A process that is not the
// test's child stays a zombie until init reaps it, and PostgreSQL refuses to
// start while the pid in its postmaster.pid exists at all, so this waits for
// the reaping too (a while).
func waitDead(t testing.TB, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("clustertest: pid %d is still alive 30s after SIGKILL", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}
