package cluster

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const guideYAML = `
cluster_name: xlgo
pg_bin: ""          # empty: auto-detect
os_user: postgres
gtm:          {name: gtm, host: 127.0.0.1, port: 6666}
coordinators: [{name: coord1, host: 127.0.0.1, port: 20004}, {name: coord2, host: 127.0.0.1, port: 20005}]
datanodes:    [{name: datanode1, host: 127.0.0.1, port: 20008, primary: true, preferred: true},
               {name: datanode2, host: 127.0.0.1, port: 20009}]
datanode_settings: {max_prepared_transactions: 100, max_connections: 200}
`

func TestParseConfigGuide(t *testing.T) {
	cfg, err := ParseConfig([]byte(guideYAML))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, DefaultConfig()) {
		t.Errorf("the guide's YAML parses to\n%+v\nwant DefaultConfig\n%+v", cfg, DefaultConfig())
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestConfigYAMLRoundTrip(t *testing.T) {
	cfg := DefaultConfig()
	cfg.LogLevel = "debug"
	cfg.DatanodeSettings["shared_buffers"] = "128MB"
	cfg.DatanodeSettings["search_path"] = `"$user", public`
	back, err := ParseConfig(cfg.YAML())
	if err != nil {
		t.Fatalf("%v\n%s", err, cfg.YAML())
	}
	if !reflect.DeepEqual(back, cfg) {
		t.Errorf("round trip\n%+v\nwant\n%+v\nYAML:\n%s", back, cfg, cfg.YAML())
	}
}

func TestParseConfigPartial(t *testing.T) {
	cfg, err := ParseConfig([]byte("coordinators: [{name: c1, host: 10.0.0.1, port: 5433}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Coordinators) != 1 || cfg.Coordinators[0].Name != "c1" {
		t.Errorf("coordinators = %+v", cfg.Coordinators)
	}
	if len(cfg.Datanodes) != 2 || cfg.GTM.Port != 6666 || cfg.ClusterName != "xlgo" {
		t.Errorf("unset keys should keep the defaults: %+v", cfg)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"cluster_nme: x\n", `unknown key "cluster_nme"`},
		{"gtm: [1, 2\n", "parse"},
		{"gtm: {port: abc}\n", "decode"},
	} {
		_, err := ParseConfig([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseConfig(%q) = %v, want error containing %q", tc.yaml, err, tc.want)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "xlgo.yaml")
	if err := os.WriteFile(path, []byte(guideYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil || cfg.Datanodes[1].Port != 20009 {
		t.Fatalf("LoadConfig = %+v, %v", cfg, err)
	}
	if _, err := LoadConfig(path + ".missing"); err == nil {
		t.Error("LoadConfig of a missing file: no error")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" means valid
	}{
		{"default", func(*Config) {}, ""},
		{"duplicate name", func(c *Config) { c.Datanodes[1].Name = "coord1" }, `name already used by a coordinator`},
		{"duplicate port", func(c *Config) { c.Coordinators[1].Port = 20008 }, `127.0.0.1:20008 already used by coord2`},
		{"same port other host", func(c *Config) { c.Coordinators[1].Host = "10.0.0.2"; c.Coordinators[1].Port = 20004 }, ""},
		{"two primaries", func(c *Config) { c.Datanodes[1].Primary = true }, "2 datanodes are primary"},
		{"no primary", func(c *Config) { c.Datanodes[0].Primary = false }, ""},
		{"no coordinators", func(c *Config) { c.Coordinators = nil }, "no coordinators"},
		{"no datanodes", func(c *Config) { c.Datanodes = nil }, "no datanodes"},
		{"bad port", func(c *Config) { c.GTM.Port = 70000 }, "out of range"},
		{"empty host", func(c *Config) { c.Datanodes[0].Host = "" }, "host is empty"},
		{"bad name", func(c *Config) { c.Coordinators[0].Name = "Coord-1" }, "a name is lower-case"},
		{"reserved name", func(c *Config) { c.Datanodes[0].Name = "log" }, "reserved"},
		{"primary coordinator", func(c *Config) { c.Coordinators[0].Primary = true }, "datanodes only"},
		{"setting port", func(c *Config) { c.DatanodeSettings["port"] = "1" }, "set by xlctl"},
		{"no cluster name", func(c *Config) { c.ClusterName = "" }, "cluster_name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestRegistrationStatements(t *testing.T) {
	var got []string
	for _, r := range RegistrationStatements(DefaultConfig()) {
		got = append(got, r.Create)
	}
	want := []string{
		"CREATE NODE coord1 WITH (TYPE='coordinator', HOST='127.0.0.1', PORT=20004);",
		"CREATE NODE coord2 WITH (TYPE='coordinator', HOST='127.0.0.1', PORT=20005);",
		"CREATE NODE datanode1 WITH (TYPE='datanode', HOST='127.0.0.1', PORT=20008, PRIMARY, PREFERRED);",
		"CREATE NODE datanode2 WITH (TYPE='datanode', HOST='127.0.0.1', PORT=20009);",
		"SELECT pgxc_pool_reload();",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statements:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestNodeSQL(t *testing.T) {
	n := Node{Name: "datanode2", Host: "node3", Port: 20009, Preferred: true}
	if got, want := CreateNodeSQL(RoleDatanode, n), "CREATE NODE datanode2 WITH (TYPE='datanode', HOST='node3', PORT=20009, PREFERRED);"; got != want {
		t.Errorf("CreateNodeSQL = %s, want %s", got, want)
	}
	c := Node{Name: "coord1", Host: "node2", Port: 20004}
	if got, want := AlterNodeSQL(RoleCoordinator, c), "ALTER NODE coord1 WITH (HOST='node2', PORT=20004);"; got != want {
		t.Errorf("AlterNodeSQL = %s, want %s", got, want)
	}
	odd := Node{Name: "Dn", Host: "o'host", Port: 1}
	if got, want := CreateNodeSQL(RoleDatanode, odd), `CREATE NODE "Dn" WITH (TYPE='datanode', HOST='o''host', PORT=1);`; got != want {
		t.Errorf("quoting: %s, want %s", got, want)
	}
}

func TestFormatTable(t *testing.T) {
	got := FormatTable([]string{"pgxc_pool_reload"}, [][]string{{"t"}})
	want := " pgxc_pool_reload \n------------------\n t\n(1 row)\n\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	got = FormatTable([]string{"node_name", "node_type"}, [][]string{{"coord1", "C"}, {"datanode1", "D"}})
	want = " node_name | node_type \n-----------+-----------\n coord1    | C\n datanode1 | D\n(2 rows)\n\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestDatanodeConf(t *testing.T) {
	c := New("/h", DefaultConfig())
	c.Config.DatanodeSettings["log_line_prefix"] = "%m [%p] "
	got := c.datanodeConf(c.Config.Datanodes[0], "/tmp")
	for _, line := range []string{
		"port = 20008\n", "listen_addresses = '127.0.0.1'\n", "unix_socket_directories = '/tmp'\n",
		"max_prepared_transactions = 100\n", "max_connections = 200\n", "log_line_prefix = '%m [%p] '\n",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("postgresql.conf addition lacks %q:\n%s", line, got)
		}
	}
	c.Config.Coordinators[1].Host = "10.0.0.5"
	hba := c.datanodeHBA()
	for _, line := range []string{"local   all   all", "127.0.0.1/32  trust", "::1/128       trust", "10.0.0.5/32  trust"} {
		if !strings.Contains(hba, line) {
			t.Errorf("pg_hba.conf lacks %q:\n%s", line, hba)
		}
	}
}

func TestCoordinatorArgs(t *testing.T) {
	c := New("/home/x", DefaultConfig())
	got := strings.Join(c.CoordinatorArgs(c.Config.Coordinators[0], "/tmp"), " ")
	want := "--name coord1 --listen 127.0.0.1 --port 20004 --unix-socket-dir /tmp --gtm 127.0.0.1:6666 --data-dir /home/x/coord1 --cluster-name xlgo --config /home/x/coord1/coordinator.yaml --metrics-listen 127.0.0.1:21004"
	if got != want {
		t.Errorf("coordinator args\n%s\nwant\n%s", got, want)
	}
	c.Config.LogLevel = "info"
	got = strings.Join(c.GTMArgs(), " ")
	want = "--name gtm --listen 127.0.0.1 --port 6666 --data-dir /home/x/gtm --log-level info --metrics-listen 127.0.0.1:7666"
	if got != want {
		t.Errorf("gtm args\n%s\nwant\n%s", got, want)
	}
}

func TestInitRefusesExistingCluster(t *testing.T) {
	home := t.TempDir()
	cfg := DefaultConfig()
	if err := os.WriteFile(filepath.Join(home, ConfigFileName), cfg.YAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(home, "datanode1"), 0o700); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadDir(home)
	err := New(home, cfg).Init(t.Context())
	if !errors.Is(err, ErrExists) {
		t.Fatalf("Init on an existing cluster = %v, want ErrExists", err)
	}
	after, _ := os.ReadDir(home)
	if len(before) != len(after) {
		t.Errorf("Init changed the home: %v -> %v", before, after)
	}
}
