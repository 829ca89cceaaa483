package planner

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/executor/ops"
)

// keyFamily tells whether the coordinator can compare (ordered) or hash
// (!ordered) values of a column itself, and which types' values it may
// match them with: a column of a type ops knows, of a collation whose
// order (or equality) is its bytes'.
func keyFamily(env *Env, c catalog.Column, ordered bool) (string, bool) {
	switch c.TypName {
	case "int2", "int4", "int8", "numeric":
		return "number", true
	case "float4", "float8":
		return "float", true
	case "text", "varchar", "name", "bpchar":
		// Equality of a deterministic collation is byte equality; only the
		// database's default or a bytewise one is known to be one.
		bytewise := c.Collation == "" && env.Rel.BytewiseText || catalog.BytewiseCollation(c.Collation)
		if ordered && !bytewise || !ordered && c.Collation != "" && !bytewise {
			return "", false
		}
		if c.TypName == "bpchar" {
			return "bpchar", true
		}
		return "text", true
	case "bool", "bytea", "char", "oid", "money", "date", "time", "timestamp", "timestamptz", "interval", "uuid":
		return c.TypName, true
	}
	return "", false
}

// column resolves a plain column reference of r.
func (r *relRef) column(n *pg_query.Node) (catalog.Column, bool) {
	col, ok := plainColumn(n, r)
	if !ok {
		return catalog.Column{}, false
	}
	i, _ := r.table.Column(col)
	return r.table.Columns[i], true
}

// sortTarget resolves an ORDER BY or DISTINCT ON item as PostgreSQL does:
// a position, a bare name of an output column, else an expression.
func sortTarget(sel *pg_query.SelectStmt, expr *pg_query.Node) *pg_query.Node {
	if c := expr.GetAConst(); c != nil && c.GetIval() != nil {
		i := int(c.GetIval().Ival) - 1
		if i < 0 || i >= len(sel.TargetList) {
			return nil
		}
		return sel.TargetList[i].GetResTarget().GetVal()
	}
	if cr := expr.GetColumnRef(); cr != nil {
		if names := columnRefNames(cr); len(names) == 1 {
			var found *pg_query.Node
			n := 0
			for _, t := range sel.TargetList {
				rt := t.GetResTarget()
				if rt == nil {
					continue
				}
				name := rt.Name
				if name == "" {
					name = outputName(rt.Val)
				}
				if name == names[0] {
					found = rt.Val
					n++
				}
			}
			if n > 1 {
				return nil // ambiguous: PostgreSQL says so
			}
			if found != nil {
				return found
			}
		}
	}
	return expr
}

// orderItem is one ORDER BY item: the expression it sorts by (a position or
// an output name resolved as PostgreSQL does) and where it puts rows.
type orderItem struct {
	expr             *pg_query.Node
	desc, nullsFirst bool
}

// orderItems reads a statement's ORDER BY; ok is false for an item the
// primitives cannot take (USING an operator, an ambiguous name).
func orderItems(sel *pg_query.SelectStmt) ([]orderItem, bool) {
	var out []orderItem
	for _, sb := range sel.SortClause {
		by := sb.GetSortBy()
		if by == nil || by.UseOp != nil {
			return nil, false
		}
		expr := sortTarget(sel, by.Node)
		if expr == nil {
			return nil, false
		}
		desc, nullsFirst := sortDir(by)
		out = append(out, orderItem{expr, desc, nullsFirst})
	}
	return out, true
}

// orderAndDistinct reads ORDER BY and DISTINCT [ON] together.
func orderAndDistinct(sel *pg_query.SelectStmt) (order []orderItem, distinct []*pg_query.Node, plain, ok bool) {
	if order, ok = orderItems(sel); !ok {
		return nil, nil, false, false
	}
	distinct, plain, ok = distinctItems(sel)
	return order, distinct, plain, ok
}

// distinctItems reads DISTINCT (every output column: plain) or DISTINCT ON
// (its expressions, resolved like ORDER BY's); ok is false when one cannot
// be resolved.
func distinctItems(sel *pg_query.SelectStmt) (items []*pg_query.Node, plain, ok bool) {
	if len(sel.DistinctClause) == 0 {
		return nil, false, true
	}
	if len(sel.DistinctClause) == 1 && sel.DistinctClause[0].GetNode() == nil {
		for _, t := range sel.TargetList {
			items = append(items, t.GetResTarget().Val)
		}
		return items, true, true
	}
	for _, it := range sel.DistinctClause {
		expr := sortTarget(sel, it)
		if expr == nil {
			return nil, false, false
		}
		items = append(items, expr)
	}
	return items, false, true
}

// limits reads a statement's LIMIT (-1: none) and OFFSET (0: none); ok is
// false when either is not a constant.
func limits(sel *pg_query.SelectStmt) (count, offset int64, ok bool) {
	count, ok1 := constLimit(sel.LimitCount)
	offset, ok2 := constLimit(sel.LimitOffset)
	return count, max(offset, 0), ok1 && ok2
}

