package auth

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultRulesTrustOnlyLoopback(t *testing.T) {
	h := DefaultHBA()
	for _, tc := range []struct {
		info ConnInfo
		want string
	}{
		{ConnInfo{Local: true, User: "u", Database: "d"}, MethodTrust},
		{ConnInfo{Addr: net.ParseIP("127.0.0.1"), User: "u", Database: "d"}, MethodTrust},
		{ConnInfo{Addr: net.ParseIP("::1"), User: "u", Database: "d"}, MethodTrust},
		{ConnInfo{Addr: net.ParseIP("::ffff:127.0.0.1"), User: "u", Database: "d"}, MethodTrust},
		{ConnInfo{Addr: net.ParseIP("127.0.0.2"), User: "u", Database: "d"}, MethodSCRAM},
		{ConnInfo{Addr: net.ParseIP("10.1.2.3"), User: "u", Database: "d"}, MethodSCRAM},
		{ConnInfo{Addr: net.ParseIP("192.168.0.7"), SSL: true, User: "u", Database: "d"}, MethodSCRAM},
		{ConnInfo{Addr: net.ParseIP("2001:db8::1"), User: "u", Database: "d"}, MethodSCRAM},
	} {
		r, ok := h.Match(tc.info)
		if !ok || r.Method != tc.want {
			t.Errorf("%s: rule %+v %v, want method %s", DescribeConn(tc.info), r, ok, tc.want)
		}
	}
}

func TestRuleMatching(t *testing.T) {
	h, err := ParseHBA(`
# comment
local     all          postgres                          trust
hostssl   sales,"All"  alice,"bob smith"  10.0.0.0/8     scram-sha-256   # trailing comment
hostnossl sameuser     all                10.0.0.0 255.0.0.0  md5
host      all          all                192.168.1.0/24 reject
host      all          +admins            all            password
`)
	if err == nil {
		t.Fatal("a +group role was accepted")
	}
	h, err = ParseHBA(`
local     all          postgres                          trust
hostssl   sales,"All"  alice,"bob smith"  10.0.0.0/8     scram-sha-256   # trailing comment
hostnossl sameuser     all                10.0.0.0 255.0.0.0  md5
host      all          all                192.168.1.0/24 reject
host      all          carol              all            password
`)
	if err != nil {
		t.Fatal(err)
	}
	ip := net.ParseIP
	for _, tc := range []struct {
		info ConnInfo
		line int // 0: no rule
	}{
		{ConnInfo{Local: true, User: "postgres", Database: "x"}, 2},
		{ConnInfo{Local: true, User: "alice", Database: "x"}, 0},
		{ConnInfo{Addr: ip("10.1.1.1"), SSL: true, User: "alice", Database: "sales"}, 3},
		{ConnInfo{Addr: ip("10.1.1.1"), SSL: true, User: "bob smith", Database: "All"}, 3},
		{ConnInfo{Addr: ip("10.1.1.1"), SSL: true, User: "alice", Database: "all"}, 0}, // quoted "All" is a name, not the keyword
		{ConnInfo{Addr: ip("10.1.1.1"), SSL: false, User: "alice", Database: "sales"}, 0},
		{ConnInfo{Addr: ip("10.1.1.1"), SSL: false, User: "dave", Database: "dave"}, 4},
		{ConnInfo{Addr: ip("10.1.1.1"), SSL: true, User: "dave", Database: "dave"}, 0},
		{ConnInfo{Addr: ip("192.168.1.9"), User: "dave", Database: "x"}, 5},
		{ConnInfo{Addr: ip("172.16.0.1"), User: "carol", Database: "x"}, 6},
		{ConnInfo{Addr: ip("2001:db8::5"), User: "carol", Database: "x"}, 6},
	} {
		r, ok := h.Match(tc.info)
		if tc.line == 0 && ok || tc.line != 0 && (!ok || r.Line != tc.line) {
			t.Errorf("%s: matched %v line %d, want line %d", DescribeConn(tc.info), ok, r.Line, tc.line)
		}
	}
}

func TestHBAErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"host all all 127.0.0.1/32 peer", `method "peer" is not supported`},
		{"local all all", "end-of-line before authentication method"},
		{"host all all trust", "host names are not supported"},
		{"host all all 300.0.0.1/32 trust", "invalid IP address"},
		{"hostx all all 127.0.0.1/32 trust", "invalid connection type"},
		{"host all all 127.0.0.1/32 md5 clientcert=verify-full", "options are not supported"},
		{"host all all 10.0.0.1 255.0.0.300 trust", "invalid IP mask"},
		{`host "all all 127.0.0.1/32 trust`, "unterminated"},
	} {
		_, err := ParseHBA(tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseHBA(%q) = %v, want %q", tc.text, err, tc.want)
		}
	}
	// A file with comments only (or caught empty) is refused, not loaded
	// as "nobody may connect".
	path := filepath.Join(t.TempDir(), "hba.conf")
	if err := os.WriteFile(path, []byte("# nothing yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadHBA(path); err == nil || !strings.Contains(err.Error(), "contains no entries") {
		t.Errorf("LoadHBA of a file without rules = %v", err)
	}
}

func TestDescribeConn(t *testing.T) {
	got := DescribeConn(ConnInfo{Addr: net.ParseIP("127.0.0.1"), User: "x", Database: "y"})
	if want := `host "127.0.0.1", user "x", database "y", no encryption`; got != want {
		t.Errorf("got %s", got)
	}
	got = DescribeConn(ConnInfo{Local: true, SSL: true, User: "x", Database: "y"})
	if want := `host "[local]", user "x", database "y", SSL encryption`; got != want {
		t.Errorf("got %s", got)
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	ul := filepath.Join(dir, "userlist.txt")
	text := "# users\n\"alice\" \"pw\"\n\"bob \"\"b\"\"\" \"md5" + strings.Repeat("0", 32) + "\"\n\n"
	if err := os.WriteFile(ul, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadUserlist(ul); err == nil || !strings.Contains(err.Error(), "group or world access") {
		t.Fatalf("LoadUserlist of a 0644 file: %v", err)
	}
	os.Chmod(ul, 0o600)
	u, err := LoadUserlist(ul)
	if err != nil {
		t.Fatal(err)
	}
	if u["alice"] != "pw" || u[`bob "b"`] != "md5"+strings.Repeat("0", 32) || len(u) != 2 {
		t.Errorf("userlist %v", u)
	}

	pp := filepath.Join(dir, "pgpass")
	lines := PassfileLine(PassEntry{"127.0.0.1", "5432", "*", "app", `p:w\x`}) + "\n*:*:*:*:fallback\n"
	if err := os.WriteFile(pp, []byte(lines), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPassfile(pp); err == nil {
		t.Fatal("LoadPassfile accepted a 0640 file")
	}
	os.Chmod(pp, 0o600)
	pf, err := LoadPassfile(pp)
	if err != nil {
		t.Fatal(err)
	}
	if pw, ok := pf.Lookup("127.0.0.1", 5432, "db", "app"); !ok || pw != `p:w\x` {
		t.Errorf("lookup app = %q %v", pw, ok)
	}
	if pw, _ := pf.Lookup("127.0.0.1", 5433, "db", "app"); pw != "fallback" {
		t.Errorf("lookup other port = %q", pw)
	}
}
