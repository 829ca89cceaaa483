package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// wantCode checks that err is a PgError with SQLSTATE code ("" for no error).
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("%s: error %v; want SQLSTATE %s", what, err, code)
	}
	if pe.Code != code || pe.Severity != "ERROR" || pe.Message == "" {
		t.Fatalf("%s: error %s %q (%s); want SQLSTATE %s", what, pe.Code, pe.Message, pe.Severity, code)
	}
}

func dn(name string, port int) Node {
	return Node{Name: name, Type: "D", Host: "127.0.0.1", Port: port}
}

// newStore opens a store in a fresh directory with three datanodes and
// one coordinator.
func newStore(t *testing.T) (*NodeStore, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nodes.json")
	s, err := OpenNodeStore(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []Node{
		{Name: "coord1", Type: "C", Host: "127.0.0.1", Port: 5432},
		dn("dn1", 15432), dn("dn2", 15433), dn("dn3", 15434),
	} {
		if err := s.CreateNode(n); err != nil {
			t.Fatalf("create %s: %v", n.Name, err)
		}
	}
	return s, path
}

func names(nodes []Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	return out
}

func TestOpenNodeStoreMissingFile(t *testing.T) {
	s, err := OpenNodeStore(filepath.Join(t.TempDir(), "absent.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Nodes()) != 0 || len(s.Groups()) != 0 || s.Serial() != 0 {
		t.Fatalf("new store not empty: %v %v serial %d", s.Nodes(), s.Groups(), s.Serial())
	}
	if _, ok := s.PreferredDatanode(); ok {
		t.Error("PreferredDatanode of an empty store found one")
	}
	if _, ok := s.PrimaryDatanode(); ok {
		t.Error("PrimaryDatanode of an empty store found one")
	}
}

func TestOpenNodeStoreErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenNodeStore(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("OpenNodeStore(bad JSON) = %v; want an error naming the file", err)
	}
	// A directory cannot be read as a file.
	if _, err := OpenNodeStore(dir); err == nil {
		t.Error("OpenNodeStore(directory) succeeded")
	}
}

func TestNodeStoreCreateNode(t *testing.T) {
	tests := []struct {
		name string
		node Node
		code string
	}{
		{"datanode", dn("dn4", 15435), ""},
		{"coordinator", Node{Name: "coord2", Type: "C", Host: "127.0.0.1", Port: 5433}, ""},
		{"same port other host", Node{Name: "dn5", Type: "D", Host: "10.0.0.1", Port: 15432}, ""},
		{"primary datanode", Node{Name: "dn6", Type: "D", Host: "h", Port: 1, Primary: true, Preferred: true}, ""},
		{"duplicate name", dn("dn1", 16000), "42710"},
		{"duplicate host and port", dn("dnx", 15433), "42710"},
		{"bad type", Node{Name: "x", Type: "X", Host: "h", Port: 1}, "22023"},
		{"empty type", Node{Name: "x", Host: "h", Port: 1}, "22023"},
		{"port zero", dn("x", 0), "22023"},
		{"port too big", dn("x", 65536), "22023"},
		{"negative port", dn("x", -1), "22023"},
		{"highest port", dn("x", 65535), ""},
		{"primary coordinator", Node{Name: "c", Type: "C", Host: "h", Port: 2, Primary: true}, "22023"},
		{"preferred coordinator", Node{Name: "c", Type: "C", Host: "h", Port: 2, Preferred: true}, "22023"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, path := newStore(t)
			before, _ := os.ReadFile(path)
			serial := s.Serial()
			err := s.CreateNode(tc.node)
			wantCode(t, "CreateNode", err, tc.code)
			after, _ := os.ReadFile(path)
			n, ok := s.Node(tc.node.Name)
			if tc.code != "" {
				if s.Serial() != serial || string(before) != string(after) || len(s.Nodes()) != 4 {
					t.Errorf("a refused CreateNode changed the store")
				}
				return
			}
			if !ok || n != tc.node {
				t.Errorf("Node(%s) = %+v, %v; want %+v", tc.node.Name, n, ok, tc.node)
			}
			if s.Serial() == serial || string(before) == string(after) {
				t.Errorf("CreateNode did not change serial or file")
			}
		})
	}
}

