package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/xlgo/xlgo/auth"
	"github.com/xlgo/xlgo/internal/atomicfile"
)

// AuthConfig is the auth section of the config: client authentication and
// TLS of the coordinators, and the passwords they use with datanodes.
// Relative paths are taken from the home directory.
type AuthConfig struct {
	// Rules are the coordinators' client authentication rules, first match
	// wins; none means the built-in list: trust on the Unix socket and
	// loopback, scram-sha-256 from everywhere else.
	Rules []HBARule `mapstructure:"rules"`
	// PasswordSource is where passwords are checked: pg_authid (the
	// preferred datanode's, the default) or userlist.
	PasswordSource string `mapstructure:"password_source"`
	// Userlist is the userlist file ("user" "password-or-verifier" per line, mode 0600).
	Userlist string `mapstructure:"userlist"`
	// AuthUser is the superuser that reads pg_authid; empty: xlctl's client user.
	AuthUser string `mapstructure:"auth_user"`
	// SSLCertFile and SSLKeyFile turn TLS on for clients; when empty, the
	// certificate xlctl init --tls made in HOME/tls is used if there is one.
	SSLCertFile string `mapstructure:"ssl_cert_file"`
	SSLKeyFile  string `mapstructure:"ssl_key_file"`
	// SSLCAFile holds the CAs client certificates are checked against.
	SSLCAFile string `mapstructure:"ssl_ca_file"`
	// DatanodePassfile is a pgpass-style file (mode 0600) of passwords for
	// coordinator-to-datanode connections.
	DatanodePassfile string `mapstructure:"datanode_passfile"`
	// DatanodePasswords are passwords for coordinator-to-datanode
	// connections, per user; xlctl writes them to a 0600 pgpass file in each
	// coordinator's data directory, and the config file must then be 0600 too.
	DatanodePasswords []UserPassword `mapstructure:"datanode_passwords"`
	// AdminUsers may use the coordinators' admin console (database xlgo)
	// besides the superusers (coordinator flag --admin-users).
	AdminUsers []string `mapstructure:"admin_users"`
}

// HBARule is one client authentication rule (a pg_hba.conf line).
type HBARule struct {
	Type     string `mapstructure:"type"`     // local, host, hostssl or hostnossl
	Database string `mapstructure:"database"` // all, sameuser, a name or a comma-separated list
	User     string `mapstructure:"user"`     // all, a name or a comma-separated list
	Address  string `mapstructure:"address"`  // CIDR or all; host* rules only
	Method   string `mapstructure:"method"`   // trust, reject, md5, scram-sha-256 or password
}

// UserPassword is a datanode password of one user.
type UserPassword struct {
	User     string `mapstructure:"user"`
	Password string `mapstructure:"password"`
}

// Password sources.
const (
	PasswordSourceAuthid   = "pg_authid"
	PasswordSourceUserlist = "userlist"
)

// Names of the files xlctl writes for a coordinator.
const (
	CoordinatorHBAFile      = "pg_hba.conf"
	CoordinatorPassfile     = "datanode.pgpass"
	TLSDir                  = "tls"
	coordinatorHBAHeaderFmt = "# Written by xlctl from the auth rules of %s; edit those and restart.\n"
)

// HBAText renders the rules in pg_hba.conf syntax.
func (a *AuthConfig) HBAText() string {
	var b strings.Builder
	for _, r := range a.Rules {
		d, u := orAll(r.Database), orAll(r.User)
		if r.Type == auth.TypeLocal {
			fmt.Fprintf(&b, "%-10s %-12s %-12s %-18s %s\n", r.Type, d, u, "", r.Method)
		} else {
			fmt.Fprintf(&b, "%-10s %-12s %-12s %-18s %s\n", r.Type, d, u, r.Address, r.Method)
		}
	}
	return b.String()
}

func orAll(s string) string {
	if strings.TrimSpace(s) == "" {
		return "all"
	}
	return s
}

// HasSecrets tells whether the config itself holds passwords.
func (a *AuthConfig) HasSecrets() bool { return len(a.DatanodePasswords) > 0 }

