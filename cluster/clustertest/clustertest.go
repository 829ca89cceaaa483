// Package clustertest starts a real xlgo cluster (gtm, coordinators and
// PostgreSQL datanodes on free loopback ports, in a temporary home) for
// integration tests, and stops and removes it when the test ends.
package clustertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xlgo/xlgo/cluster"
)

// Options shape the cluster; zero values take the defaults.
type Options struct {
	Coordinators int // default 1
	Datanodes    int // default 2
	// DatanodeSettings are extra postgresql.conf lines on top of the defaults.
	DatanodeSettings map[string]string
	// LogLevel is passed to gtm and coordinators when set.
	LogLevel string
	// GTMStandby adds a gtm_standby that follows the gtm (for failover tests).
	GTMStandby bool
	// DatanodeStandbys gives every datanode a synchronous streaming standby,
	// datanodeN_standby.
	DatanodeStandbys bool
	// Auth is the config's auth section (client authentication rules ...).
	Auth cluster.AuthConfig
	// TLS makes init create a certificate and the coordinators offer TLS
	// (its CA is Ctl.CACertPath()).
	TLS bool
	// ClientDatabase makes init create a database named after the client
	// role, as xlctl init does.
	ClientDatabase bool
	// Monitoring runs Prometheus beside the cluster (xlctl init
	// --monitoring), on a free port.
	Monitoring bool
}

// Cluster is a running test cluster.
type Cluster struct {
	Home   string
	Config *cluster.Config
	// Ctl runs xlctl verbs on the cluster (Stop, Start, Status ...), e.g. for fault tests.
	Ctl *cluster.Cluster
	// User is the role the DSNs connect as.
	User string
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Binaries returns the directory holding freshly built gtm and coordinator
// binaries, building them once per test binary. $XLGO_TEST_BIN, when set,
// names a directory of prebuilt binaries to use instead.
func Binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if d := os.Getenv("XLGO_TEST_BIN"); d != "" {
			binDir = d
			return
		}
		root, err := ModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := binariesDir()
		if err != nil {
			buildErr = err
			return
		}
		for _, name := range []string{"gtm", "coordinator", "xlctl"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "./cmd/"+name)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build ./cmd/%s: %v\n%s", name, err, out)
				return
			}
		}
		binDir = dir
	})
	if buildErr != nil {
		t.Fatalf("clustertest: %v", buildErr)
	}
	return binDir
}

// binariesDir makes TMP/xlgo-testbin-UID/PID for this test binary and removes
// the directories of test binaries that have exited.
func binariesDir() (string, error) {
	base := filepath.Join(os.TempDir(), fmt.Sprintf("xlgo-testbin-%d", os.Getuid()))
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	ents, _ := os.ReadDir(base)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(filepath.Join(base, e.Name()))
		}
	}
	dir := filepath.Join(base, strconv.Itoa(os.Getpid()))
	// Readable by os_user too, in case binaries must run as it.
	return dir, os.MkdirAll(dir, 0o755)
}

// ModuleRoot finds the directory of xlgo's go.mod from the working directory up.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(data, []byte("module github.com/xlgo/xlgo\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of github.com/xlgo/xlgo above the working directory")
		}
		dir = parent
	}
}

// RequirePostgres returns PostgreSQL's bin directory. When PostgreSQL is
// missing it fails the test under CI (CI=true) and skips it elsewhere.
func RequirePostgres(t testing.TB) string {
	t.Helper()
	dir, err := cluster.FindPgBin(os.Getenv("XLGO_PG_BIN"))
	if err == nil && os.Geteuid() == 0 {
		osUser := cluster.DefaultConfig().OSUser
		if _, uerr := user.Lookup(osUser); uerr != nil {
			err = fmt.Errorf("running as root needs the %s OS user to run PostgreSQL: %v", osUser, uerr)
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI: %v", err)
		}
		t.Skipf("skipping: PostgreSQL is not installed here: %v", err)
	}
	return dir
}

func freePorts(n int) ([]int, error) { return cluster.FreePorts(n) }

