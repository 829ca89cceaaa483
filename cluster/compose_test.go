package cluster

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/spf13/viper"
)

// loadCompose loads the repository's docker-compose.yml with compose-go, the
// loader docker compose itself uses, with the test profile.
func loadCompose(t *testing.T) *types.Project { return loadComposeProfiles(t, "test") }

// loadComposeProfiles loads docker-compose.yml with the given profiles active.
func loadComposeProfiles(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithName("xlgo"), cli.WithProfiles(profiles),
		cli.WithEnv([]string{}), cli.WithResolvedPaths(false))
	if err != nil {
		t.Fatal(err)
	}
	p, err := cli.ProjectFromOptions(context.Background(), opts)
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	return p
}

// flagValue returns the argument after flag in a command line.
func flagValue(cmd []string, flag string) (string, bool) {
	i := slices.Index(cmd, flag)
	if i < 0 || i+1 >= len(cmd) {
		return "", false
	}
	return cmd[i+1], true
}

func publishes(s types.ServiceConfig, port int) bool {
	for _, p := range s.Ports {
		if p.Target == uint32(port) && p.Published == strconv.Itoa(port) {
			return true
		}
	}
	return false
}

func TestComposeMatchesDefaultConfig(t *testing.T) {
	p := loadCompose(t)
	def := DefaultConfig()

	var names []string
	for name := range p.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	want := []string{"coord1", "coord2", "datanode1", "datanode2", "gtm", "register", "regress"}
	if !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}

	g := p.Services[def.GTM.Name]
	if !publishes(g, def.GTM.Port) {
		t.Errorf("gtm does not publish %d: %+v", def.GTM.Port, g.Ports)
	}
	for flag, want := range map[string]string{"--name": def.GTM.Name, "--port": strconv.Itoa(def.GTM.Port), "--listen": "0.0.0.0"} {
		if got, _ := flagValue(g.Command, flag); got != want {
			t.Errorf("gtm %s = %q, want %q (command %v)", flag, got, want, g.Command)
		}
	}
	if got, _ := flagValue(g.Command, "--metrics-listen"); got != metricsListen(t, def, def.GTM) {
		t.Errorf("gtm --metrics-listen = %q, want %q", got, metricsListen(t, def, def.GTM))
	}
	if g.Command[0] != "gtm" {
		t.Errorf("gtm runs %q", g.Command[0])
	}

	for _, n := range def.Coordinators {
		s, ok := p.Services[n.Name]
		if !ok {
			t.Errorf("no service %s", n.Name)
			continue
		}
		if !publishes(s, n.Port) {
			t.Errorf("%s does not publish %d: %+v", n.Name, n.Port, s.Ports)
		}
		if s.Command[0] != "coordinator" {
			t.Errorf("%s runs %q", n.Name, s.Command[0])
		}
		for flag, want := range map[string]string{
			"--name": n.Name, "--port": strconv.Itoa(n.Port), "--listen": "0.0.0.0",
			"--gtm":          fmt.Sprintf("%s:%d", def.GTM.Name, def.GTM.Port),
			"--cluster-name": def.ClusterName, "--data-dir": "/var/lib/xlgo/" + n.Name,
		} {
			if got, _ := flagValue(s.Command, flag); got != want {
				t.Errorf("%s %s = %q, want %q (command %v)", n.Name, flag, got, want, s.Command)
			}
		}
		if got, _ := flagValue(s.Command, "--metrics-listen"); got != metricsListen(t, def, n) {
			t.Errorf("%s --metrics-listen = %q, want %q", n.Name, got, metricsListen(t, def, n))
		}
		if _, ok := flagValue(s.Command, "--unix-socket-dir"); !ok {
			t.Errorf("%s: no --unix-socket-dir", n.Name)
		}
	}

	for _, n := range def.Datanodes {
		s, ok := p.Services[n.Name]
		if !ok {
			t.Errorf("no service %s", n.Name)
			continue
		}
		if s.Image != "postgres:15" {
			t.Errorf("%s image %q, want postgres:15", n.Name, s.Image)
		}
		if !publishes(s, n.Port) {
			t.Errorf("%s does not publish %d: %+v", n.Name, n.Port, s.Ports)
		}
		cmd := strings.Join(s.Command, " ")
		for _, setting := range []string{fmt.Sprintf("port=%d", n.Port),
			"max_prepared_transactions=" + def.DatanodeSettings["max_prepared_transactions"],
			"max_connections=" + def.DatanodeSettings["max_connections"]} {
			if !strings.Contains(cmd, "-c "+setting) {
				t.Errorf("%s command %q lacks -c %s", n.Name, cmd, setting)
			}
		}
		if v := s.Environment["POSTGRES_HOST_AUTH_METHOD"]; v == nil || *v != "trust" {
			t.Errorf("%s: POSTGRES_HOST_AUTH_METHOD is not trust", n.Name)
		}
	}

	reg := p.Services["register"]
	if !slices.Contains(reg.Command, "register") {
		t.Errorf("register service runs %v, want xlctl register", reg.Command)
	}
	if cfgPath, _ := flagValue(reg.Command, "--config"); cfgPath == "" {
		t.Errorf("register service has no --config: %v", reg.Command)
	}
}

