package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"
)

// Node is one process of the cluster: the GTM, a coordinator or a datanode.
type Node struct {
	Name      string `mapstructure:"name"`
	Host      string `mapstructure:"host"`
	Port      int    `mapstructure:"port"`
	Primary   bool   `mapstructure:"primary"`   // datanodes only: replicated-table writes go here first
	Preferred bool   `mapstructure:"preferred"` // datanodes only: replicated-table reads go here
	// Dir is the node's data directory on its host (an absolute path);
	// empty means HOME/NAME there.
	Dir string `mapstructure:"dir"`
	// Of names the datanode a datanode standby follows.
	Of string `mapstructure:"of"`
	// Fenced marks a former datanode that lost its place to its standby: it
	// is not started, and xlctl rejoin makes it a standby of the datanode.
	Fenced bool `mapstructure:"fenced"`
	// MetricsPort is where a gtm or coordinator serves its metrics; 0 means
	// its port plus the config's metrics.port_offset.
	MetricsPort int `mapstructure:"metrics_port"`
}

// Addr is host:port.
func (n Node) Addr() string { return net.JoinHostPort(n.Host, strconv.Itoa(n.Port)) }

// Config is the cluster description xlctl works from (HOME/xlgo.yaml).
type Config struct {
	ClusterName string `mapstructure:"cluster_name"`
	// PgBin is the directory of initdb, pg_ctl and postgres; empty means auto-detect.
	PgBin string `mapstructure:"pg_bin"`
	// OSUser runs PostgreSQL when xlctl runs as root (initdb refuses root).
	OSUser string `mapstructure:"os_user"`
	// SocketDir is where datanodes and coordinators put their Unix sockets;
	// empty means the libpq default (/var/run/postgresql) when it is writable, else /tmp.
	SocketDir string `mapstructure:"socket_dir"`
	// LogLevel is passed to gtm and coordinators as --log-level when set.
	LogLevel string `mapstructure:"log_level"`
	// LogFormat is passed to gtm and coordinators as --log-format when set
	// (text or json).
	LogFormat string `mapstructure:"log_format"`
	// CoordinatorSettings are the coordinators' reloadable settings (their
	// --config file: log_level, log_min_duration_statement, pool_size ...);
	// xlctl reload puts a change in force without a restart.
	CoordinatorSettings map[string]string `mapstructure:"coordinator_settings"`
	// Metrics is where gtms and coordinators serve Prometheus metrics.
	Metrics MetricsConfig `mapstructure:"metrics"`
	GTM     Node          `mapstructure:"gtm"`
	// GTMStandby, when set, is a GTM standby that follows the gtm's log (the
	// guide's gtmSlave); `xlctl failover gtm` promotes it and swaps the two.
	GTMStandby   Node   `mapstructure:"gtm_standby"`
	Coordinators []Node `mapstructure:"coordinators"`
	Datanodes    []Node `mapstructure:"datanodes"`
	// DatanodeStandbys are streaming standbys of datanodes (the guide's
	// datanode slaves), each made by pg_basebackup from the datanode its Of
	// names and synchronous: a commit is acknowledged once it is on both.
	DatanodeStandbys []Node `mapstructure:"datanode_standbys"`
	// DatanodeSettings are extra postgresql.conf lines for every datanode.
	DatanodeSettings map[string]string `mapstructure:"datanode_settings"`
	// Auth is how coordinators authenticate clients and log in to datanodes.
	Auth AuthConfig `mapstructure:"auth"`
	// SSH is the command (split on spaces) that runs a command on a node's
	// host when the host is not this machine; DefaultSSH when empty.
	SSH string `mapstructure:"ssh"`
	// BinDir is where the xlgo binaries (xlctl, gtm, coordinator) are on the
	// other hosts; empty means HOME/bin there. xlctl deploy puts them there.
	BinDir string `mapstructure:"bin_dir"`
	// FailoverAfter is how long a datanode with a standby may not answer
	// before the coordinators fail it over ("5s" when empty; "0" turns
	// automatic failover off); FailoverWait how long a statement waits for
	// a lost datanode ("30s" when empty). Coordinator flags --failover-after
	// and --failover-wait.
	FailoverAfter string `mapstructure:"failover_after"`
	FailoverWait  string `mapstructure:"failover_wait"`
}

// MetricsConfig places the metrics endpoints: each gtm and coordinator
// serves /metrics on its own port plus PortOffset (the reference cluster:
// 7666, 21004, 21005), on Listen (empty: the node's host, which is loopback
// in the reference cluster), with pprof's profiles beside it when Pprof.
type MetricsConfig struct {
	Off        bool   `mapstructure:"off"`
	Listen     string `mapstructure:"listen"`
	PortOffset int    `mapstructure:"port_offset"`
	Pprof      bool   `mapstructure:"pprof"`
	// PrometheusPort, when set, makes xlctl run Debian's prometheus on
	// 127.0.0.1 at that port, scraping the cluster (xlctl init --monitoring).
	PrometheusPort int `mapstructure:"prometheus_port"`
}

