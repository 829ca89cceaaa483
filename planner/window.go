package planner

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/executor/ops"
)

var windowKinds = map[string]ops.WinKind{"row_number": ops.WinRowNumber, "rank": ops.WinRank, "dense_rank": ops.WinDenseRank}

// WindowAgg numbers rows at the coordinator: the input arrives ordered by
// the partition and then the window's order keys.
type WindowAgg struct {
	Input     Plan
	Partition []int // binary key columns
	Order     []SortKey
	Funcs     []ops.WindowSpec
	Exprs     []string // the partition keys, for EXPLAIN
}

func (w *WindowAgg) explain(b *strings.Builder, depth int) {
	line(b, depth, "WindowAgg")
	if len(w.Exprs) > 0 {
		detail(b, depth, "Partition By: %s", strings.Join(w.Exprs, ", "))
	}
	if len(w.Order) > 0 {
		detail(b, depth, "Order By: %s", keyList(w.Order))
	}
	w.Input.explain(b, depth+1)
}

// sortDir reads a SortBy's direction and where its NULLs go, as PostgreSQL
// defaults them.
func sortDir(by *pg_query.SortBy) (desc, nullsFirst bool) {
	desc = by.SortbyDir == pg_query.SortByDir_SORTBY_DESC
	nullsFirst = desc
	switch by.SortbyNulls {
	case pg_query.SortByNulls_SORTBY_NULLS_FIRST:
		nullsFirst = true
	case pg_query.SortByNulls_SORTBY_NULLS_LAST:
		nullsFirst = false
	}
	return desc, nullsFirst
}