// TestComposeConfig checks the config the register service uses: the
// reference topology with hosts being the compose services.
func TestComposeConfig(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join("..", "docker", "xlgo.compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	for _, n := range append(append([]Node{want.GTM}, want.Coordinators...), want.Datanodes...) {
		n.Host = n.Name
		got, _, ok := cfg.Node(n.Name)
		if !ok || got != n {
			t.Errorf("node %s = %+v, want %+v", n.Name, got, n)
		}
	}
	if len(cfg.Coordinators) != len(want.Coordinators) || len(cfg.Datanodes) != len(want.Datanodes) {
		t.Errorf("compose config has %d coordinators and %d datanodes, want %d and %d",
			len(cfg.Coordinators), len(cfg.Datanodes), len(want.Coordinators), len(want.Datanodes))
	}
	var got []string
	for _, r := range RegistrationStatements(cfg) {
		got = append(got, r.Create)
	}
	if got[2] != "CREATE NODE datanode1 WITH (TYPE='datanode', HOST='datanode1', PORT=20008, PRIMARY, PREFERRED);" {
		t.Errorf("registration of datanode1: %s", got[2])
	}
}

// metricsListen is the --metrics-listen of node n in the compose file: all
// addresses, the port of the reference config, which the service publishes.
func metricsListen(t *testing.T, def *Config, n Node) string {
	t.Helper()
	_, port, err := net.SplitHostPort(def.MetricsAddr(n))
	if err != nil {
		t.Fatal(err)
	}
	return "0.0.0.0:" + port
}

// TestComposeMonitoringProfile checks the monitoring profile: prometheus and
// grafana exist only with it, publish their ports, mount the files kept in
// docker/, and Prometheus scrapes the gtm's and the coordinators' metrics
// addresses; the nodes publish those addresses.
func TestComposeMonitoringProfile(t *testing.T) {
	monitoring := []string{"prometheus", "grafana"}
	plain := loadCompose(t)
	for _, name := range monitoring {
		if _, ok := plain.Services[name]; ok {
			t.Errorf("service %s runs without the monitoring profile", name)
		}
	}
	p := loadComposeProfiles(t, "monitoring")
	def := DefaultConfig()
	for _, name := range monitoring {
		s, ok := p.Services[name]
		if !ok {
			t.Fatalf("no service %s with the monitoring profile", name)
		}
		if !slices.Equal(s.Profiles, []string{"monitoring"}) {
			t.Errorf("%s profiles %v, want [monitoring]", name, s.Profiles)
		}
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(filepath.Join("..", v.Source)); err != nil {
				t.Errorf("%s mounts %s: %v", name, v.Source, err)
			}
		}
	}
	if s := p.Services["prometheus"]; s.Image != "prom/prometheus" || !publishes(s, 9090) {
		t.Errorf("prometheus: image %q, ports %+v", s.Image, s.Ports)
	}
	if s := p.Services["grafana"]; s.Image != "grafana/grafana" || !publishes(s, 3000) {
		t.Errorf("grafana: image %q, ports %+v", s.Image, s.Ports)
	}
	mounts := func(service, target string) bool {
		for _, v := range p.Services[service].Volumes {
			if v.Target == target {
				return true
			}
		}
		return false
	}
	for service, target := range map[string]string{"prometheus": "/etc/prometheus/prometheus.yml",
		"grafana": "/etc/grafana/provisioning/datasources"} {
		if !mounts(service, target) {
			t.Errorf("%s does not mount %s", service, target)
		}
	}
	for _, target := range []string{"/etc/grafana/provisioning/dashboards", "/etc/grafana/dashboards"} {
		if !mounts("grafana", target) {
			t.Errorf("grafana does not mount %s", target)
		}
	}

	// Every node with metrics publishes them, and Prometheus scrapes them under its job.
	want := map[string]string{} // target -> job
	for _, n := range append([]Node{def.GTM}, def.Coordinators...) {
		_, port, _ := net.SplitHostPort(def.MetricsAddr(n))
		pn, _ := strconv.Atoi(port)
		if !publishes(p.Services[n.Name], pn) {
			t.Errorf("%s does not publish its metrics port %d", n.Name, pn)
		}
		job := "coordinator"
		if n.Name == def.GTM.Name {
			job = "gtm"
		}
		want[net.JoinHostPort(n.Name, port)] = job
	}
	v := viper.New()
	v.SetConfigFile(filepath.Join("..", "docker", "prometheus.yml"))
	if err := v.ReadInConfig(); err != nil {
		t.Fatal(err)
	}
	var prom struct {
		ScrapeConfigs []struct {
			JobName       string `mapstructure:"job_name"`
			StaticConfigs []struct {
				Targets []string `mapstructure:"targets"`
			} `mapstructure:"static_configs"`
		} `mapstructure:"scrape_configs"`
	}
	if err := v.Unmarshal(&prom); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				got[target] = sc.JobName
			}
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("prometheus scrapes %v, want %v", got, want)
	}

	for _, f := range []string{"provisioning/datasources/prometheus.yml", "provisioning/dashboards/xlgo.yml", "dashboards/xlgo.json"} {
		b, err := os.ReadFile(filepath.Join("..", "docker", "grafana", f))
		if err != nil {
			t.Error(err)
			continue
		}
		if f == "provisioning/datasources/prometheus.yml" && !strings.Contains(string(b), "url: http://prometheus:9090") {
			t.Errorf("the grafana datasource does not point at http://prometheus:9090:\n%s", b)
		}
	}
}