// DefaultMetricsPortOffset puts a node's metrics 1000 ports above its own.
const DefaultMetricsPortOffset = 1000

// MetricsAddr is where node n (a gtm or coordinator) serves its metrics, ""
// when metrics are off.
func (c *Config) MetricsAddr(n Node) string {
	if c.Metrics.Off {
		return ""
	}
	off := c.Metrics.PortOffset
	if off == 0 {
		off = DefaultMetricsPortOffset
	}
	host := c.Metrics.Listen
	if host == "" {
		host = n.Host
	}
	port := n.Port + off
	if n.MetricsPort != 0 {
		port = n.MetricsPort
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// DefaultSSH runs commands on other hosts with the system's ssh, the user's
// own keys, agent, ~/.ssh/config and known_hosts, never asking for a password.
const DefaultSSH = "ssh -o BatchMode=yes -o ConnectTimeout=10"

// DefaultConfig is the reference topology of the Postgres-XL guide, all on 127.0.0.1.
func DefaultConfig() *Config {
	return &Config{
		ClusterName: "xlgo",
		OSUser:      "postgres",
		GTM:         Node{Name: "gtm", Host: "127.0.0.1", Port: 6666},
		Coordinators: []Node{
			{Name: "coord1", Host: "127.0.0.1", Port: 20004},
			{Name: "coord2", Host: "127.0.0.1", Port: 20005},
		},
		Datanodes: []Node{
			{Name: "datanode1", Host: "127.0.0.1", Port: 20008, Primary: true, Preferred: true},
			{Name: "datanode2", Host: "127.0.0.1", Port: 20009},
		},
		DatanodeSettings: map[string]string{
			"max_prepared_transactions": "100",
			"max_connections":           "200",
		},
	}
}

// LoadConfig reads a YAML config file. Keys it does not set keep their
// DefaultConfig values, except the node lists, which are taken as written.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig parses the YAML text of a config.
func ParseConfig(data []byte) (*Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	for _, k := range v.AllKeys() {
		top := strings.SplitN(k, ".", 2)[0]
		if !knownKeys[top] {
			return nil, fmt.Errorf("unknown key %q", top)
		}
	}
	cfg := DefaultConfig()
	if v.IsSet("coordinators") {
		cfg.Coordinators = nil
	}
	if v.IsSet("datanodes") {
		cfg.Datanodes = nil
	}
	if v.IsSet("datanode_standbys") {
		cfg.DatanodeStandbys = nil
	}
	if v.IsSet("datanode_settings") {
		cfg.DatanodeSettings = nil
	}
	if err := v.Unmarshal(cfg); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return cfg, nil
}

var knownKeys = map[string]bool{
	"cluster_name": true, "pg_bin": true, "os_user": true, "socket_dir": true, "log_level": true,
	"gtm": true, "gtm_standby": true, "coordinators": true, "datanodes": true, "datanode_settings": true,
	"auth": true, "ssh": true, "bin_dir": true, "datanode_standbys": true, "failover_after": true, "failover_wait": true,
	"log_format": true, "metrics": true, "coordinator_settings": true,
}

var (
	nameRE    = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	settingRE = regexp.MustCompile(`^[a-z_][a-z0-9_.]*$`)
)

// Validate checks that the config describes a cluster xlctl can build:
// names and ports unique, at least one coordinator and one datanode, at most
// one primary datanode.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.ClusterName == "" {
		bad("cluster_name is empty")
	}
	if len(c.Coordinators) == 0 {
		bad("no coordinators")
	}
	if len(c.Datanodes) == 0 {
		bad("no datanodes")
	}
	names := map[string]string{}
	ports := map[string]string{}
	check := func(role string, n Node) {
		switch {
		case n.Name == "":
			bad("%s without a name", role)
			return
		case !nameRE.MatchString(n.Name):
			bad("%s %q: a name is lower-case letters, digits and _ (at most 63), not starting with a digit", role, n.Name)
		case n.Name == "log" || n.Name == "run":
			bad("%s %q: the name is reserved for the home's %s/ directory", role, n.Name, n.Name)
		}
		if prev, ok := names[n.Name]; ok {
			bad("%s %q: name already used by a %s", role, n.Name, prev)
		}
		names[n.Name] = role
		if n.Host == "" {
			bad("%s %q: host is empty", role, n.Name)
		}
		if n.Port < 1 || n.Port > 65535 {
			bad("%s %q: port %d out of range", role, n.Name, n.Port)
		}
		key := fmt.Sprintf("%s:%d", n.Host, n.Port)
		if prev, ok := ports[key]; ok {
			bad("%s %q: %s already used by %s", role, n.Name, key, prev)
		}
		ports[key] = n.Name
		if n.Dir != "" && !filepath.IsAbs(n.Dir) {
			bad("%s %q: dir %q is not an absolute path", role, n.Name, n.Dir)
		}
		if role != RoleDatanodeStandby && (n.Of != "" || n.Fenced) {
			bad("%s %q: of and fenced apply to datanode standbys only", role, n.Name)
		}
		if role != RoleDatanode && (n.Primary || n.Preferred) {
			bad("%s %q: primary/preferred apply to datanodes only", role, n.Name)
		}
	}
	check(RoleGTM, c.GTM)
	if c.HasGTMStandby() {
		check(RoleGTMStandby, c.GTMStandby)
	}
	for _, n := range c.Coordinators {
		check(RoleCoordinator, n)
	}
	primaries := 0
	for _, n := range c.Datanodes {
		check(RoleDatanode, n)
		if n.Primary {
			primaries++
		}
	}
	if primaries > 1 {
		bad("%d datanodes are primary; at most one may be", primaries)
	}
	followed := map[string]string{}
	for _, n := range c.DatanodeStandbys {
		check(RoleDatanodeStandby, n)
		switch _, role, _ := c.Node(n.Of); {
		case n.Of == "":
			bad("datanode standby %q: of (the datanode it follows) is empty", n.Name)
		case role != RoleDatanode:
			bad("datanode standby %q: of %q is not a datanode", n.Name, n.Of)
		case followed[n.Of] != "" && !n.Fenced:
			bad("datanode standby %q: datanode %s already has standby %s", n.Name, n.Of, followed[n.Of])
		}
		if !n.Fenced {
			followed[n.Of] = n.Name
		}
	}
	for _, d := range []struct{ key, v string }{{"failover_after", c.FailoverAfter}, {"failover_wait", c.FailoverWait}} {
		if _, err := time.ParseDuration(d.v); d.v != "" && err != nil {
			bad("%s %q: want a duration such as 5s", d.key, d.v)
		}
	}
	if c.BinDir != "" && !filepath.IsAbs(c.BinDir) {
		bad("bin_dir %q is not an absolute path", c.BinDir)
	}
	if err := c.Auth.validate(); err != nil {
		bad("auth: %v", err)
	}
	for k := range c.DatanodeSettings {
		if !settingRE.MatchString(k) {
			bad("datanode_settings: %q is not a setting name", k)
		}
		switch k {
		case "port", "listen_addresses", "unix_socket_directories":
			bad("datanode_settings: %s is set by xlctl from the node list", k)
		}
	}
	return errors.Join(errs...)
}

