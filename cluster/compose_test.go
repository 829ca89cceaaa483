package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadCompose loads the repository's docker-compose.yml with compose-go, the
// loader docker compose itself uses.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithName("xlgo"), cli.WithProfiles([]string{"test"}),
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