func TestNodeStoreTwoPrimaries(t *testing.T) {
	s, _ := newStore(t)
	p := dn("p1", 1)
	p.Primary = true
	wantCode(t, "first primary", s.CreateNode(p), "")
	p2 := dn("p2", 2)
	p2.Primary = true
	wantCode(t, "second primary", s.CreateNode(p2), "42710")
	wantCode(t, "ALTER to primary", s.AlterNode("dn1", func(n *Node) error { n.Primary = true; return nil }), "42710")
	// Re-asserting PRIMARY on the primary itself is fine.
	wantCode(t, "ALTER the primary", s.AlterNode("p1", func(n *Node) error { n.Primary = true; n.Port = 3; return nil }), "")
	if n, ok := s.PrimaryDatanode(); !ok || n.Name != "p1" {
		t.Errorf("PrimaryDatanode = %v, %v; want p1", n.Name, ok)
	}
}

func TestNodeStoreAlterNode(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name   string
		node   string
		update func(*Node) error
		code   string
		err    error
		check  func(Node) bool
	}{
		{"port", "dn1", func(n *Node) error { n.Port = 20000; return nil }, "", nil, func(n Node) bool { return n.Port == 20000 }},
		{"host", "dn2", func(n *Node) error { n.Host = "db2.example"; return nil }, "", nil, func(n Node) bool { return n.Host == "db2.example" }},
		{"preferred", "dn3", func(n *Node) error { n.Preferred = true; return nil }, "", nil, func(n Node) bool { return n.Preferred }},
		{"unknown node", "nope", func(n *Node) error { return nil }, "42704", nil, nil},
		{"update refuses", "dn1", func(n *Node) error { n.Port = 1; return boom }, "", boom, nil},
		{"bad port", "dn1", func(n *Node) error { n.Port = 70000; return nil }, "22023", nil, nil},
		{"bad type", "dn1", func(n *Node) error { n.Type = "Z"; return nil }, "22023", nil, nil},
		{"coordinator primary", "coord1", func(n *Node) error { n.Primary = true; return nil }, "22023", nil, nil},
		// CREATE NODE refuses a host and port another node has; ALTER NODE
		// must not make two nodes share them either.
		{"host and port of another node", "dn1", func(n *Node) error { n.Port = 15433; return nil }, "42710", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, path := newStore(t)
			before, _ := os.ReadFile(path)
			old := s.Nodes()
			serial := s.Serial()
			err := s.AlterNode(tc.node, tc.update)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("AlterNode = %v; want %v", err, tc.err)
				}
			} else {
				wantCode(t, "AlterNode", err, tc.code)
			}
			after, _ := os.ReadFile(path)
			if tc.check == nil {
				if !reflect.DeepEqual(s.Nodes(), old) || s.Serial() != serial || string(before) != string(after) {
					t.Errorf("a refused AlterNode changed the store")
				}
				return
			}
			n, _ := s.Node(tc.node)
			if !tc.check(n) {
				t.Errorf("after AlterNode: %+v", n)
			}
			if s.Serial() == serial || string(before) == string(after) {
				t.Errorf("AlterNode did not change serial or file")
			}
		})
	}
}

func TestNodeStoreDropNode(t *testing.T) {
	s, _ := newStore(t)
	wantCode(t, "create group", s.CreateGroup(Group{Name: "g", Members: []string{"dn2"}}), "")
	tests := []struct {
		name     string
		node     string
		ifExists bool
		code     string
	}{
		{"unknown", "nope", false, "42704"},
		{"unknown if exists", "nope", true, ""},
		{"group member", "dn2", false, "2BP01"},
		{"group member if exists", "dn2", true, "2BP01"},
		{"datanode", "dn1", false, ""},
		{"dropped twice", "dn1", false, "42704"},
		{"coordinator", "coord1", true, ""},
	}
	for _, tc := range tests {
		serial := s.Serial()
		_, existed := s.Node(tc.node)
		wantCode(t, tc.name, s.DropNode(tc.node, tc.ifExists), tc.code)
		_, exists := s.Node(tc.node)
		if tc.code == "" && existed && (exists || s.Serial() == serial) {
			t.Errorf("%s: node still there or serial unchanged", tc.name)
		}
		if tc.code != "" && (exists != existed || s.Serial() != serial) {
			t.Errorf("%s: a refused DropNode changed the store", tc.name)
		}
	}
	if got := names(s.Nodes()); !reflect.DeepEqual(got, []string{"dn2", "dn3"}) {
		t.Errorf("nodes left %v; want [dn2 dn3]", got)
	}
	wantCode(t, "drop group", s.DropGroup("g"), "")
	wantCode(t, "drop former member", s.DropNode("dn2", false), "")
}

