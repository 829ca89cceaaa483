package cluster

import (
	"slices"
	"strings"
	"testing"
)

func TestGTMStandbyConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte("gtm_standby: {name: gtm_standby, host: 127.0.0.1, port: 6667}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	want := Node{Name: "gtm_standby", Host: "127.0.0.1", Port: 6667}
	if !cfg.HasGTMStandby() || cfg.GTMStandby != want {
		t.Fatalf("gtm_standby = %+v", cfg.GTMStandby)
	}
	if got := cfg.GTMAddrs(); got != "127.0.0.1:6666,127.0.0.1:6667" {
		t.Fatalf("GTMAddrs = %q", got)
	}
	if n, role, ok := cfg.Node("gtm_standby"); !ok || role != RoleGTMStandby || n != want {
		t.Fatalf("Node(gtm_standby) = %+v %s %v", n, role, ok)
	}
	// The rendered config reads back the same.
	back, err := ParseConfig(cfg.YAML())
	if err != nil || back.GTMStandby != want || back.GTM != cfg.GTM {
		t.Fatalf("YAML round trip: %+v, %v\n%s", back, err, cfg.YAML())
	}
	// Without the key there is no standby and the coordinators get one address.
	def := DefaultConfig()
	if def.HasGTMStandby() || def.GTMAddrs() != "127.0.0.1:6666" || strings.Contains(string(def.YAML()), "gtm_standby") {
		t.Fatal("default config has a gtm standby")
	}

	c := New("/home/x", cfg)
	args := c.GTMStandbyArgs()
	if i := slices.Index(args, "--standby-of"); i < 0 || args[i+1] != "127.0.0.1:6666" {
		t.Fatalf("standby args %v", args)
	}
	if i := slices.Index(c.CoordinatorArgs(cfg.Coordinators[0], "/tmp"), "--gtm"); i < 0 ||
		c.CoordinatorArgs(cfg.Coordinators[0], "/tmp")[i+1] != "127.0.0.1:6666,127.0.0.1:6667" {
		t.Fatal("coordinators do not get both gtm addresses")
	}

	for _, bad := range []string{
		"gtm_standby: {name: gtm, host: 127.0.0.1, port: 6667}\n",          // name taken by the gtm
		"gtm_standby: {name: gtm_standby, host: 127.0.0.1, port: 6666}\n",  // the gtm's port
		"gtm_standby: {name: gtm_standby, host: 127.0.0.1, port: 70000}\n", // out of range
	} {
		cfg, err := ParseConfig([]byte(bad))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Validate() == nil {
			t.Errorf("config accepted:\n%s", bad)
		}
	}
}
