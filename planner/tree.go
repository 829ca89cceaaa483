package planner

import (
	"fmt"
	"strings"

	"github.com/xlgo/xlgo/executor/ops"
)

// The primitives below run at the coordinator over the rows of remote
// queries (package executor/ops holds their implementations). They are
// planned where the coordinator can compute the result exactly by itself:
// keys it compares or hashes come from the datanodes in binary format, of
// types whose order and equality it knows (ops.Comparable), and text keys
// only where the collation orders by bytes.

// RemoteScan runs one query on each of its nodes; its rows feed a
// primitive. A multi-node scan is a Concat of the nodes' streams unless a
// MergeSort above it merges them.
type RemoteScan struct {
	Nodes []string
	SQL   map[string]string // per node
	// Formats is the result format of each column (1: binary); the keys a
	// primitive compares are binary, the columns the client sees text.
	Formats []int16
	Label   string // what the scan reads, for EXPLAIN
	// Params are the statement's parameter values (text format) and
	// types, sent along when its SQL reads them.
	Params    [][]byte
	ParamOIDs []uint32
}

// IsTree tells whether a plan is made of coordinator primitives over
// remote scans.
func IsTree(p Plan) bool {
	_, ok := p.(Primitive)
	return ok
}

// SetParams gives every remote query and scan of a plan the statement's
// parameters.
func SetParams(p Plan, params [][]byte, oids []uint32) {
	WalkPlan(p, func(x Plan) {
		switch x := x.(type) {
		case *RemoteScan:
			x.Params, x.ParamOIDs = params, oids
		case *RemoteQuery:
			x.Params, x.ParamOIDs = params, oids
		case *SubPlan:
			x.Params, x.ParamOIDs = params, oids
		}
	})
}

// TakesParams tells whether a plan can run with the statement's parameters
// sent along (SetParams): a tree of primitives, or a SubPlan of remote
// queries and trees.
func TakesParams(p Plan) bool {
	sp, ok := p.(*SubPlan)
	if !ok {
		return IsTree(p)
	}
	for _, q := range []Plan{sp.Sub, sp.Main} {
		if _, ok := q.(*RemoteQuery); !ok && !IsTree(q) {
			return false
		}
	}
	return true
}

func (r *RemoteScan) explain(b *strings.Builder, depth int) {
	label := ""
	if r.Label != "" {
		label = " of " + r.Label
	}
	line(b, depth, "Remote Subquery Scan on all (%s)%s", strings.Join(r.Nodes, ","), label)
	if len(r.Nodes) > 0 {
		detail(b, depth, "Remote SQL: %s", r.SQL[r.Nodes[0]])
	}
}

// SortKey is one key of an ordering at the coordinator.
type SortKey struct {
	ops.SortKey
	Expr string // the key as the statement writes it, for EXPLAIN
}

