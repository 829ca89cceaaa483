package deadlock

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// TxID names a global transaction: a session of a coordinator.
type TxID struct {
	Coordinator string
	Session     uint64
}

// Compare orders transaction ids by coordinator name, then session id.
func (a TxID) Compare(b TxID) int {
	if c := strings.Compare(a.Coordinator, b.Coordinator); c != 0 {
		return c
	}
	return cmp.Compare(a.Session, b.Session)
}

func (a TxID) String() string { return fmt.Sprintf("%s/%d", a.Coordinator, a.Session) }

// Backend is a datanode backend held by a session (a row of pgxc_backends()).
type Backend struct {
	Tx   TxID
	Node string // datanode name
	PID  int
}

// Wait is a datanode backend waiting for a lock and the backends it waits for
// (a row of pg_stat_activity with pg_blocking_pids).
type Wait struct {
	Node      string
	PID       int
	BlockedBy []int
}

// Edge is one wait-for edge: Waiter waits on datanode Node for a lock Blocker holds
// or waits for ahead of it.
type Edge struct {
	Waiter, Blocker TxID
	Node            string
}

// Cycle is a distributed deadlock: Txs wait for each other in this order (each
// for the next, the last for the first), on Nodes (at least two datanodes).
type Cycle struct {
	Txs    []TxID
	Edges  []Edge
	Nodes  []string
	Victim TxID // the greatest TxID of the cycle
}

func (c Cycle) String() string {
	var b strings.Builder
	for _, e := range c.Edges {
		fmt.Fprintf(&b, "%s -[%s]-> ", e.Waiter, e.Node)
	}
	if len(c.Txs) > 0 {
		b.WriteString(c.Txs[0].String())
	}
	return b.String()
}

// BuildGraph maps the datanodes' lock waits to global transactions: an edge
// from the waiter's transaction to each blocker's, on the node of the wait.
// Backends that belong to no session and waits of a transaction for itself
// are left out. The edges come sorted and without duplicates.
func BuildGraph(backends []Backend, waits []Wait) []Edge {
	type key struct {
		node string
		pid  int
	}
	owner := make(map[key]TxID, len(backends))
	for _, b := range backends {
		owner[key{b.Node, b.PID}] = b.Tx
	}
	seen := map[Edge]bool{}
	var edges []Edge
	for _, w := range waits {
		waiter, ok := owner[key{w.Node, w.PID}]
		if !ok {
			continue
		}
		for _, p := range w.BlockedBy {
			blocker, ok := owner[key{w.Node, p}]
			if !ok || blocker == waiter {
				continue
			}
			e := Edge{Waiter: waiter, Blocker: blocker, Node: w.Node}
			if !seen[e] {
				seen[e] = true
				edges = append(edges, e)
			}
		}
	}
	slices.SortFunc(edges, compareEdges)
	return edges
}

func compareEdges(a, b Edge) int {
	if c := a.Waiter.Compare(b.Waiter); c != 0 {
		return c
	}
	if c := a.Blocker.Compare(b.Blocker); c != 0 {
		return c
	}
	return strings.Compare(a.Node, b.Node)
}

// searchBudget bounds the steps of one cycle search, so that a pathological
// graph costs a bounded time per round (the next round looks again).
const searchBudget = 200000

// FindCycles returns the distributed deadlocks of a wait-for graph, one victim
// each: it finds a simple cycle whose edges lie on at least two datanodes,
// takes its greatest transaction as the victim, removes the victim from the
// graph and looks again. The result depends only on the set of edges, so
// detectors on different coordinators that see the same waits pick the same
// victims. Cycles on one datanode only are left to that datanode.
func FindCycles(edges []Edge) []Cycle {
	adj := map[TxID][]Edge{}
	for _, e := range edges {
		adj[e.Waiter] = append(adj[e.Waiter], e)
	}
	for v := range adj {
		slices.SortFunc(adj[v], compareEdges)
		adj[v] = slices.CompactFunc(adj[v], func(a, b Edge) bool { return a == b })
	}
	removed := map[TxID]bool{}
	var out []Cycle
	for {
		c, ok := findMixedCycle(adj, removed)
		if !ok {
			return out
		}
		out = append(out, c)
		removed[c.Victim] = true
	}
}

// findMixedCycle finds a simple cycle on at least two nodes, searching from
// each vertex in order only through greater vertices (so each cycle is met
// once, from its least vertex).
func findMixedCycle(adj map[TxID][]Edge, removed map[TxID]bool) (Cycle, bool) {
	var starts []TxID
	for v := range adj {
		if !removed[v] {
			starts = append(starts, v)
		}
	}
	slices.SortFunc(starts, TxID.Compare)
	budget := searchBudget
	for _, s := range starts {
		var path []Edge
		onPath := map[TxID]bool{s: true}
		nodeCount := map[string]int{}
		var found []Edge
		var dfs func(v TxID) bool
		dfs = func(v TxID) bool {
			for _, e := range adj[v] {
				if budget--; budget < 0 {
					return false
				}
				w := e.Blocker
				if removed[w] {
					continue
				}
				if w == s {
					if len(nodeCount) >= 2 || (len(nodeCount) == 1 && nodeCount[e.Node] == 0) {
						found = append(slices.Clone(path), e)
						return true
					}
					continue
				}
				if w.Compare(s) < 0 || onPath[w] {
					continue
				}
				onPath[w] = true
				path = append(path, e)
				nodeCount[e.Node]++
				if dfs(w) {
					return true
				}
				if nodeCount[e.Node]--; nodeCount[e.Node] == 0 {
					delete(nodeCount, e.Node)
				}
				path = path[:len(path)-1]
				delete(onPath, w)
			}
			return false
		}
		if dfs(s) {
			return newCycle(found), true
		}
		if budget < 0 {
			return Cycle{}, false
		}
	}
	return Cycle{}, false
}

func newCycle(edges []Edge) Cycle {
	c := Cycle{Edges: edges}
	nodes := map[string]bool{}
	for _, e := range edges {
		c.Txs = append(c.Txs, e.Waiter)
		nodes[e.Node] = true
		if e.Waiter.Compare(c.Victim) > 0 {
			c.Victim = e.Waiter
		}
	}
	for n := range nodes {
		c.Nodes = append(c.Nodes, n)
	}
	slices.Sort(c.Nodes)
	return c
}