func (a *AuthConfig) validate() error {
	var errs []error
	for i, r := range a.Rules {
		if r.Type != auth.TypeLocal && strings.TrimSpace(r.Address) == "" {
			errs = append(errs, fmt.Errorf("rule %d (%s): address is empty", i+1, r.Type))
		}
		if r.Type == auth.TypeLocal && r.Address != "" {
			errs = append(errs, fmt.Errorf("rule %d: a local rule has no address", i+1))
		}
	}
	if len(a.Rules) > 0 {
		if _, err := auth.ParseHBA(a.HBAText()); err != nil {
			errs = append(errs, fmt.Errorf("rules: %w", err))
		}
	}
	switch a.PasswordSource {
	case "", PasswordSourceAuthid:
		if a.Userlist != "" {
			errs = append(errs, errors.New("userlist is set but password_source is not userlist"))
		}
	case PasswordSourceUserlist:
		if a.Userlist == "" {
			errs = append(errs, errors.New("password_source userlist needs userlist (a file)"))
		}
	default:
		errs = append(errs, fmt.Errorf("password_source %q: want pg_authid or userlist", a.PasswordSource))
	}
	if (a.SSLCertFile == "") != (a.SSLKeyFile == "") {
		errs = append(errs, errors.New("ssl_cert_file and ssl_key_file go together"))
	}
	if a.SSLCAFile != "" && a.SSLCertFile == "" {
		errs = append(errs, errors.New("ssl_ca_file needs ssl_cert_file and ssl_key_file"))
	}
	if a.DatanodePassfile != "" && len(a.DatanodePasswords) > 0 {
		errs = append(errs, errors.New("datanode_passfile and datanode_passwords: give one of them"))
	}
	for i, up := range a.DatanodePasswords {
		if up.User == "" {
			errs = append(errs, fmt.Errorf("datanode_passwords %d: user is empty", i+1))
		}
	}
	for _, u := range a.AdminUsers {
		if strings.TrimSpace(u) == "" || strings.Contains(u, ",") {
			errs = append(errs, fmt.Errorf("admin_users: %q is not a role name", u))
		}
	}
	return errors.Join(errs...)
}

// yaml renders the section for Config.YAML ("" when it is empty).
func (a *AuthConfig) yaml() string {
	if len(a.Rules) == 0 && a.PasswordSource == "" && a.Userlist == "" && a.AuthUser == "" && a.SSLCertFile == "" &&
		a.SSLCAFile == "" && a.DatanodePassfile == "" && len(a.DatanodePasswords) == 0 && len(a.AdminUsers) == 0 {
		return ""
	}
	q := strconv.Quote
	var b strings.Builder
	b.WriteString("auth:   # client authentication and TLS of the coordinators\n")
	if len(a.Rules) > 0 {
		b.WriteString("  rules:\n")
		for _, r := range a.Rules {
			fmt.Fprintf(&b, "    - {type: %s, database: %s, user: %s", q(r.Type), q(orAll(r.Database)), q(orAll(r.User)))
			if r.Address != "" {
				fmt.Fprintf(&b, ", address: %s", q(r.Address))
			}
			fmt.Fprintf(&b, ", method: %s}\n", q(r.Method))
		}
	}
	for _, kv := range [][2]string{{"password_source", a.PasswordSource}, {"userlist", a.Userlist}, {"auth_user", a.AuthUser},
		{"ssl_cert_file", a.SSLCertFile}, {"ssl_key_file", a.SSLKeyFile}, {"ssl_ca_file", a.SSLCAFile},
		{"datanode_passfile", a.DatanodePassfile}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "  %s: %s\n", kv[0], q(kv[1]))
		}
	}
	if len(a.AdminUsers) > 0 {
		var us []string
		for _, u := range a.AdminUsers {
			us = append(us, q(u))
		}
		fmt.Fprintf(&b, "  admin_users: [%s]   # may use the admin console (database xlgo) besides superusers\n", strings.Join(us, ", "))
	}
	if len(a.DatanodePasswords) > 0 {
		b.WriteString("  datanode_passwords:\n")
		for _, up := range a.DatanodePasswords {
			fmt.Fprintf(&b, "    - {user: %s, password: %s}\n", q(up.User), q(up.Password))
		}
	}
	return b.String()
}