// remoteScan makes the scan that runs a query on nodes; binary[i] tells
// that column i comes in binary format (a key a primitive compares).
func remoteScan(env *Env, q *pg_query.SelectStmt, nodes []string, label string, binary []bool) (*RemoteScan, error) {
	scan := &RemoteScan{Nodes: nodes, Label: label, Formats: make([]int16, len(binary))}
	for i, b := range binary {
		if b {
			scan.Formats[i] = 1
		}
	}
	sqls, err := perNodeSQL(&pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: q}}, nodes, env.NodeIDs())
	if err != nil {
		return nil, err
	}
	scan.SQL = sqls
	return scan, nil
}

// trailing is binary flags for width columns of which the last n are keys.
func trailing(width, n int) []bool {
	out := make([]bool, width)
	for i := width - n; i < width; i++ {
		out[i] = true
	}
	return out
}

// constLimit reads a LIMIT or OFFSET: its value, -1 for none (absent, ALL
// or NULL), and whether it is a constant.
func constLimit(n *pg_query.Node) (int64, bool) {
	if n == nil {
		return -1, true
	}
	c := n.GetAConst()
	if c == nil {
		return 0, false
	}
	if c.Isnull {
		return -1, true
	}
	if c.GetIval() == nil || c.GetIval().Ival < 0 {
		return 0, false
	}
	return int64(c.GetIval().Ival), true
}

// mergeScope is what a merged statement reads: its tables, all joined on
// each node (one distributed table, or co-located ones with replicated
// ones), and the nodes it runs on.
type mergeScope struct {
	refs  []*relRef
	nodes []string
	label string
}

// column resolves a plain column reference of one of the scope's tables:
// the table's alias and the column.
func (m *mergeScope) column(n *pg_query.Node) (string, catalog.Column, bool) {
	var alias string
	var col catalog.Column
	found := 0
	for _, r := range m.refs {
		if c, ok := r.column(n); ok {
			alias, col = r.alias, c
			found++
		}
	}
	return alias, col, found == 1
}

// reads tells whether an expression can be computed on each node: columns
// of the scope's tables, no aggregate, window, subquery, parameter or
// volatile function.
func (m *mergeScope) reads(expr *pg_query.Node) bool {
	return computable(expr, func(cr *pg_query.ColumnRef) bool {
		_, _, found := m.column(&pg_query.Node{Node: &pg_query.Node_ColumnRef{ColumnRef: cr}})
		return found
	})
}

// planMerge plans a query over one distributed table (every WHERE term
// evaluated on the datanodes) that orders, limits or de-duplicates rows
// without aggregating them: each node sends its rows already ordered (and
// DISTINCT, and cut to the limit), the coordinator merges the sorted
// streams, removes duplicates and applies the limit.
func planMerge(env *Env, stmt *pg_query.Node, r *relRef) (Plan, bool, error) {
	if !r.sole || !r.top {
		return nil, false, nil
	}
	return mergeOver(env, stmt, &mergeScope{refs: []*relRef{r}, nodes: r.nodes(), label: r.table.QualifiedName()})
}

// planColocatedMerge is planMerge for a join of co-located tables (and
// replicated ones): each node joins, orders and limits its own rows.
func planColocatedMerge(env *Env, stmt *pg_query.Node, refs []*relRef, nodes []string) (Plan, bool, error) {
	var names []string
	for _, r := range refs {
		if r.table == nil || !r.top {
			return nil, false, nil
		}
		names = append(names, r.table.QualifiedName())
	}
	return mergeOver(env, stmt, &mergeScope{refs: refs, nodes: nodes, label: strings.Join(names, " JOIN ")})
}