func TestNodeStoreCreateGroup(t *testing.T) {
	tests := []struct {
		name    string
		members []string
		code    string
	}{
		{"one member", []string{"dn1"}, ""},
		{"all datanodes", []string{"dn3", "dn1", "dn2"}, ""},
		{"no members", nil, "42601"},
		{"coordinator member", []string{"dn1", "coord1"}, "42809"},
		{"unknown member", []string{"dn1", "dn9"}, "42704"},
		{"member twice", []string{"dn1", "dn2", "dn1"}, "42710"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newStore(t)
			serial := s.Serial()
			members := append([]string(nil), tc.members...)
			wantCode(t, "CreateGroup", s.CreateGroup(Group{Name: "g", Members: members}), tc.code)
			g, ok := s.Group("g")
			if tc.code != "" {
				if ok || s.Serial() != serial {
					t.Errorf("a refused CreateGroup changed the store")
				}
				return
			}
			if !ok || !reflect.DeepEqual(g.Members, tc.members) {
				t.Errorf("Group(g) = %+v, %v; want members %v (in the order given)", g, ok, tc.members)
			}
			// The store keeps its own copy of the members.
			members[0] = "changed"
			if g, _ := s.Group("g"); g.Members[0] != tc.members[0] {
				t.Errorf("changing the caller's slice changed the group: %v", g.Members)
			}
			wantCode(t, "same name again", s.CreateGroup(Group{Name: "g", Members: []string{"dn1"}}), "42710")
		})
	}
}

func TestNodeStoreGroups(t *testing.T) {
	s, _ := newStore(t)
	for _, g := range []Group{{Name: "gb", Members: []string{"dn1"}}, {Name: "ga", Members: []string{"dn2", "dn3"}}} {
		wantCode(t, "create "+g.Name, s.CreateGroup(g), "")
	}
	gs := s.Groups()
	if len(gs) != 2 || gs[0].Name != "ga" || gs[1].Name != "gb" {
		t.Fatalf("Groups() = %+v; want ga, gb", gs)
	}
	gs[0].Members[0] = "changed"
	if g, _ := s.Group("ga"); g.Members[0] != "dn2" {
		t.Errorf("changing Groups()'s result changed the store: %v", g.Members)
	}
	if _, ok := s.Group("nope"); ok {
		t.Error("Group(nope) found")
	}
	wantCode(t, "drop unknown group", s.DropGroup("nope"), "42704")
	wantCode(t, "drop group", s.DropGroup("gb"), "")
	wantCode(t, "drop group twice", s.DropGroup("gb"), "42704")
	if gs := s.Groups(); len(gs) != 1 || gs[0].Name != "ga" {
		t.Errorf("Groups() after drop = %+v", gs)
	}
}