// TLSFiles are the certificate, key and client CA files coordinators use:
// the config's, else the ones xlctl init --tls made in HOME/tls.
func (c *Cluster) TLSFiles() (cert, key, ca string) {
	a := c.Config.Auth
	if a.SSLCertFile != "" {
		return c.homePath(a.SSLCertFile), c.homePath(a.SSLKeyFile), c.homePath(a.SSLCAFile)
	}
	cert, key = filepath.Join(c.Home, TLSDir, auth.ServerCertFile), filepath.Join(c.Home, TLSDir, auth.ServerKeyFile)
	if fileExists(cert) && fileExists(key) {
		return cert, key, ""
	}
	return "", "", ""
}

// CACertPath is the CA certificate xlctl init --tls made (clients use it
// as sslrootcert for sslmode=verify-full).
func (c *Cluster) CACertPath() string { return filepath.Join(c.Home, TLSDir, auth.CACertFile) }

func (c *Cluster) homePath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Home, p)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// coordinatorAuthArgs are the coordinator flags of the auth section.
func (c *Cluster) coordinatorAuthArgs(n Node) []string {
	a := c.Config.Auth
	var args []string
	if len(a.Rules) > 0 {
		args = append(args, "--hba-file", filepath.Join(c.DataDir(n.Name), CoordinatorHBAFile))
	}
	if a.PasswordSource == PasswordSourceUserlist {
		args = append(args, "--auth-file", c.homePath(a.Userlist))
	}
	if a.AuthUser != "" {
		args = append(args, "--auth-user", a.AuthUser)
	}
	if len(a.AdminUsers) > 0 {
		args = append(args, "--admin-users", strings.Join(a.AdminUsers, ","))
	}
	if cert, key, ca := c.TLSFiles(); cert != "" {
		args = append(args, "--ssl-cert-file", cert, "--ssl-key-file", key)
		if ca != "" {
			args = append(args, "--ssl-ca-file", ca)
		}
	}
	switch {
	case a.DatanodePassfile != "":
		args = append(args, "--datanode-passfile", c.homePath(a.DatanodePassfile))
	case len(a.DatanodePasswords) > 0:
		args = append(args, "--datanode-passfile", filepath.Join(c.DataDir(n.Name), CoordinatorPassfile))
	}
	return args
}

// writeCoordinatorAuth writes the rule file and the datanode password file
// of coordinator n from the config; a config holding passwords must be
// private to its owner.
func (c *Cluster) writeCoordinatorAuth(n Node) error {
	a := c.Config.Auth
	if a.HasSecrets() {
		for _, p := range []string{c.ConfigFile, c.ConfigPath()} {
			if p != "" && fileExists(p) {
				if err := auth.CheckPrivate(p); err != nil {
					return fmt.Errorf("the config holds datanode passwords: %w", err)
				}
			}
		}
	}
	dir := c.DataDir(n.Name)
	if len(a.Rules) > 0 {
		text := fmt.Sprintf(coordinatorHBAHeaderFmt, c.ConfigPath()) + a.HBAText()
		if err := atomicfile.WriteFile(filepath.Join(dir, CoordinatorHBAFile), []byte(text), 0o600); err != nil {
			return err
		}
	}
	if a.HasSecrets() {
		var b strings.Builder
		for _, up := range a.DatanodePasswords {
			b.WriteString(auth.PassfileLine(auth.PassEntry{Host: "*", Port: "*", Database: "*", User: up.User, Password: up.Password}) + "\n")
		}
		path := filepath.Join(dir, CoordinatorPassfile)
		if err := atomicfile.WriteFile(path, []byte(b.String()), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// makeCerts makes the CA and the server certificate of xlctl init --tls.
func (c *Cluster) makeCerts() error {
	var hosts []string
	for _, n := range c.Config.Coordinators {
		hosts = append(hosts, n.Host)
	}
	dir := filepath.Join(c.Home, TLSDir)
	if err := auth.GenerateCerts(dir, c.Config.ClusterName+" coordinators", hosts); err != nil {
		return err
	}
	c.say("Wrote a CA (%s) and a server certificate for the coordinators in %s", auth.CACertFile, dir)
	return nil
}
