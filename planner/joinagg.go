package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/xlgo/xlgo/executor/ops"
)

// planGrouped completes a grouping over the joined rows at the
// coordinator: group columns are plain columns of either table, and the
// aggregates count(*), count, sum of integers and numerics, min, max,
// bool_and/every and bool_or of plain columns; ORDER BY group columns and
// the limit follow. Each side sends the columns the aggregates read (a
// count reads whether its column is NULL), the join's rows are aggregated
// as they come.
func (j *joinPlan) planGrouped(sel *pg_query.SelectStmt, count, offset int64) (Plan, bool, error) {
	if len(sel.DistinctClause) > 0 {
		return nil, false, nil
	}
	type colRef struct{ side, col int } // a side's visible column
	// text adds a column to a side's scan and tells where it is.
	text := func(side int, expr *pg_query.Node) colRef {
		sd := j.sides[side]
		sd.targets = append(sd.targets, &pg_query.Node{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Val: expr}}})
		return colRef{side, len(sd.targets) - 1}
	}
	column := func(expr *pg_query.Node) (int, bool) {
		s := j.side(expr)
		if s != 1 && s != 2 {
			return 0, false
		}
		if _, ok := j.sides[s-1].ref.column(expr); !ok {
			return 0, false
		}
		return s - 1, true
	}
	var groupText []colRef
	var groupKeys []keyRef
	var groupNames []string // side + column, to match the targets
	var groupExprs []string
	for _, g := range sel.GroupClause {
		expr := g
		if _, ok := column(g); !ok {
			expr = sortTarget(sel, g)
		}
		if expr == nil {
			return nil, false, nil
		}
		side, ok := column(expr)
		if !ok {
			return nil, false, nil
		}
		c, _ := j.sides[side].ref.column(expr)
		if _, ok := keyFamily(j.env, c, false); !ok {
			return nil, false, nil
		}
		groupText = append(groupText, text(side, parseExpr(quoteIdent(j.sides[side].ref.alias)+"."+quoteIdent(c.Name))))
		groupKeys = append(groupKeys, keyRef{side, j.sides[side].key(c)})
		groupNames = append(groupNames, j.sides[side].ref.alias+"."+c.Name)
		groupExprs = append(groupExprs, deparsed(expr))
	}
	ng := len(groupKeys)
	type aggRef struct {
		spec     ops.AggSpec
		arg      colRef
		key      keyRef
		hasArg   bool
		hasKey   bool
		groupOut int // a group column's output, or -1
	}
	var outs []aggRef
	nspecs := 0
	for _, t := range sel.TargetList {
		rt := t.GetResTarget()
		if rt == nil {
			return nil, false, nil
		}
		if side, ok := column(rt.Val); ok {
			c, _ := j.sides[side].ref.column(rt.Val)
			g := -1
			for i, n := range groupNames {
				if n == j.sides[side].ref.alias+"."+c.Name {
					g = i
				}
			}
			if g < 0 || rt.Name != "" && rt.Name != c.Name {
				return nil, false, nil
			}
			outs = append(outs, aggRef{groupOut: g})
			continue
		}
		fc := rt.Val.GetFuncCall()
		if fc == nil || fc.AggDistinct || len(fc.AggOrder) > 0 || fc.AggFilter != nil || fc.Over != nil || fc.AggWithinGroup {
			return nil, false, nil
		}
		schema, name := funcName(fc)
		if schema != "" && schema != "pg_catalog" {
			return nil, false, nil
		}
		a := aggRef{groupOut: -1, spec: ops.AggSpec{Name: rt.Name}}
		if a.spec.Name == "" {
			a.spec.Name = name
		}
		if fc.AggStar {
			if name != "count" {
				return nil, false, nil
			}
			a.spec.Kind = ops.AggCountRows
			outs = append(outs, a)
			nspecs++
			continue
		}
		if len(fc.Args) != 1 {
			return nil, false, nil
		}
		side, ok := column(fc.Args[0])
		if !ok {
			return nil, false, nil
		}
		c, _ := j.sides[side].ref.column(fc.Args[0])
		col := quoteIdent(j.sides[side].ref.alias) + "." + quoteIdent(c.Name)
		switch {
		case name == "count":
			// 1 for a value, 0 for NULL; a NULL-extended row sends NULL.
			if _, ok := keyFamily(j.env, c, false); !ok {
				return nil, false, nil
			}
			a.spec.Kind = ops.AggCount
			a.arg, a.hasArg = text(side, parseExpr("CASE WHEN "+col+" IS NULL THEN 0 ELSE 1 END")), true
		case name == "sum" && (c.TypName == "int2" || c.TypName == "int4"):
			a.spec.Kind = ops.AggSumInt8
			a.arg, a.hasArg = text(side, parseExpr(col)), true
		case name == "sum" && (c.TypName == "int8" || c.TypName == "numeric"):
			a.spec.Kind = ops.AggSumNumeric
			a.arg, a.hasArg = text(side, parseExpr(col)), true
		case name == "min" || name == "max":
			if _, ok := keyFamily(j.env, c, true); !ok {
				return nil, false, nil
			}
			a.spec.Kind = ops.AggMin
			if name == "max" {
				a.spec.Kind = ops.AggMax
			}
			a.arg, a.hasArg = text(side, parseExpr(col)), true
			a.key, a.hasKey = keyRef{side, j.sides[side].key(c)}, true
		case (name == "bool_and" || name == "every" || name == "bool_or") && c.TypName == "bool":
			a.spec.Kind = ops.AggBoolAnd
			if name == "bool_or" {
				a.spec.Kind = ops.AggBoolOr
			}
			a.arg, a.hasArg = text(side, parseExpr(col)), true
		default:
			return nil, false, nil
		}
		outs = append(outs, a)
		nspecs++
	}
	if nspecs == 0 && ng == 0 {
		return nil, false, nil
	}
	// ORDER BY group columns, by their binary copies (carried out of the
	// aggregation after the visible group columns).
	order, ok := orderItems(sel)
	if !ok {
		return nil, false, nil
	}
	var sortKeys []SortKey
	for _, o := range order {
		side, ok := column(o.expr)
		if !ok {
			return nil, false, nil
		}
		c, _ := j.sides[side].ref.column(o.expr)
		g := -1
		for i, n := range groupNames {
			if n == j.sides[side].ref.alias+"."+c.Name {
				g = i
			}
		}
		if _, ok := keyFamily(j.env, c, true); g < 0 || !ok {
			return nil, false, nil
		}
		sortKeys = append(sortKeys, SortKey{SortKey: ops.SortKey{Col: ng + g, Desc: o.desc, NullsFirst: o.nullsFirst}, Expr: deparsed(o.expr)})
	}
	// Every side's columns are known now: place them in the joined row.
	scans, err := j.scans()
	if err != nil {
		return nil, false, err
	}
	agg := &FinalAgg{Input: j.node(scans), Exprs: groupExprs}
	for i := range groupKeys {
		agg.GroupKeys = append(agg.GroupKeys, j.keyAt(groupKeys[i]))
		agg.GroupOut = append(agg.GroupOut, j.at(groupText[i].side, groupText[i].col))
	}
	for i := range groupKeys {
		agg.GroupOut = append(agg.GroupOut, j.keyAt(groupKeys[i]))
	}
	cols := make([]int, 0, len(outs))
	for _, a := range outs {
		if a.groupOut >= 0 {
			cols = append(cols, a.groupOut)
			continue
		}
		if a.hasArg {
			a.spec.Col = j.at(a.arg.side, a.arg.col)
		}
		if a.hasKey {
			a.spec.KeyCol = j.keyAt(a.key)
		}
		cols = append(cols, 2*ng+len(agg.Aggs))
		agg.Aggs = append(agg.Aggs, a.spec)
	}
	var plan Plan = agg
	if len(sortKeys) > 0 {
		plan = &Sort{Input: plan, Keys: sortKeys}
	}
	if count >= 0 || offset > 0 {
		plan = &Limit{Input: plan, Offset: offset, Count: count}
	}
	return project(plan, cols, 2*ng+len(agg.Aggs)), true, nil
}