func TestNodeStoreListsAndChoices(t *testing.T) {
	s, _ := newStore(t)
	if got := names(s.Nodes()); !reflect.DeepEqual(got, []string{"coord1", "dn1", "dn2", "dn3"}) {
		t.Errorf("Nodes() = %v", got)
	}
	if got := names(s.Datanodes()); !reflect.DeepEqual(got, []string{"dn1", "dn2", "dn3"}) {
		t.Errorf("Datanodes() = %v", got)
	}
	n, ok := s.Node("dn2")
	if !ok || n.ID() == 0 || !n.IsDatanode() {
		t.Errorf("Node(dn2) = %+v, %v", n, ok)
	}
	if c, _ := s.Node("coord1"); c.IsDatanode() || c.ID() == n.ID() {
		t.Errorf("coord1 = %+v (id %d, dn2 id %d)", c, c.ID(), n.ID())
	}
	nodes := s.Nodes()
	nodes[0].Name = "changed"
	if _, ok := s.Node("coord1"); !ok {
		t.Error("changing Nodes()'s result changed the store")
	}

	steps := []struct {
		name               string
		update             func(*NodeStore) error
		preferred, primary string
	}{
		{"none marked: the first", func(*NodeStore) error { return nil }, "dn1", "dn1"},
		{"primary", func(s *NodeStore) error {
			return s.AlterNode("dn2", func(n *Node) error { n.Primary = true; return nil })
		}, "dn2", "dn2"},
		{"preferred over primary", func(s *NodeStore) error {
			return s.AlterNode("dn3", func(n *Node) error { n.Preferred = true; return nil })
		}, "dn3", "dn2"},
		{"first datanode dropped", func(s *NodeStore) error { return s.DropNode("dn1", false) }, "dn3", "dn2"},
	}
	for _, st := range steps {
		if err := st.update(s); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if n, ok := s.PreferredDatanode(); !ok || n.Name != st.preferred {
			t.Errorf("%s: PreferredDatanode = %s, %v; want %s", st.name, n.Name, ok, st.preferred)
		}
		if n, ok := s.PrimaryDatanode(); !ok || n.Name != st.primary {
			t.Errorf("%s: PrimaryDatanode = %s, %v; want %s", st.name, n.Name, ok, st.primary)
		}
	}
}

func TestNodeStorePersists(t *testing.T) {
	s, path := newStore(t)
	wantCode(t, "alter", s.AlterNode("dn2", func(n *Node) error { n.Primary = true; n.Preferred = true; return nil }), "")
	wantCode(t, "group", s.CreateGroup(Group{Name: "g1", Members: []string{"dn3", "dn1"}}), "")
	wantCode(t, "drop", s.DropNode("dn2", false), "")
	wantCode(t, "create", s.CreateNode(Node{Name: "a0", Type: "D", Host: "h", Port: 7, Preferred: true}), "")

	// The file is replaced by rename: no temporary file is left behind.
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != filepath.Base(path) {
		var list []string
		for _, e := range entries {
			list = append(list, e.Name())
		}
		t.Errorf("directory holds %v; want only %s", list, filepath.Base(path))
	}

	r, err := OpenNodeStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Nodes(), s.Nodes()) {
		t.Errorf("reopened nodes %+v; want %+v", r.Nodes(), s.Nodes())
	}
	if !reflect.DeepEqual(r.Groups(), s.Groups()) {
		t.Errorf("reopened groups %+v; want %+v", r.Groups(), s.Groups())
	}
	if got := names(r.Nodes()); !reflect.DeepEqual(got, []string{"a0", "coord1", "dn1", "dn3"}) {
		t.Errorf("reopened nodes in order %v", got)
	}
	if n, _ := r.PreferredDatanode(); n.Name != "a0" {
		t.Errorf("reopened PreferredDatanode = %s; want a0", n.Name)
	}
	// The reopened store keeps writing where it was read from.
	wantCode(t, "drop after reopen", r.DropNode("a0", false), "")
	again, err := OpenNodeStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := again.Node("a0"); ok {
		t.Error("a node dropped after reopening is back")
	}
}

func TestNodeStoreWriteFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "nodes.json")
	s, err := OpenNodeStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateNode(dn("dn1", 1)); err == nil || !strings.Contains(err.Error(), "write node catalog") {
		t.Fatalf("CreateNode with an unwritable file = %v; want a write error", err)
	}
	if len(s.Nodes()) != 0 || s.Serial() != 0 {
		t.Errorf("a failed write changed the store: %v serial %d", s.Nodes(), s.Serial())
	}
}

func TestNodeStoreInMemory(t *testing.T) {
	s := &NodeStore{}
	wantCode(t, "create", s.CreateNode(dn("dn1", 1)), "")
	if _, ok := s.Node("dn1"); !ok || s.Serial() != 1 {
		t.Errorf("store without a path did not keep the node (serial %d)", s.Serial())
	}
}
