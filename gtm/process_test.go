package gtm_test

import (
	"bufio"
	"context"
	"errors"
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