// Node returns the node with this name and its role.
func (c *Config) Node(name string) (Node, string, bool) {
	if c.GTM.Name == name {
		return c.GTM, RoleGTM, true
	}
	if c.HasGTMStandby() && c.GTMStandby.Name == name {
		return c.GTMStandby, RoleGTMStandby, true
	}
	for _, n := range c.Coordinators {
		if n.Name == name {
			return n, RoleCoordinator, true
		}
	}
	for _, n := range c.Datanodes {
		if n.Name == name {
			return n, RoleDatanode, true
		}
	}
	for _, n := range c.DatanodeStandbys {
		if n.Name == name {
			return n, RoleDatanodeStandby, true
		}
	}
	return Node{}, "", false
}

// YAML renders the config in the layout of the reference xlgo.yaml.
func (c *Config) YAML() []byte {
	var b strings.Builder
	q := func(s string) string { return strconv.Quote(s) }
	node := func(n Node, datanode bool) string {
		s := fmt.Sprintf("{name: %s, host: %s, port: %d", q(n.Name), q(n.Host), n.Port)
		if datanode && n.Primary {
			s += ", primary: true"
		}
		if datanode && n.Preferred {
			s += ", preferred: true"
		}
		if n.Dir != "" {
			s += ", dir: " + q(n.Dir)
		}
		if n.Of != "" {
			s += ", of: " + q(n.Of)
		}
		if n.Fenced {
			s += ", fenced: true"
		}
		if n.MetricsPort != 0 {
			s += fmt.Sprintf(", metrics_port: %d", n.MetricsPort)
		}
		return s + "}"
	}
	b.WriteString("# xlgo cluster config (read by xlctl).\n")
	fmt.Fprintf(&b, "cluster_name: %s\n", q(c.ClusterName))
	fmt.Fprintf(&b, "pg_bin: %s          # empty: auto-detect\n", q(c.PgBin))
	fmt.Fprintf(&b, "os_user: %s   # runs PostgreSQL when xlctl runs as root\n", q(c.OSUser))
	fmt.Fprintf(&b, "socket_dir: %s      # empty: /var/run/postgresql when writable, else /tmp\n", q(c.SocketDir))
	if c.LogLevel != "" {
		fmt.Fprintf(&b, "log_level: %s\n", q(c.LogLevel))
	}
	if c.LogFormat != "" {
		fmt.Fprintf(&b, "log_format: %s\n", q(c.LogFormat))
	}
	if len(c.CoordinatorSettings) > 0 {
		b.WriteString("coordinator_settings:   # reloadable (xlctl reload): log_level, log_min_duration_statement, pool_size ...\n")
		for _, k := range sortedKeys(c.CoordinatorSettings) {
			fmt.Fprintf(&b, "  %s: %s\n", k, q(c.CoordinatorSettings[k]))
		}
	}
	if c.Metrics != (MetricsConfig{}) {
		fmt.Fprintf(&b, "metrics: {off: %t, listen: %s, port_offset: %d, pprof: %t, prometheus_port: %d}   # /metrics on each gtm and coordinator at port + port_offset\n",
			c.Metrics.Off, q(c.Metrics.Listen), c.Metrics.PortOffset, c.Metrics.Pprof, c.Metrics.PrometheusPort)
	}
	fmt.Fprintf(&b, "gtm: %s\n", node(c.GTM, false))
	if c.HasGTMStandby() {
		fmt.Fprintf(&b, "gtm_standby: %s   # follows the gtm; xlctl failover gtm promotes it\n", node(c.GTMStandby, false))
	}
	b.WriteString("coordinators:\n")
	for _, n := range c.Coordinators {
		fmt.Fprintf(&b, "  - %s\n", node(n, false))
	}
	b.WriteString("datanodes:\n")
	for _, n := range c.Datanodes {
		fmt.Fprintf(&b, "  - %s\n", node(n, true))
	}
	if len(c.DatanodeStandbys) > 0 {
		b.WriteString("datanode_standbys:   # synchronous streaming standbys (pg_basebackup of the datanode named by of)\n")
		for _, n := range c.DatanodeStandbys {
			fmt.Fprintf(&b, "  - %s\n", node(n, false))
		}
	}
	b.WriteString("datanode_settings:   # extra postgresql.conf lines for every datanode\n")
	for _, k := range sortedKeys(c.DatanodeSettings) {
		fmt.Fprintf(&b, "  %s: %s\n", k, q(c.DatanodeSettings[k]))
	}
	if c.SSH != "" {
		fmt.Fprintf(&b, "ssh: %s   # runs commands on the other hosts\n", q(c.SSH))
	}
	if c.BinDir != "" {
		fmt.Fprintf(&b, "bin_dir: %s   # the xlgo binaries on the other hosts (xlctl deploy)\n", q(c.BinDir))
	}
	if c.FailoverAfter != "" {
		fmt.Fprintf(&b, "failover_after: %s   # a datanode with a standby lost this long is failed over\n", q(c.FailoverAfter))
	}
	if c.FailoverWait != "" {
		fmt.Fprintf(&b, "failover_wait: %s   # statements wait this long for a lost datanode\n", q(c.FailoverWait))
	}
	b.WriteString(c.Auth.yaml())
	return []byte(b.String())
}