// planWindow plans row_number(), rank() and dense_rank() over one
// distributed table (every WHERE term evaluated on the datanodes) when their
// window is not keyed by the distribution: each node sends its rows ordered
// by the window's partition and order keys (plain columns the coordinator
// can compare), the coordinator merges the streams and numbers the rows,
// then orders by plain columns and limits.
func planWindow(env *Env, stmt *pg_query.Node, r *relRef) (Plan, bool, error) {
	sel := stmt.GetSelectStmt()
	if sel == nil || !r.sole || !r.top || sel.Op != pg_query.SetOperation_SETOP_NONE || len(sel.GroupClause) > 0 ||
		sel.HavingClause != nil || len(sel.WindowClause) > 0 || len(sel.LockingClause) > 0 || sel.WithClause != nil ||
		len(sel.DistinctClause) > 0 || sel.LimitOption == pg_query.LimitOption_LIMIT_OPTION_WITH_TIES || env.mentionsXC(stmt) {
		return nil, false, nil
	}
	count, offset, ok := limits(sel)
	if !ok {
		return nil, false, nil
	}
	var over *pg_query.WindowDef
	var funcs []ops.WindowSpec
	remote := proto.Clone(sel).(*pg_query.SelectStmt)
	remote.TargetList, remote.SortClause, remote.LimitCount, remote.LimitOffset = nil, nil, nil, nil
	remote.LimitOption = pg_query.LimitOption_LIMIT_OPTION_DEFAULT
	type out struct{ col, fn int }
	var outs []out
	visible := 0
	for _, t := range sel.TargetList {
		rt := t.GetResTarget()
		if rt == nil {
			return nil, false, nil
		}
		if fc := rt.Val.GetFuncCall(); fc != nil && fc.Over != nil {
			schema, name := funcName(fc)
			kind, ok := windowKinds[name]
			if !ok || schema != "" && schema != "pg_catalog" || len(fc.Args) > 0 || fc.AggStar || fc.AggFilter != nil ||
				fc.Over.Refname != "" || fc.Over.Name != "" {
				return nil, false, nil
			}
			if over == nil {
				over = fc.Over
			} else if !proto.Equal(stripLocations(over), stripLocations(fc.Over)) {
				return nil, false, nil // several windows
			}
			spec := ops.WindowSpec{Kind: kind, Name: rt.Name}
			if spec.Name == "" {
				spec.Name = name
			}
			outs = append(outs, out{col: -1, fn: len(funcs)})
			funcs = append(funcs, spec)
			continue
		}
		if cr := rt.Val.GetColumnRef(); cr != nil && hasStarRef(cr) {
			names := columnRefNames(cr)
			if len(names) > 2 || len(names) == 2 && names[0] != r.alias {
				return nil, false, nil
			}
			for range r.table.Columns {
				outs = append(outs, out{col: visible, fn: -1})
				visible++
			}
			remote.TargetList = append(remote.TargetList, proto.Clone(t).(*pg_query.Node))
			continue
		}
		if !readsOnly(rt.Val, r) {
			return nil, false, nil
		}
		outs = append(outs, out{col: visible, fn: -1})
		visible++
		remote.TargetList = append(remote.TargetList, proto.Clone(t).(*pg_query.Node))
	}
	if over == nil {
		return nil, false, nil
	}
	var hidden []catalog.Column
	keyOf := map[string]int{}
	key := func(expr *pg_query.Node, ordered bool) (int, string, bool) {
		c, ok := r.column(expr)
		if !ok {
			return 0, "", false
		}
		if _, ok := keyFamily(env, c, ordered); !ok {
			return 0, "", false
		}
		if i, ok := keyOf[c.Name]; ok {
			return i, deparsed(expr), true
		}
		keyOf[c.Name] = visible + len(hidden)
		hidden = append(hidden, c)
		return keyOf[c.Name], deparsed(expr), true
	}
	// The order of every node's rows: the partition keys, then the window's.
	var merge []SortKey
	var partition []int
	var partExprs []string
	for _, p := range over.PartitionClause {
		col, text, ok := key(p, true)
		if !ok {
			return nil, false, nil
		}
		partition = append(partition, col)
		partExprs = append(partExprs, text)
		merge = append(merge, SortKey{SortKey: ops.SortKey{Col: col}, Expr: text})
	}
	var order []SortKey
	for _, o := range over.OrderClause {
		by := o.GetSortBy()
		if by == nil || by.UseOp != nil {
			return nil, false, nil
		}
		col, text, ok := key(by.Node, true)
		if !ok {
			return nil, false, nil
		}
		desc, nullsFirst := sortDir(by)
		k := SortKey{SortKey: ops.SortKey{Col: col, Desc: desc, NullsFirst: nullsFirst}, Expr: text}
		order = append(order, k)
		merge = append(merge, k)
	}
	// The statement's own ORDER BY: plain columns, sorted again after.
	stmtOrder, ok := orderItems(sel)
	if !ok {
		return nil, false, nil
	}
	var final []SortKey
	for _, o := range stmtOrder {
		col, text, ok := key(o.expr, true)
		if !ok {
			return nil, false, nil
		}
		final = append(final, SortKey{SortKey: ops.SortKey{Col: col, Desc: o.desc, NullsFirst: o.nullsFirst}, Expr: text})
	}
	for i, c := range hidden {
		remote.TargetList = append(remote.TargetList, &pg_query.Node{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{
			Name: fmt.Sprintf("xlgo_k%d", i+1), Val: parseExpr(quoteIdent(r.alias) + "." + quoteIdent(c.Name))}}})
	}
	for _, k := range merge {
		by := &pg_query.SortBy{Node: parseExpr(fmt.Sprint(k.Col + 1)), SortbyDir: pg_query.SortByDir_SORTBY_ASC,
			SortbyNulls: pg_query.SortByNulls_SORTBY_NULLS_LAST}
		if k.Desc {
			by.SortbyDir = pg_query.SortByDir_SORTBY_DESC
		}
		if k.NullsFirst {
			by.SortbyNulls = pg_query.SortByNulls_SORTBY_NULLS_FIRST
		}
		remote.SortClause = append(remote.SortClause, &pg_query.Node{Node: &pg_query.Node_SortBy{SortBy: by}})
	}
	scan, err := remoteScan(env, remote, r.nodes(), r.table.QualifiedName(), trailing(visible+len(hidden), len(hidden)))
	if err != nil {
		return nil, false, err
	}
	var plan Plan = scan
	if len(merge) > 0 {
		plan = &MergeSort{Input: scan, Keys: merge}
	}
	plan = &WindowAgg{Input: plan, Partition: partition, Order: order, Funcs: funcs, Exprs: partExprs}
	if len(final) > 0 {
		plan = &Sort{Input: plan, Keys: final}
	}
	if count >= 0 || offset > 0 {
		plan = &Limit{Input: plan, Offset: offset, Count: count}
	}
	width := visible + len(hidden)
	cols := make([]int, len(outs))
	for i, o := range outs {
		if o.fn >= 0 {
			cols[i] = width + o.fn
		} else {
			cols[i] = o.col
		}
	}
	return project(plan, cols, width+len(funcs)), true, nil
}

// stripLocations is a copy of a node without its positions in the text,
// to compare two spellings of the same window.
func stripLocations(w *pg_query.WindowDef) *pg_query.WindowDef {
	c := proto.Clone(w).(*pg_query.WindowDef)
	walk(c, func(m proto.Message) bool {
		r := m.ProtoReflect()
		if f := r.Descriptor().Fields().ByName("location"); f != nil {
			r.Clear(f)
		}
		return true
	})
	c.Location = 0
	return c
}
