package gtm_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xlgo/xlgo/gtmclient"
)

// buildGTM compiles cmd/gtm into a temporary directory.
func buildGTM(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gtm")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/xlgo/xlgo/cmd/gtm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/gtm: %v\n%s", err, out)
	}
	return bin
}

// gtmProcess is a running cmd/gtm.
type gtmProcess struct {
	cmd    *exec.Cmd
	addr   string
	mu     sync.Mutex
	stderr strings.Builder
	exited chan struct{}
	err    error
}

func (p *gtmProcess) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

var listeningRE = regexp.MustCompile(`msg="gtm listening".* addr=(\S+)`)

// startProcess runs the binary and waits (with a deadline) for its "listening" log line.
func startProcess(t *testing.T, bin string, args ...string) *gtmProcess {
	t.Helper()
	p := &gtmProcess{cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	p.cmd.Stdout = &stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stderr.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				select {
				case addrCh <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.err = p.cmd.Wait()
		if stdout.Len() > 0 {
			t.Errorf("gtm wrote to stdout: %q", stdout.String())
		}
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	select {
	case p.addr = <-addrCh:
		return p
	case <-p.exited:
		t.Fatalf("gtm exited at start: %v\n%s", p.err, p.logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("gtm did not start listening\n%s", p.logs())
	}
	return nil
}

func TestProcessSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/gtm")
	}
	bin := buildGTM(t)
	dir := filepath.Join(t.TempDir(), "gtm")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	p := startProcess(t, bin, "--port", "0", "--data-dir", dir, "--log-level", "debug")
	c, err := gtmclient.Dial(ctx, p.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var last uint64
	for range 20 {
		if last, err = c.NextGXID(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.LogDecision(ctx, "xl_kill_1", []string{"datanode1", "datanode2"}, true); err != nil {
		t.Fatal(err)
	}
	if err := c.LogDecision(ctx, "xl_kill_2", []string{"datanode1"}, false); err != nil {
		t.Fatal(err)
	}
	epoch, err := c.BumpCatalogEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The same port cannot be taken by a second GTM.
	port := p.addr[strings.LastIndex(p.addr, ":")+1:]
	out, err := exec.Command(bin, "--port", port, "--data-dir", filepath.Join(t.TempDir(), "other")).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "cannot listen") {
		t.Fatalf("second gtm on a taken port: err %v, output:\n%s", err, out)
	}

	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited

	p2 := startProcess(t, bin, "--port", "0", "--data-dir", dir)
	c2, err := gtmclient.Dial(ctx, p2.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c2.Close() })
	id, err := c2.NextGXID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if id <= last {
		t.Fatalf("GXID %d after kill -9, before it was %d", id, last)
	}
	for gid, want := range map[string]gtmclient.DecisionState{
		"xl_kill_1": gtmclient.Committed,
		"xl_kill_2": gtmclient.Aborted,
	} {
		if st, err := c2.Decision(ctx, gid); err != nil || st != want {
			t.Errorf("Decision(%s) after kill -9 = %v, %v; want %v", gid, st, err, want)
		}
	}
	if got, err := c2.CatalogEpoch(ctx); err != nil || got != epoch {
		t.Errorf("CatalogEpoch after kill -9 = %d, %v; want %d", got, err, epoch)
	}

	// SIGTERM is a clean exit with status 0.
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p2.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("gtm did not exit on SIGTERM")
	}
	if p2.err != nil {
		t.Fatalf("gtm exit after SIGTERM: %v\n%s", p2.err, p2.logs())
	}
}

func TestProcessRejectsUnusableDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/gtm")
	}
	bin := buildGTM(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--port", "0", "--data-dir", filepath.Join(file, "sub")},
		{"--port", "0"},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "gtm: error:") {
			t.Errorf("gtm %v: err %v, output:\n%s", args, err, out)
		}
	}
}

// valueLog collects what clients were acknowledged, checking for duplicates.
type valueLog struct {
	mu     sync.Mutex
	values map[int64]bool
	gids   []string
	gxid   uint64
	dups   []int64
}

func newValueLog() *valueLog { return &valueLog{values: map[int64]bool{}} }

func (l *valueLog) addRange(first, n, incr int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range n {
		v := first + i*incr
		if l.values[v] {
			l.dups = append(l.dups, v)
		}
		l.values[v] = true
	}
}

func (l *valueLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.values)
}

