package planner

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/xlgo/xlgo/executor/ops"
)

// planFinalAgg plans a grouping of one distributed table (every WHERE term
// evaluated on the datanodes) whose targets are its plain group columns and
// aggregates the coordinator combines exactly by itself: count, sum of
// integers and numerics, min and max, bool_and/every and bool_or. Each
// node groups its own rows; the coordinator's FinalAgg adds the partial
// results up per group, then orders (by group columns) and limits. Other
// groupings are completed by the partial aggregation's query at a
// PostgreSQL.
func planFinalAgg(env *Env, stmt *pg_query.Node, r *relRef) (Plan, bool, error) {
	sel := stmt.GetSelectStmt()
	if sel == nil || !r.sole || !r.top || sel.Op != pg_query.SetOperation_SETOP_NONE || len(sel.DistinctClause) > 0 ||
		len(sel.WindowClause) > 0 || len(sel.LockingClause) > 0 || sel.WithClause != nil || sel.GroupDistinct ||
		sel.LimitOption == pg_query.LimitOption_LIMIT_OPTION_WITH_TIES || env.mentionsXC(stmt) {
		return nil, false, nil
	}
	if len(sel.GroupClause) == 0 && !hasAggregate(env, sel) {
		return nil, false, nil
	}
	count, offset, ok := limits(sel)
	if !ok {
		return nil, false, nil
	}
	// Group keys: plain columns the coordinator can hash.
	var groupCols []string
	for _, g := range sel.GroupClause {
		// GROUP BY reads a bare name as the table's column first, then as
		// an output column's.
		expr := g
		if _, ok := r.column(g); !ok {
			expr = sortTarget(sel, g)
		}
		if expr == nil {
			return nil, false, nil
		}
		c, ok := r.column(expr)
		if !ok {
			return nil, false, nil
		}
		if _, ok := keyFamily(env, c, false); !ok {
			return nil, false, nil
		}
		groupCols = append(groupCols, c.Name)
	}
	groupIndex := func(name string) int {
		for i, g := range groupCols {
			if g == name {
				return i
			}
		}
		return -1
	}
	col := func(name string) string { return quoteIdent(r.alias) + "." + quoteIdent(name) }
	// The datanodes' columns: each group column as text, then as binary,
	// then the partials.
	var remoteCols []string
	for _, g := range groupCols {
		remoteCols = append(remoteCols, col(g))
	}
	for _, g := range groupCols {
		remoteCols = append(remoteCols, col(g))
	}
	ng := len(groupCols)
	var specs []ops.AggSpec
	var binary []int // remote columns sent in binary
	for i := range groupCols {
		binary = append(binary, ng+i)
	}
	type out struct {
		group int // index among the group columns, or -1
		agg   int // index among specs
	}
	var outs []out
	byCall := map[string]int{}
	// addAgg finds or adds the final step of an aggregate call (and its
	// partial columns on the datanodes); alias names its output.
	addAgg := func(fc *pg_query.FuncCall, alias string) (int, bool) {
		if fc.AggDistinct || len(fc.AggOrder) > 0 || fc.AggFilter != nil || fc.Over != nil || fc.AggWithinGroup {
			return 0, false
		}
		schema, name := funcName(fc)
		if schema != "" && schema != "pg_catalog" {
			return 0, false
		}
		key := deparsed(&pg_query.Node{Node: &pg_query.Node_FuncCall{FuncCall: fc}})
		if i, ok := byCall[key]; ok && alias == "" {
			return i, true
		}
		spec := ops.AggSpec{Name: alias, Col: len(remoteCols)}
		if spec.Name == "" {
			spec.Name = name
		}
		var arg string
		var argType string
		if !fc.AggStar {
			if len(fc.Args) != 1 {
				return 0, false
			}
			c, ok := r.column(fc.Args[0])
			if !ok {
				return 0, false
			}
			arg, argType = col(c.Name), c.TypName
			if name == "min" || name == "max" {
				if _, ok := keyFamily(env, c, true); !ok {
					return 0, false
				}
			}
		} else if name != "count" {
			return 0, false
		}
		switch {
		case name == "count":
			spec.Kind = ops.AggCount
			if fc.AggStar {
				remoteCols = append(remoteCols, "count(*)")
			} else {
				remoteCols = append(remoteCols, "count("+arg+")")
			}
		case name == "sum" && (argType == "int2" || argType == "int4"):
			spec.Kind = ops.AggSumInt8
			remoteCols = append(remoteCols, "sum("+arg+")")
		case name == "sum" && (argType == "int8" || argType == "numeric"):
			spec.Kind = ops.AggSumNumeric
			remoteCols = append(remoteCols, "sum("+arg+")")
		case name == "min" || name == "max":
			spec.Kind = ops.AggMin
			if name == "max" {
				spec.Kind = ops.AggMax
			}
			remoteCols = append(remoteCols, name+"("+arg+")")
			spec.KeyCol = len(remoteCols)
			binary = append(binary, len(remoteCols))
			remoteCols = append(remoteCols, name+"("+arg+")")
		case (name == "bool_and" || name == "every" || name == "bool_or") && argType == "bool":
			spec.Kind = ops.AggBoolAnd
			fn := "bool_and"
			if name == "bool_or" {
				spec.Kind, fn = ops.AggBoolOr, "bool_or"
			}
			remoteCols = append(remoteCols, fn+"("+arg+")")
		default:
			return 0, false
		}
		byCall[key] = len(specs)
		specs = append(specs, spec)
		return len(specs) - 1, true
	}
	for _, t := range sel.TargetList {
		rt := t.GetResTarget()
		if rt == nil {
			return nil, false, nil
		}
		if c, ok := r.column(rt.Val); ok {
			g := groupIndex(c.Name)
			if g < 0 {
				return nil, false, nil
			}
			if rt.Name != "" && rt.Name != c.Name {
				return nil, false, nil // the datanode's column name is the column's
			}
			outs = append(outs, out{group: g, agg: -1})
			continue
		}
		fc := rt.Val.GetFuncCall()
		if fc == nil {
			return nil, false, nil
		}
		i, ok := addAgg(fc, rt.Name)
		if !ok {
			return nil, false, nil
		}
		outs = append(outs, out{group: -1, agg: i})
	}
	// HAVING: comparisons of counts and sums with numbers, filtered after
	// the aggregation (an aggregate only HAVING reads is computed too).
	var conds []FilterCond
	if sel.HavingClause != nil {
		for _, t := range conjuncts(sel.HavingClause) {
			fc, op, value, ok := aggComparison(t)
			if !ok {
				return nil, false, nil
			}
			i, ok := addAgg(fc, "")
			if !ok {
				return nil, false, nil
			}
			if k := specs[i].Kind; k != ops.AggCount && k != ops.AggSumInt8 && k != ops.AggSumNumeric {
				return nil, false, nil
			}
			conds = append(conds, FilterCond{Col: 2*ng + i, Op: op, Value: value, Expr: deparsed(t)})
		}
	}
	if len(specs) == 0 {
		return nil, false, nil // a GROUP BY that only de-duplicates: the merge plans it
	}
	// ORDER BY group columns only (by their binary copies, carried out of
	// the aggregation after the visible group columns).
	order, ok := orderItems(sel)
	if !ok {
		return nil, false, nil
	}
	var sortKeys []SortKey
	for _, o := range order {
		c, ok := r.column(o.expr)
		if !ok {
			return nil, false, nil
		}
		g := groupIndex(c.Name)
		if _, ok := keyFamily(env, c, true); g < 0 || !ok {
			return nil, false, nil
		}
		// The aggregation returns the text group columns, then the binary ones.
		sortKeys = append(sortKeys, SortKey{SortKey: ops.SortKey{Col: ng + g, Desc: o.desc, NullsFirst: o.nullsFirst}, Expr: deparsed(o.expr)})
	}
	only := ""
	if !r.rv.Inh {
		only = "ONLY "
	}
	sql := fmt.Sprintf("SELECT %s FROM %s%s AS %s", strings.Join(remoteCols, ", "), only, r.table.QualifiedName(), quoteIdent(r.alias))
	remote := parseOne(sql)
	rs := remote.GetSelectStmt()
	withSample(r, rs)
	if sel.WhereClause != nil {
		rs.WhereClause = proto.Clone(sel.WhereClause).(*pg_query.Node)
	}
	for i := range groupCols {
		rs.GroupClause = append(rs.GroupClause, parseExpr(fmt.Sprint(i+1)))
	}
	bin := make([]bool, len(remoteCols))
	for _, b := range binary {
		bin[b] = true
	}
	scan, err := remoteScan(env, rs, r.nodes(), r.table.QualifiedName(), bin)
	if err != nil {
		return nil, false, err
	}
	agg := &FinalAgg{Input: scan, Aggs: specs}
	for i, g := range groupCols {
		agg.GroupKeys = append(agg.GroupKeys, ng+i)
		agg.Exprs = append(agg.Exprs, g)
	}
	for i := range groupCols {
		agg.GroupOut = append(agg.GroupOut, i)
	}
	for i := range groupCols {
		agg.GroupOut = append(agg.GroupOut, ng+i)
	}
	var plan Plan = agg
	if len(conds) > 0 {
		plan = &Filter{Input: plan, Conds: conds}
	}
	if len(sortKeys) > 0 {
		plan = &Sort{Input: plan, Keys: sortKeys}
	}
	if count >= 0 || offset > 0 {
		plan = &Limit{Input: plan, Offset: offset, Count: count}
	}
	cols := make([]int, len(outs))
	for i, o := range outs {
		if o.group >= 0 {
			cols[i] = o.group
		} else {
			cols[i] = 2*ng + o.agg
		}
	}
	return project(plan, cols, 2*ng+len(specs)), true, nil
}

// aggComparison reads a HAVING term `agg op number` (either way round).
func aggComparison(t *pg_query.Node) (*pg_query.FuncCall, string, string, bool) {
	a := t.GetAExpr()
	if a == nil || a.Kind != pg_query.A_Expr_Kind_AEXPR_OP || len(a.Name) != 1 {
		return nil, "", "", false
	}
	op := strVal(a.Name[0])
	flip := map[string]string{"=": "=", "<>": "<>", "!=": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
	if _, ok := flip[op]; !ok {
		return nil, "", "", false
	}
	fc, num := a.Lexpr.GetFuncCall(), a.Rexpr
	if fc == nil {
		fc, num, op = a.Rexpr.GetFuncCall(), a.Lexpr, flip[op]
	}
	if fc == nil || num == nil {
		return nil, "", "", false
	}
	c := num.GetAConst()
	if c == nil || c.Isnull {
		return nil, "", "", false
	}
	switch {
	case c.GetIval() != nil:
		return fc, op, fmt.Sprint(c.GetIval().Ival), true
	case c.GetFval() != nil:
		return fc, op, c.GetFval().Fval, true
	}
	return nil, "", "", false
}
