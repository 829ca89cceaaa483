package cluster

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xlgo/xlgo/auth"
)

const authYAML = `
auth:
  rules:
    - {type: local, database: all, user: all, method: trust}
    - {type: hostssl, database: "sales,hr", user: alice, address: 10.0.0.0/8, method: scram-sha-256}
    - {type: host, user: Bob, address: 0.0.0.0/0, method: md5}
  password_source: userlist
  userlist: userlist.txt
  ssl_cert_file: /etc/x/server.crt
  ssl_key_file: /etc/x/server.key
  datanode_passwords:
    - {user: Bob, password: "p:w"}
  admin_users: [ops, Monitor]
`

func TestAuthConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(authYAML))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a := cfg.Auth
	if len(a.Rules) != 3 || a.Rules[2].User != "Bob" || a.DatanodePasswords[0].User != "Bob" || a.Userlist != "userlist.txt" {
		t.Fatalf("auth %+v", a)
	}
	h, err := auth.ParseHBA(a.HBAText())
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := h.Match(auth.ConnInfo{Addr: []byte{10, 1, 2, 3}, SSL: true, User: "alice", Database: "hr"}); !ok || r.Method != "scram-sha-256" {
		t.Errorf("rule for alice: %+v %v\n%s", r, ok, a.HBAText())
	}
	// The rendered config reads back the same.
	again, err := ParseConfig(cfg.YAML())
	if err != nil {
		t.Fatalf("%v\n%s", err, cfg.YAML())
	}
	if again.Auth.HBAText() != a.HBAText() || again.Auth.DatanodePasswords[0] != a.DatanodePasswords[0] || again.Auth.SSLKeyFile != a.SSLKeyFile ||
		!slices.Equal(again.Auth.AdminUsers, []string{"ops", "Monitor"}) {
		t.Errorf("round trip: %+v", again.Auth)
	}
	// A default config renders no auth section.
	if strings.Contains(string(DefaultConfig().YAML()), "auth:") {
		t.Error("default config has an auth section")
	}

	home := t.TempDir()
	c := New(home, cfg)
	args := strings.Join(c.CoordinatorArgs(cfg.Coordinators[0], "/tmp"), " ")
	for _, want := range []string{
		"--hba-file " + filepath.Join(home, "coord1", CoordinatorHBAFile),
		"--auth-file " + filepath.Join(home, "userlist.txt"),
		"--ssl-cert-file /etc/x/server.crt --ssl-key-file /etc/x/server.key",
		"--datanode-passfile " + filepath.Join(home, "coord1", CoordinatorPassfile),
		"--admin-users ops,Monitor",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("coordinator args lack %q:\n%s", want, args)
		}
	}

	// Passwords in a config others may read: refused.
	os.MkdirAll(c.DataDir("coord1"), 0o700)
	os.WriteFile(c.ConfigPath(), []byte(authYAML), 0o644)
	if err := c.writeCoordinatorAuth(cfg.Coordinators[0]); err == nil || !strings.Contains(err.Error(), "group or world access") {
		t.Fatalf("writeCoordinatorAuth with a 0644 config: %v", err)
	}
	os.Chmod(c.ConfigPath(), 0o600)
	if err := c.writeCoordinatorAuth(cfg.Coordinators[0]); err != nil {
		t.Fatal(err)
	}
	pf, err := auth.LoadPassfile(filepath.Join(c.DataDir("coord1"), CoordinatorPassfile))
	if err != nil {
		t.Fatal(err)
	}
	if pw, ok := pf.Lookup("127.0.0.1", 20008, "db", "Bob"); !ok || pw != "p:w" {
		t.Errorf("passfile lookup %q %v", pw, ok)
	}
	if _, err := auth.LoadHBA(filepath.Join(c.DataDir("coord1"), CoordinatorHBAFile)); err != nil {
		t.Error(err)
	}
}

func TestAuthConfigErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"auth: {rules: [{type: host, method: trust}]}", "address is empty"},
		{"auth: {rules: [{type: host, address: 1.2.3.4/32, method: peer}]}", `"peer" is not supported`},
		{"auth: {password_source: ldap}", "want pg_authid or userlist"},
		{"auth: {password_source: userlist}", "needs userlist"},
		{"auth: {ssl_cert_file: a.crt}", "go together"},
		{"auth: {datanode_passfile: p, datanode_passwords: [{user: a, password: b}]}", "give one of them"},
		{"auth: {admin_users: ['a,b']}", "is not a role name"},
	} {
		cfg, err := ParseConfig([]byte(tc.yaml))
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

func TestTLSFilesFromInit(t *testing.T) {
	home := t.TempDir()
	c := New(home, DefaultConfig())
	if cert, _, _ := c.TLSFiles(); cert != "" {
		t.Fatalf("TLS files without certificates: %s", cert)
	}
	if err := c.makeCerts(); err != nil {
		t.Fatal(err)
	}
	args := c.CoordinatorArgs(c.Config.Coordinators[0], "/tmp")
	i := slices.Index(args, "--ssl-cert-file")
	if i < 0 || args[i+1] != filepath.Join(home, TLSDir, auth.ServerCertFile) {
		t.Fatalf("args %v", args)
	}
	if _, err := auth.LoadServerTLS(args[i+1], args[i+3], ""); err != nil {
		t.Fatal(err)
	}
}
