package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/xlgo/xlgo/internal/metrics"
)

// DefaultPrometheusPort is where xlctl init --monitoring's Prometheus
// listens (on 127.0.0.1).
const DefaultPrometheusPort = 9090

// prometheusNode names the Prometheus xlctl runs, for its pid and log files.
const prometheusNode = "prometheus"

// PrometheusDir holds the Prometheus config and data xlctl makes.
func (c *Cluster) PrometheusDir() string { return filepath.Join(c.Home, prometheusNode) }

// PrometheusAddr is the address of the Prometheus xlctl runs, "" when the
// config has none.
func (c *Cluster) PrometheusAddr() string {
	if c.Config.Metrics.PrometheusPort == 0 || c.Config.Metrics.Off {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Config.Metrics.PrometheusPort))
}

// prometheusYAML is a Prometheus config scraping every gtm and coordinator.
func (c *Cluster) prometheusYAML() string {
	var b strings.Builder
	b.WriteString("# Written by xlctl: every gtm and coordinator of the cluster.\n")
	b.WriteString("global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\nscrape_configs:\n")
	job := func(name string, nodes []Node) {
		if len(nodes) == 0 {
			return
		}
		fmt.Fprintf(&b, "  - job_name: %s\n    static_configs:\n", name)
		for _, n := range nodes {
			fmt.Fprintf(&b, "      - targets: [%q]\n        labels: {node: %q, cluster: %q}\n", c.Config.MetricsAddr(n), n.Name, c.Config.ClusterName)
		}
	}
	gtms := []Node{c.Config.GTM}
	if c.Config.HasGTMStandby() {
		gtms = append(gtms, c.Config.GTMStandby)
	}
	job("gtm", gtms)
	job("coordinator", c.Config.Coordinators)
	return b.String()
}

// startPrometheus runs Debian's prometheus (the prometheus package) on
// this host, scraping the cluster, when the config asks for it.
func (c *Cluster) startPrometheus(ctx context.Context) error {
	addr := c.PrometheusAddr()
	if addr == "" {
		return nil
	}
	if pid, ok := c.prometheusPid(); ok {
		c.say("Prometheus is already running (pid %d).", pid)
		return nil
	}
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		return errors.New("monitoring needs Prometheus: install Debian's prometheus package (apt-get install prometheus)")
	}
	dir := c.PrometheusDir()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return err
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(c.prometheusYAML()), 0o644); err != nil {
		return err
	}
	c.say("Start Prometheus on %s (scraping %d gtm and coordinator metrics endpoints)", addr, 1+len(c.Config.Coordinators))
	logf, err := os.OpenFile(c.LogPath(prometheusNode), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--storage.tsdb.retention.time=7d", "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	logf.Close()
	if err := os.WriteFile(c.PidPath(prometheusNode), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		cmd.Process.Kill()
		return err
	}
	go cmd.Wait()
	deadline := time.Now().Add(c.readyTimeout())
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/-/ready", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("prometheus did not become ready on %s (log: %s)", addr, c.LogPath(prometheusNode))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// prometheusPid is the pid of the Prometheus xlctl runs, if it runs.
func (c *Cluster) prometheusPid() (int, bool) {
	pid, err := readPid(c.PidPath(prometheusNode))
	if err != nil {
		return 0, false
	}
	return pid, procAlive(pid, "--config.file="+filepath.Join(c.PrometheusDir(), "prometheus.yml")+"\x00")
}

// stopPrometheus stops it.
func (c *Cluster) stopPrometheus(mode string) error {
	pid, ok := c.prometheusPid()
	if !ok {
		os.Remove(c.PidPath(prometheusNode))
		return nil
	}
	c.say("Stop Prometheus (pid %d)", pid)
	sig := syscall.SIGTERM
	if mode == "immediate" {
		sig = syscall.SIGKILL
	}
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	if !waitGone(pid, 30*time.Second, "--config.file=") {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	os.Remove(c.PidPath(prometheusNode))
	return nil
}

// CoordinatorPools is one coordinator's clients and datanode backends, as
// its metrics tell.
type CoordinatorPools struct {
	Name    string
	Clients int
	// Backends are per datanode: active, idle, waiting.
	Backends map[string][3]int
	Err      error
}

// GTMStandbyLag is what the gtm's metrics tell of its standby.
type GTMStandbyLag struct {
	Connected   bool
	Bytes       int64
	Seconds     float64
	Err         error
	HasStandby  bool
	StandbyName string
}

// Pools reads every coordinator's pool figures from its metrics.
func (c *Cluster) Pools(ctx context.Context) []CoordinatorPools {
	var out []CoordinatorPools
	if c.Config.Metrics.Off {
		return nil
	}
	for _, n := range c.Config.Coordinators {
		p := CoordinatorPools{Name: n.Name, Backends: map[string][3]int{}}
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		fams, err := metrics.Scrape(sctx, c.Config.MetricsAddr(n))
		cancel()
		if err != nil {
			p.Err = err
			out = append(out, p)
			continue
		}
		p.Clients = int(fams.Value("xlgo_client_connections"))
		for _, dn := range c.Config.Datanodes {
			var b [3]int
			for i, state := range []string{"active", "idle", "waiting"} {
				b[i] = int(fams.Value("xlgo_backends", "datanode", dn.Name, "state", state))
			}
			p.Backends[dn.Name] = b
		}
		out = append(out, p)
	}
	return out
}

// GTMStandby reads the gtm's figures of its standby from its metrics.
func (c *Cluster) GTMStandby(ctx context.Context) GTMStandbyLag {
	l := GTMStandbyLag{HasStandby: c.Config.HasGTMStandby(), StandbyName: c.Config.GTMStandby.Name}
	if !l.HasStandby || c.Config.Metrics.Off {
		return l
	}
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	fams, err := metrics.Scrape(sctx, c.Config.MetricsAddr(c.Config.GTM))
	if err != nil {
		l.Err = err
		return l
	}
	l.Connected = fams.Value("xlgo_gtm_standby_connected") == 1
	l.Bytes = int64(fams.Value("xlgo_gtm_standby_lag_bytes"))
	l.Seconds = fams.Value("xlgo_gtm_standby_lag_seconds")
	return l
}