func keyList(keys []SortKey) string {
	var parts []string
	for _, k := range keys {
		s := k.Expr
		if k.Desc {
			s += " DESC"
		}
		if k.NullsFirst != k.Desc {
			if k.NullsFirst {
				s += " NULLS FIRST"
			} else {
				s += " NULLS LAST"
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func opKeys(keys []SortKey) []ops.SortKey {
	out := make([]ops.SortKey, len(keys))
	for i, k := range keys {
		out[i] = k.SortKey
	}
	return out
}

// MergeSort merges the per-node streams of a scan that each node sent
// already ordered.
type MergeSort struct {
	Input *RemoteScan
	Keys  []SortKey
}

func (m *MergeSort) explain(b *strings.Builder, depth int) {
	line(b, depth, "Merge Sort")
	detail(b, depth, "Sort Key: %s", keyList(m.Keys))
	m.Input.explain(b, depth+1)
}

// Sort orders its input at the coordinator.
type Sort struct {
	Input Plan
	Keys  []SortKey
}

func (s *Sort) explain(b *strings.Builder, depth int) {
	line(b, depth, "Sort")
	detail(b, depth, "Sort Key: %s", keyList(s.Keys))
	s.Input.explain(b, depth+1)
}

// Limit skips Offset rows and returns at most Count (-1: all).
type Limit struct {
	Input         Plan
	Offset, Count int64
}

func (l *Limit) explain(b *strings.Builder, depth int) {
	var parts []string
	if l.Count >= 0 {
		parts = append(parts, fmt.Sprintf("count %d", l.Count))
	}
	if l.Offset > 0 {
		parts = append(parts, fmt.Sprintf("offset %d", l.Offset))
	}
	line(b, depth, "Limit (%s)", strings.Join(parts, ", "))
	l.Input.explain(b, depth+1)
}

// Project keeps the columns Cols of its input, in that order.
type Project struct {
	Input Plan
	Cols  []int
}

func (p *Project) explain(b *strings.Builder, depth int) {
	cols := make([]string, len(p.Cols))
	for i, c := range p.Cols {
		cols[i] = fmt.Sprint(c + 1)
	}
	line(b, depth, "Project (columns %s)", strings.Join(cols, ","))
	p.Input.explain(b, depth+1)
}

// project keeps cols of a plan's rows of width columns: no Project when
// that is every column in order.
func project(p Plan, cols []int, width int) Plan {
	if len(cols) == width {
		same := true
		for i, c := range cols {
			same = same && c == i
		}
		if same {
			return p
		}
	}
	return &Project{Input: p, Cols: cols}
}

// Distinct keeps the first row of each combination of the key columns.
type Distinct struct {
	Input Plan
	Cols  []int
	Exprs []string // for EXPLAIN
}

func (d *Distinct) explain(b *strings.Builder, depth int) {
	line(b, depth, "Unique")
	detail(b, depth, "Key: %s", strings.Join(d.Exprs, ", "))
	d.Input.explain(b, depth+1)
}

// HashJoin joins two inputs at the coordinator on equal keys: the inner
// (Right) is built into a hash table, the outer streamed through it. Its
// rows are Left's columns then Right's (only Left's for semi/anti joins).
type HashJoin struct {
	Left, Right         Plan
	Kind                ops.JoinKind
	LeftKeys, RightKeys []int
	Cond                string // the join condition, for EXPLAIN
}

var joinNames = map[ops.JoinKind]string{ops.JoinInner: "", ops.JoinLeft: "Left ", ops.JoinRight: "Right ",
	ops.JoinFull: "Full ", ops.JoinSemi: "Semi ", ops.JoinAnti: "Anti "}

func (h *HashJoin) explain(b *strings.Builder, depth int) {
	line(b, depth, "Hash %sJoin", joinNames[h.Kind])
	detail(b, depth, "Hash Cond: %s", h.Cond)
	h.Left.explain(b, depth+1)
	h.Right.explain(b, depth+1)
}

// NestedLoop joins every row of Left with every row of Right (a cross
// join: the planner uses it only without a condition).
type NestedLoop struct {
	Left, Right Plan
}

func (n *NestedLoop) explain(b *strings.Builder, depth int) {
	line(b, depth, "Nested Loop")
	n.Left.explain(b, depth+1)
	n.Right.explain(b, depth+1)
}

// FinalAgg combines the datanodes' partial aggregates per group.
type FinalAgg struct {
	Input     Plan
	GroupKeys []int // binary key columns of the input
	GroupOut  []int // the group columns returned
	Aggs      []ops.AggSpec
	Exprs     []string // the group keys, for EXPLAIN
}

func (a *FinalAgg) explain(b *strings.Builder, depth int) {
	if len(a.GroupKeys) == 0 {
		line(b, depth, "Finalize Aggregate")
	} else {
		line(b, depth, "Finalize HashAggregate")
		detail(b, depth, "Group Key: %s", strings.Join(a.Exprs, ", "))
	}
	a.Input.explain(b, depth+1)
}

// Walk calls fn for p and every primitive beneath it.
func WalkPlan(p Plan, fn func(Plan)) {
	fn(p)
	switch x := p.(type) {
	case *MergeSort:
		WalkPlan(x.Input, fn)
	case *Sort:
		WalkPlan(x.Input, fn)
	case *Limit:
		WalkPlan(x.Input, fn)
	case *Project:
		WalkPlan(x.Input, fn)
	case *Distinct:
		WalkPlan(x.Input, fn)
	case *HashJoin:
		WalkPlan(x.Left, fn)
		WalkPlan(x.Right, fn)
	case *NestedLoop:
		WalkPlan(x.Left, fn)
		WalkPlan(x.Right, fn)
	case *FinalAgg:
		WalkPlan(x.Input, fn)
	case *WindowAgg:
		WalkPlan(x.Input, fn)
	case *Filter:
		WalkPlan(x.Input, fn)
	case *SubPlan:
		WalkPlan(x.Sub, fn)
		WalkPlan(x.Main, fn)
	case *GatherEval:
	case *InsertRows:
		if x.Source != nil {
			WalkPlan(x.Source, fn)
		}
	}
}

// FilterCond compares a text column of integers or numerics with a number.
type FilterCond struct {
	Col   int
	Op    string // =, <>, <, <=, >, >=
	Value string // the number, as written
	Expr  string // the condition as the statement writes it, for EXPLAIN
}

// Filter keeps the rows that meet every condition (a NULL meets none).
type Filter struct {
	Input Plan
	Conds []FilterCond
}

func (f *Filter) explain(b *strings.Builder, depth int) {
	line(b, depth, "Filter")
	var parts []string
	for _, c := range f.Conds {
		parts = append(parts, c.Expr)
	}
	detail(b, depth, "Filter: %s", strings.Join(parts, " AND "))
	f.Input.explain(b, depth+1)
}

// ReadsANodeTwice tells whether a read sends more than one statement to a
// datanode (the two inputs of a join, a gather's inputs and its final
// query): in READ COMMITTED each would take its own snapshot.
func ReadsANodeTwice(p Plan) bool {
	switch p.(type) {
	case *RemoteQuery, *InsertRows:
		return false
	}
	seen := map[string]bool{}
	twice := false
	if _, ok := p.(*SubPlan); ok {
		return true // the subquery, then the statement
	}
	add := func(nodes ...string) {
		for _, n := range nodes {
			twice = twice || seen[n]
			seen[n] = true
		}
	}
	WalkPlan(p, func(x Plan) {
		switch x := x.(type) {
		case *RemoteScan:
			add(x.Nodes...)
		case *GatherEval:
			for _, in := range x.Inputs {
				add(in.Nodes...)
			}
			if x.ReadsTables {
				add(x.Node)
			}
		}
	})
	return twice
}