// Start inits and starts a cluster for the test and registers t.Cleanup to
// stop and remove it, whether the test passes or fails.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.Coordinators <= 0 {
		o.Coordinators = 1
	}
	if o.Datanodes <= 0 {
		o.Datanodes = 2
	}
	pgBin := RequirePostgres(t)
	bin := Binaries(t)

	ports, err := freePorts(2 + o.Coordinators + 2*o.Datanodes)
	if err != nil {
		t.Fatalf("clustertest: free ports: %v", err)
	}
	// The gtms' and coordinators' metrics ports, free ones too (port + 1000
	// may be another test's), and Prometheus's.
	mports, err := freePorts(3 + o.Coordinators)
	if err != nil {
		t.Fatalf("clustertest: free ports: %v", err)
	}
	cfg := cluster.DefaultConfig()
	cfg.PgBin = pgBin
	cfg.LogLevel = o.LogLevel
	cfg.GTM.Port, cfg.GTM.MetricsPort = ports[0], mports[0]
	cfg.Coordinators = nil
	for i := 0; i < o.Coordinators; i++ {
		cfg.Coordinators = append(cfg.Coordinators, cluster.Node{Name: fmt.Sprintf("coord%d", i+1), Host: "127.0.0.1", Port: ports[1+i],
			MetricsPort: mports[2+i]})
	}
	cfg.Datanodes = nil
	for i := 0; i < o.Datanodes; i++ {
		cfg.Datanodes = append(cfg.Datanodes, cluster.Node{Name: fmt.Sprintf("datanode%d", i+1), Host: "127.0.0.1",
			Port: ports[1+o.Coordinators+i], Primary: i == 0, Preferred: i == 0})
	}
	if o.GTMStandby {
		cfg.GTMStandby = cluster.Node{Name: "gtm_standby", Host: "127.0.0.1", Port: ports[1+o.Coordinators+o.Datanodes], MetricsPort: mports[1]}
	}
	if o.DatanodeStandbys {
		for i, n := range cfg.Datanodes {
			cfg.DatanodeStandbys = append(cfg.DatanodeStandbys, cluster.Node{Name: n.Name + "_standby", Of: n.Name, Host: "127.0.0.1",
				Port: ports[2+o.Coordinators+o.Datanodes+i]})
		}
	}
	for k, v := range o.DatanodeSettings {
		cfg.DatanodeSettings[k] = v
	}
	cfg.Auth = o.Auth
	if o.Monitoring {
		cfg.Metrics.PrometheusPort = mports[2+o.Coordinators]
	}

	// t.TempDir is private to the invoking user; PostgreSQL may run as os_user.
	home, err := os.MkdirTemp("", "xlgo-test-")
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	if err := os.Chmod(home, 0o755); err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	var out bytes.Buffer
	ctl := &cluster.Cluster{Home: home, Config: cfg, BinDir: bin, Out: &out, ReadyTimeout: 90 * time.Second, TLS: o.TLS,
		ClientDatabase: o.ClientDatabase}
	c := &Cluster{Home: home, Config: cfg, Ctl: ctl, User: ctl.ClientUser()}
	// Init's progress counts its steps right: the last is i == total.
	lastStep, stepsTotal := 0, 0
	ctl.Steps = func(name string, i, total int, done bool) {
		lastStep, stepsTotal = i, total
		if i > total {
			t.Errorf("clustertest: init step %d of %d (%s): more steps than counted", i, total, name)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := ctl.Stop(ctx, "immediate"); err != nil {
			t.Errorf("clustertest: stop: %v", err)
			return // keep the home for a look at what still runs
		}
		if races := c.RaceReports(); len(races) > 0 {
			shown := races
			if len(shown) > 3 {
				shown = shown[:3]
			}
			t.Errorf("clustertest: %d data races reported by the cluster's processes (built with -race); the first:\n%s",
				len(races), strings.Join(shown, "\n"))
		}
		if t.Failed() && os.Getenv("XLGO_KEEP_FAILED") != "" {
			t.Logf("clustertest: keeping %s", home)
			return
		}
		os.RemoveAll(home)
	})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := ctl.Init(ctx); err != nil {
		var tails strings.Builder
		for _, n := range append(append([]cluster.Node{cfg.GTM, cfg.GTMStandby}, cfg.Coordinators...), cfg.Datanodes...) {
			if n.Name == "" {
				continue
			}
			if tail := c.LogTail(n.Name, 15); tail != "" {
				fmt.Fprintf(&tails, "--- %s (last lines)\n%s\n", c.Ctl.LogPath(n.Name), tail)
			}
		}
		t.Fatalf("clustertest: %v\n--- xlctl output\n%s%s", err, out.String(), tails.String())
	}
	if lastStep != stepsTotal {
		t.Errorf("clustertest: init took %d steps, its progress counted %d", lastStep, stepsTotal)
	}
	if testing.Verbose() {
		t.Logf("clustertest: cluster in %s: gtm %d, coordinators %v, datanodes %v", home, cfg.GTM.Port,
			portsOf(cfg.Coordinators), portsOf(cfg.Datanodes))
	}
	return c
}

func portsOf(ns []cluster.Node) []int {
	var ps []int
	for _, n := range ns {
		ps = append(ps, n.Port)
	}
	return ps
}

// CoordPort is the port of coordinator i, counted from 0 (CoordPort(0) is coord1).
func (c *Cluster) CoordPort(i int) int { return c.Ctl.Config.Coordinators[i].Port }

// DatanodePort is the port of datanode i, counted from 0 (DatanodePort(0) is datanode1).
func (c *Cluster) DatanodePort(i int) int { return c.Ctl.Config.Datanodes[i].Port }

// CoordDSN is a libpq/pgx connection string for coordinator i (from 0) and database db.
func (c *Cluster) CoordDSN(i int, db string) string { return c.dsn(c.CoordPort(i), db) }

// DatanodeDSN is a connection string straight to datanode i (from 0), bypassing the coordinators.
func (c *Cluster) DatanodeDSN(i int, db string) string { return c.dsn(c.DatanodePort(i), db) }

func (c *Cluster) dsn(port int, db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=%s sslmode=disable", port, c.User, db)
}

// RaceReports returns the data race reports in the logs of the gtm and the
// coordinators: binaries built with -race print them on their stderr, which
// is their log.
func (c *Cluster) RaceReports() []string {
	var out []string
	names := []string{c.Config.GTM.Name}
	if c.Config.HasGTMStandby() {
		names = append(names, c.Config.GTMStandby.Name)
	}
	for _, n := range c.Config.Coordinators {
		names = append(names, n.Name)
	}
	for _, name := range names {
		data, err := os.ReadFile(c.Ctl.LogPath(name))
		if err != nil {
			continue
		}
		const sep = "=================="
		text := string(data)
		for {
			i := strings.Index(text, "WARNING: DATA RACE")
			if i < 0 {
				break
			}
			end := strings.Index(text[i:], "\n"+sep)
			if end < 0 {
				end = len(text) - i
			}
			out = append(out, "--- "+name+"\n"+text[i:i+end])
			text = text[i+end:]
		}
	}
	return out
}

// LogTail returns the last n lines of a process's log (gtm, coord1, datanode2 ...).
func (c *Cluster) LogTail(name string, n int) string { return c.Ctl.LogTail(name, n) }