// Roles of the processes of a cluster.
const (
	RoleGTM         = "gtm"
	RoleGTMStandby  = "gtm_standby"
	RoleCoordinator = "coordinator"
	RoleDatanode    = "datanode"
	// RoleDatanodeStandby is a streaming standby of a datanode.
	RoleDatanodeStandby = "datanode_standby"
)

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// StandbyOf returns the standby of datanode name.
func (c *Config) StandbyOf(name string) (Node, bool) {
	for _, n := range c.DatanodeStandbys {
		if n.Of == name && !n.Fenced {
			return n, true
		}
	}
	return Node{}, false
}

// FencedOf returns the former datanode that name replaced, when the config
// keeps one.
func (c *Config) FencedOf(name string) (Node, bool) {
	for _, n := range c.DatanodeStandbys {
		if n.Of == name && n.Fenced {
			return n, true
		}
	}
	return Node{}, false
}

// activeStandbys are the datanode standbys that are not fenced.
func (c *Config) activeStandbys() []Node {
	var out []Node
	for _, n := range c.DatanodeStandbys {
		if !n.Fenced {
			out = append(out, n)
		}
	}
	return out
}

// HasGTMStandby reports whether the config has a GTM standby.
func (c *Config) HasGTMStandby() bool { return c.GTMStandby != (Node{}) }

// GTMAddrs is what coordinators get as --gtm: the gtm's address, then the
// standby's when there is one ("h1:p1,h2:p2"), so they find a promoted standby.
func (c *Config) GTMAddrs() string {
	if c.HasGTMStandby() {
		return c.GTM.Addr() + "," + c.GTMStandby.Addr()
	}
	return c.GTM.Addr()
}
