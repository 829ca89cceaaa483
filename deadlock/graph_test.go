package deadlock

import (
	"slices"
	"testing"
)

func tx(coord string, s uint64) TxID { return TxID{Coordinator: coord, Session: s} }

func TestBuildGraph(t *testing.T) {
	backends := []Backend{
		{tx("coord1", 1), "datanode1", 100}, {tx("coord1", 1), "datanode2", 200},
		{tx("coord2", 7), "datanode1", 101}, {tx("coord2", 7), "datanode2", 201},
	}
	waits := []Wait{
		{Node: "datanode1", PID: 101, BlockedBy: []int{100, 999}}, // 999: no session (autovacuum, psql ...)
		{Node: "datanode2", PID: 200, BlockedBy: []int{201, 201}},
		{Node: "datanode2", PID: 555, BlockedBy: []int{201}}, // the waiter belongs to no session
		{Node: "datanode1", PID: 200, BlockedBy: []int{100}}, // pid 200 is datanode2's, not datanode1's
	}
	got := BuildGraph(backends, waits)
	want := []Edge{
		{Waiter: tx("coord1", 1), Blocker: tx("coord2", 7), Node: "datanode2"},
		{Waiter: tx("coord2", 7), Blocker: tx("coord1", 1), Node: "datanode1"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("BuildGraph = %v, want %v", got, want)
	}
}

func TestFindCycles(t *testing.T) {
	a, b, c, d := tx("coord1", 1), tx("coord1", 2), tx("coord2", 1), tx("coord2", 9)
	e := func(w, bl TxID, node string) Edge { return Edge{Waiter: w, Blocker: bl, Node: node} }
	tests := []struct {
		name    string
		edges   []Edge
		victims []TxID
	}{
		{"no edges", nil, nil},
		{"a chain is no cycle", []Edge{e(a, b, "dn1"), e(b, c, "dn2")}, nil},
		{"two nodes, two transactions", []Edge{e(a, c, "dn1"), e(c, a, "dn2")}, []TxID{c}},
		{"one node only: left to PostgreSQL", []Edge{e(a, c, "dn1"), e(c, a, "dn1")}, nil},
		{"three transactions over two nodes", []Edge{e(a, b, "dn1"), e(b, d, "dn1"), e(d, a, "dn2")}, []TxID{d}},
		{"greatest by coordinator, then session", []Edge{e(b, c, "dn1"), e(c, b, "dn2")}, []TxID{c}},
		{"same pair waiting on both nodes both ways", []Edge{e(a, b, "dn1"), e(b, a, "dn1"), e(a, b, "dn2")}, []TxID{b}},
		{
			// Two single-node cycles joined at b: every simple cycle is on
			// one node, although the component spans two.
			"two local cycles sharing a transaction",
			[]Edge{e(a, b, "dn1"), e(b, a, "dn1"), e(b, c, "dn2"), e(c, b, "dn2")},
			nil,
		},
		{
			// Two distributed cycles sharing no transaction: two victims.
			"two disjoint cycles",
			[]Edge{e(a, b, "dn1"), e(b, a, "dn2"), e(c, d, "dn1"), e(d, c, "dn2")},
			[]TxID{b, d},
		},
		{
			// Removing the victim d breaks both cycles through it: one victim.
			"two cycles through one transaction",
			[]Edge{e(a, d, "dn1"), e(d, a, "dn2"), e(b, d, "dn1"), e(d, b, "dn2")},
			[]TxID{d},
		},
		{"self wait ignored", []Edge{e(a, a, "dn1")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cycles := FindCycles(tt.edges)
			var victims []TxID
			for _, c := range cycles {
				victims = append(victims, c.Victim)
				if len(c.Nodes) < 2 {
					t.Errorf("cycle %s on %v: want two nodes or more", c, c.Nodes)
				}
				for i, ed := range c.Edges {
					next := c.Edges[(i+1)%len(c.Edges)]
					if ed.Blocker != next.Waiter {
						t.Errorf("cycle %s is not closed at edge %d", c, i)
					}
				}
			}
			if !slices.Equal(victims, tt.victims) {
				t.Errorf("victims = %v, want %v (cycles %v)", victims, tt.victims, cycles)
			}
			// The same edges in another order give the same victims.
			rev := slices.Clone(tt.edges)
			slices.Reverse(rev)
			var again []TxID
			for _, c := range FindCycles(rev) {
				again = append(again, c.Victim)
			}
			if !slices.Equal(again, tt.victims) {
				t.Errorf("reversed edges: victims = %v, want %v", again, tt.victims)
			}
		})
	}
}

func TestFindCyclesLargeGraph(t *testing.T) {
	// A dense graph on one node has many cycles and none distributed; the
	// search must end (bounded) and find nothing.
	var edges []Edge
	for i := uint64(1); i <= 12; i++ {
		for j := uint64(1); j <= 12; j++ {
			if i != j {
				edges = append(edges, Edge{Waiter: tx("c", i), Blocker: tx("c", j), Node: "dn1"})
			}
		}
	}
	if got := FindCycles(edges); len(got) != 0 {
		t.Fatalf("FindCycles = %v, want none", got)
	}
	// One edge on another node makes a distributed cycle.
	edges = append(edges, Edge{Waiter: tx("c", 12), Blocker: tx("c", 1), Node: "dn2"})
	got := FindCycles(edges)
	if len(got) == 0 {
		t.Fatal("FindCycles found no cycle through the dn2 edge")
	}
}

func TestParseBlockingPIDs(t *testing.T) {
	for in, want := range map[string][]int{"{}": nil, "{12}": {12}, "{12,34}": {12, 34}, "": nil} {
		got, err := parsePIDArray(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("parsePIDArray(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parsePIDArray("{x}"); err == nil {
		t.Error("parsePIDArray({x}) gave no error")
	}
}

func TestParseBackend(t *testing.T) {
	b, err := parseBackend("coord2", "42 datanode1 31337")
	if err != nil || b != (Backend{Tx: tx("coord2", 42), Node: "datanode1", PID: 31337}) {
		t.Fatalf("parseBackend = %+v, %v", b, err)
	}
	if _, err := parseBackend("coord2", "42 datanode1"); err == nil {
		t.Fatal("parseBackend of a short line gave no error")
	}
}