// waitProgress waits until the log holds at least n values.
func waitProgress(t *testing.T, l *valueLog, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for l.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("clients made no progress: %d values, want %d", l.count(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runWorkers starts n clients of addr that take sequence ranges, GXIDs and (with
// decisions) log commit decisions until stop is closed; a call that fails with
// ErrUnavailable (the gtm is down or a standby) is tried again.
func runWorkers(t *testing.T, ctx context.Context, addr string, n int, decisions bool, l *valueLog, stop <-chan struct{}) *sync.WaitGroup {
	t.Helper()
	var wg sync.WaitGroup
	for w := range n {
		c, err := gtmclient.Dial(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				first, cnt, incr, err := c.SeqNextRange(ctx, "db.public.s", 10)
				if err == nil {
					l.addRange(first, cnt, incr)
					var id uint64
					if id, err = c.NextGXID(ctx); err == nil {
						l.mu.Lock()
						l.gxid = max(l.gxid, id)
						l.mu.Unlock()
					}
				}
				if err == nil && decisions {
					gid := fmt.Sprintf("xl_w%d_%d", w, i)
					if err = c.LogDecision(ctx, gid, []string{"datanode1", "datanode2"}, true); err == nil {
						l.mu.Lock()
						l.gids = append(l.gids, gid)
						l.mu.Unlock()
					}
				}
				if err != nil {
					if !errors.Is(err, gtmclient.ErrUnavailable) {
						t.Errorf("worker %d: %v", w, err)
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	return &wg
}

// 8 clients take sequence ranges while the gtm is killed (-9), stopped and
// killed again, restarting on the same port each time: no value twice.
func TestProcessSequencesAcrossRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/gtm")
	}
	bin := buildGTM(t)
	dir := filepath.Join(t.TempDir(), "gtm")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	p := startProcess(t, bin, "--port", "0", "--data-dir", dir)
	port := p.addr[strings.LastIndex(p.addr, ":")+1:]
	admin, err := gtmclient.Dial(ctx, p.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if err := admin.SeqCreate(ctx, gtmclient.NewSeqDef("db.public.s")); err != nil {
		t.Fatal(err)
	}
	l := newValueLog()
	stop := make(chan struct{})
	wg := runWorkers(t, ctx, p.addr, 8, false, l, stop)
	for round, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM, syscall.SIGKILL} {
		waitProgress(t, l, (round+1)*2000)
		if err := p.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		<-p.exited
		p = startProcess(t, bin, "--port", port, "--data-dir", dir)
	}
	waitProgress(t, l, 4*2000)
	close(stop)
	wg.Wait()
	if len(l.dups) > 0 {
		t.Fatalf("%d values handed out twice, e.g. %v", len(l.dups), l.dups[:min(5, len(l.dups))])
	}
	st, err := admin.SeqCurrent(ctx, "db.public.s")
	if err != nil {
		t.Fatal(err)
	}
	for v := range l.values {
		if v > st.Last {
			t.Fatalf("value %d was handed out but the sequence stands at %d", v, st.Last)
		}
	}
	t.Logf("%d values through 3 restarts, none twice", l.count())
}

// A primary and its standby as real processes: 8 clients take ranges, GXIDs
// and log decisions through "primary,standby"; the primary is killed -9 and
// the standby promoted; the clients go on with it by themselves, everything
// acknowledged is there and nothing is handed out twice.
func TestProcessFailoverKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/gtm")
	}
	bin := buildGTM(t)
	base := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	p := startProcess(t, bin, "--port", "0", "--data-dir", filepath.Join(base, "gtm"), "--name", "gtm")
	s := startProcess(t, bin, "--port", "0", "--data-dir", filepath.Join(base, "gtm_standby"), "--name", "gtm_standby",
		"--standby-of", p.addr)
	sc, err := gtmclient.Dial(ctx, s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		ni, err := sc.NodeInfo(ctx)
		if err == nil && ni.Standby && ni.PeerConnected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("standby does not stream: %+v %v\n%s", ni, err, s.logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
	both := p.addr + "," + s.addr
	admin, err := gtmclient.Dial(ctx, both)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if err := admin.SeqCreate(ctx, gtmclient.NewSeqDef("db.public.s")); err != nil {
		t.Fatal(err)
	}
	l := newValueLog()
	stop := make(chan struct{})
	wg := runWorkers(t, ctx, both, 8, true, l, stop)
	waitProgress(t, l, 3000)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	l.mu.Lock()
	before := len(l.values)
	l.mu.Unlock()
	gen, wasStreaming, err := sc.Promote(ctx)
	if err != nil || gen != 2 || !wasStreaming {
		t.Fatalf("Promote = %d, %v, %v\n%s", gen, wasStreaming, err, s.logs())
	}
	waitProgress(t, l, before+3000)
	close(stop)
	wg.Wait()

	if len(l.dups) > 0 {
		t.Fatalf("%d values handed out twice, e.g. %v", len(l.dups), l.dups[:min(5, len(l.dups))])
	}
	l.mu.Lock()
	gids, lastGXID := l.gids, l.gxid
	l.mu.Unlock()
	for _, gid := range gids {
		if st, err := admin.Decision(ctx, gid); err != nil || st != gtmclient.Committed {
			t.Fatalf("acknowledged decision %s after failover: %v, %v", gid, st, err)
		}
	}
	if id, err := admin.NextGXID(ctx); err != nil || id <= lastGXID {
		t.Fatalf("NextGXID after failover = %d, %v; %d was handed out before", id, err, lastGXID)
	}
	if !strings.Contains(s.logs(), "standby promoted") {
		t.Errorf("no promotion in the standby's log:\n%s", s.logs())
	}
	t.Logf("%d values, %d decisions across the failover; none lost, none twice", l.count(), len(gids))
}
