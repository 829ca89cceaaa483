package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xlgo/xlgo/auth"
	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/engine"
)

// Files holding secrets that others may read keep the coordinator from starting.
func TestAuthFlagsCheckFiles(t *testing.T) {
	dir := t.TempDir()
	nodes, err := catalog.OpenNodeStore(filepath.Join(dir, "pgxc_node.json"))
	if err != nil {
		t.Fatal(err)
	}
	co := engine.NewCoordinator("coord1", "xlgo", nodes, nil, slog.New(slog.DiscardHandler))
	t.Cleanup(co.Pool.Close)
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	if err := auth.GenerateCerts(filepath.Join(dir, "tls"), "t", nil); err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, "tls", auth.ServerCertFile), filepath.Join(dir, "tls", auth.ServerKeyFile)
	for _, tc := range []struct {
		name string
		o    options
		want string
	}{
		{"passfile 0644", options{datanodePassfile: write("pgpass", "*:*:*:u:p\n", 0o644)}, "group or world access"},
		{"userlist 0640", options{authFile: write("userlist", `"u" "p"`+"\n", 0o640)}, "group or world access"},
		{"hba with peer", options{hbaFile: write("hba", "local all all peer\n", 0o600)}, `"peer" is not supported`},
		{"cert without key", options{sslCert: cert}, "go together"},
		{"key 0644", options{sslCert: cert, sslKey: write("k.key", mustRead(t, key), 0o644)}, "group or world access"},
		{"good", options{sslCert: cert, sslKey: key, hbaFile: write("hba2", "hostssl all all 0.0.0.0/0 md5\n", 0o644),
			authFile: write("userlist2", `"u" "p"`+"\n", 0o600), datanodePassfile: write("pgpass2", "*:*:*:u:p\n", 0o600)}, ""},
	} {
		so, err := authOptions(tc.o, co)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want == "" && (so.TLS == nil || so.HBA == nil || len(so.HBA.Rules) != 1):
			t.Errorf("%s: options %+v", tc.name, so)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