func mergeOver(env *Env, stmt *pg_query.Node, m *mergeScope) (Plan, bool, error) {
	sel := stmt.GetSelectStmt()
	if sel == nil || sel.Op != pg_query.SetOperation_SETOP_NONE || len(sel.GroupClause) > 0 ||
		sel.HavingClause != nil || len(sel.WindowClause) > 0 || sel.WithClause != nil ||
		sel.LimitOption == pg_query.LimitOption_LIMIT_OPTION_WITH_TIES || hasAggregate(env, sel) || env.mentionsXC(stmt) {
		return nil, false, nil
	}
	if len(sel.LockingClause) > 0 && (sel.LimitCount != nil || sel.LimitOffset != nil || len(sel.DistinctClause) > 0) {
		// Each node would lock rows that the coordinator then drops.
		return nil, false, nil
	}
	if len(sel.SortClause) == 0 && len(sel.DistinctClause) == 0 && sel.LimitCount == nil && sel.LimitOffset == nil {
		return nil, false, nil
	}
	count, offset, ok := limits(sel)
	if !ok {
		return nil, false, nil
	}
	// The visible columns: each target, or the table's columns for a star.
	visible := 0
	for _, t := range sel.TargetList {
		rt := t.GetResTarget()
		if rt == nil {
			return nil, false, nil
		}
		if cr := rt.Val.GetColumnRef(); cr != nil && hasStarRef(cr) {
			names := columnRefNames(cr)
			if len(m.refs) > 1 || len(names) > 2 || len(names) == 2 && names[0] != m.refs[0].alias {
				return nil, false, nil
			}
			visible += len(m.refs[0].table.Columns)
			continue
		}
		if !m.reads(rt.Val) {
			return nil, false, nil
		}
		visible++
	}
	remote := proto.Clone(sel).(*pg_query.SelectStmt)
	var hidden []*pg_query.Node
	hiddenOf := map[string]int{} // alias.column -> index of its binary copy
	keyCol := func(alias string, c catalog.Column) int {
		if i, ok := hiddenOf[alias+"."+c.Name]; ok {
			return i
		}
		i := visible + len(hidden)
		hiddenOf[alias+"."+c.Name] = i
		hidden = append(hidden, parseExpr(quoteIdent(alias)+"."+quoteIdent(c.Name)))
		return i
	}
	order, dItems, plainDistinct, ok := orderAndDistinct(sel)
	if !ok {
		return nil, false, nil
	}
	var keys []SortKey
	for _, o := range order {
		alias, c, ok := m.column(o.expr)
		if !ok {
			return nil, false, nil
		}
		if _, ok := keyFamily(env, c, true); !ok {
			return nil, false, nil
		}
		if plainDistinct && !m.inTargets(sel, alias, c.Name) {
			// PostgreSQL refuses it (42P10): leave it the error.
			return nil, false, nil
		}
		keys = append(keys, SortKey{SortKey: ops.SortKey{Col: keyCol(alias, c), Desc: o.desc, NullsFirst: o.nullsFirst}, Expr: deparsed(o.expr)})
	}
	// DISTINCT: every output column is a key; DISTINCT ON: its expressions.
	var distinct []int
	var distinctExprs []string
	for _, expr := range dItems {
		alias, c, ok := m.column(expr)
		if !ok {
			return nil, false, nil
		}
		if _, ok := keyFamily(env, c, false); !ok {
			return nil, false, nil
		}
		distinct = append(distinct, keyCol(alias, c))
		distinctExprs = append(distinctExprs, deparsed(expr))
	}
	sortCols := make([]int, len(keys))
	for i, k := range keys {
		sortCols[i] = k.Col
	}
	if !distinctFitsOrder(distinct, sortCols, plainDistinct) {
		return nil, false, nil // PostgreSQL refuses it (42P10): leave it the error
	}
	for i, h := range hidden {
		// Named apart: a key's own name could make an ORDER BY name ambiguous.
		remote.TargetList = append(remote.TargetList, &pg_query.Node{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{
			Name: fmt.Sprintf("xlgo_k%d", i+1), Val: h}}})
	}
	// Each node sends at most the rows the limit can take from it.
	remote.LimitOffset = nil
	if count >= 0 {
		remote.LimitCount = &pg_query.Node{Node: &pg_query.Node_AConst{AConst: &pg_query.A_Const{
			Val: &pg_query.A_Const_Ival{Ival: &pg_query.Integer{Ival: int32(min(count+offset, 1<<30))}}}}}
		remote.LimitOption = pg_query.LimitOption_LIMIT_OPTION_COUNT
	}
	scan, err := remoteScan(env, remote, m.nodes, m.label, trailing(visible+len(hidden), len(hidden)))
	if err != nil {
		return nil, false, err
	}
	var plan Plan = scan
	if len(keys) > 0 {
		plan = &MergeSort{Input: scan, Keys: keys}
	}
	if len(distinct) > 0 {
		plan = &Distinct{Input: plan, Cols: distinct, Exprs: distinctExprs}
	}
	if count >= 0 || offset > 0 {
		plan = &Limit{Input: plan, Offset: offset, Count: count}
	}
	if len(hidden) > 0 {
		cols := make([]int, visible)
		for i := range cols {
			cols[i] = i
		}
		plan = &Project{Input: plan, Cols: cols}
	}
	return plan, true, nil
}

// inTargets tells whether a plain column is one of the statement's output
// columns.
func (m *mergeScope) inTargets(sel *pg_query.SelectStmt, alias, col string) bool {
	for _, t := range sel.TargetList {
		if rt := t.GetResTarget(); rt != nil {
			if a, c, ok := m.column(rt.Val); ok && a == alias && c.Name == col {
				return true
			}
		}
	}
	return false
}

// distinctFitsOrder tells whether DISTINCT and ORDER BY keys go together as
// PostgreSQL demands: with plain DISTINCT every ORDER BY key is an output
// column; DISTINCT ON's keys are the leading ORDER BY keys (in any order).
// Other combinations are left to PostgreSQL to refuse.
func distinctFitsOrder[K comparable](distinct, order []K, plain bool) bool {
	if len(distinct) == 0 || len(order) == 0 {
		return true
	}
	in := func(k K, list []K) bool {
		for _, x := range list {
			if x == k {
				return true
			}
		}
		return false
	}
	if plain {
		for _, k := range order {
			if !in(k, distinct) {
				return false
			}
		}
		return true
	}
	if len(order) < len(distinct) {
		return false
	}
	for _, k := range order[:len(distinct)] {
		if !in(k, distinct) {
			return false
		}
	}
	for _, k := range distinct {
		if !in(k, order[:len(distinct)]) {
			return false
		}
	}
	return true
}
