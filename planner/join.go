package planner

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/executor/ops"
)

// A join of two distributed tables that are not co-located: each table's
// rows (filtered by the terms that concern it alone, with the columns the
// statement reads) are pulled from its nodes and joined at the coordinator
// on the equality of their keys; ordering, DISTINCT and the limit follow
// there too. What the coordinator cannot compute exactly by itself (a
// condition over both tables other than key equality, expressions over the
// NULL-extended side of an outer join, aggregates ...) is left to the
// general gather, which evaluates at a PostgreSQL.

// joinSide is one table of the join and what the coordinator pulls of it.
type joinSide struct {
	ref     *relRef
	terms   []*pg_query.Node // its WHERE on the datanodes
	targets []*pg_query.Node // the columns it sends the client
	keys    []*pg_query.Node // then the binary copies of the key columns
	keyOf   map[string]int   // column -> its index in keys
}

// key is the index among the side's keys of a column's binary copy.
func (s *joinSide) key(c catalog.Column) int {
	if i, ok := s.keyOf[c.Name]; ok {
		return i
	}
	s.keyOf[c.Name] = len(s.keys)
	s.keys = append(s.keys, &pg_query.Node{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{
		Name: fmt.Sprintf("xlgo_k%d", len(s.keys)+1), Val: parseExpr(quoteIdent(s.ref.alias) + "." + quoteIdent(c.Name))}}})
	return len(s.keys) - 1
}

// width is the number of columns the side's scan returns.
func (s *joinSide) width() int { return max(len(s.targets)+len(s.keys), 1) }

// side tells which of the join's tables an expression reads: 0 none, 1 the
// left, 2 the right, 3 both; -1 when it cannot be evaluated on a datanode
// (a subquery, parameter, aggregate, window, volatile function, or a name
// that is not a column of exactly one of them).
func (j *joinPlan) side(expr *pg_query.Node) int {
	s := 0
	walk(expr, func(m proto.Message) bool {
		switch x := m.(type) {
		case *pg_query.SubLink, *pg_query.GroupingFunc, *pg_query.RangeSubselect:
			s = -1
		case *pg_query.ParamRef:
			if j.env.Params == nil {
				s = -1 // no values to send it with
			}
		case *pg_query.FuncCall:
			_, name := funcName(x)
			if x.Over != nil || x.AggStar || builtinAggregates[name] || j.env.Rel.Aggregates[name] || j.env.Rel.Volatile[name] {
				s = -1
			}
		case *pg_query.ColumnRef:
			names := columnRefNames(x)
			col := names[len(names)-1]
			in := 0
			for i, sd := range j.sides {
				if _, ok := sd.ref.table.Column(col); ok && sd.ref.refersTo(x, col) {
					in |= 1 << i
				}
			}
			if in != 1 && in != 2 || hasStarRef(x) {
				s = -1 // ambiguous, unknown or a whole row
			} else {
				s |= in
			}
		}
		return s >= 0
	})
	return s
}

type joinPlan struct {
	env   *Env
	sides [2]*joinSide
	kind  ops.JoinKind
	// The join keys (indexes among each side's keys) and the condition.
	lkeys, rkeys []int
	cond         string
	pairs        [][2]catalog.Column // the key columns, left and right
}

// reduce plans an inner join of a table filtered on the datanodes with one
// read whole as a SubPlan: the filtered table's join keys are found first,
// and the other table's rows are then read only for those keys (often
// from the nodes that hold them), as `key IN (the keys)`.
func (j *joinPlan) reduce(stmt *pg_query.Node) (Plan, bool, error) {
	if j.kind != ops.JoinInner || len(j.pairs) == 0 {
		return nil, false, nil
	}
	for f := 0; f < 2; f++ {
		filtered, other := j.sides[f], j.sides[1-f]
		if len(filtered.terms) == 0 || len(other.terms) > 0 || filtered.ref.sample != nil {
			continue // (a sample read twice would be two samples)
		}
		fc, oc := j.pairs[0][f], j.pairs[0][1-f]
		if fc.Collation != "" || oc.Collation != "" {
			continue // the keys' value would lose its collation
		}
		var terms []string
		for _, t := range filtered.terms {
			terms = append(terms, deparsed(t))
		}
		only := ""
		if !filtered.ref.rv.Inh {
			only = "ONLY "
		}
		in := parseExpr(fmt.Sprintf("%s.%s IN (SELECT %s.%s FROM %s%s AS %s WHERE %s)",
			quoteIdent(other.ref.alias), quoteIdent(oc.Name), quoteIdent(filtered.ref.alias), quoteIdent(fc.Name),
			only, filtered.ref.table.QualifiedName(), quoteIdent(filtered.ref.alias), strings.Join(terms, " AND ")))
		c := proto.Clone(stmt).(*pg_query.Node)
		sel := c.GetSelectStmt()
		sel.WhereClause = andOf(append(conjuncts(sel.WhereClause), in))
		return planSubPlan(j.env.withoutSQL(), c)
	}
	return nil, false, nil
}

// keyRef is a binary key column of one side.
type keyRef struct{ side, key int }

// at is where column col of a side's scan is in the joined row, once the
// sides' columns are final.
func (j *joinPlan) at(side, col int) int {
	if side == 1 {
		return j.sides[0].width() + col
	}
	return col
}

// keyAt is where a side's key is in the joined row.
func (j *joinPlan) keyAt(r keyRef) int { return j.at(r.side, len(j.sides[r.side].targets)+r.key) }

// scans are the remote scans of the two sides: their targets, then the
// binary copies of their keys.
func (j *joinPlan) scans() ([2]*RemoteScan, error) {
	var scans [2]*RemoteScan
	for i, sd := range j.sides {
		rv := proto.Clone(sd.ref.rv).(*pg_query.RangeVar)
		q := &pg_query.SelectStmt{TargetList: append(append([]*pg_query.Node(nil), sd.targets...), sd.keys...),
			LimitOption: pg_query.LimitOption_LIMIT_OPTION_DEFAULT, Op: pg_query.SetOperation_SETOP_NONE,
			FromClause: []*pg_query.Node{{Node: &pg_query.Node_RangeVar{RangeVar: rv}}}}
		if len(q.TargetList) == 0 {
			q.TargetList = []*pg_query.Node{{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Val: parseExpr("1")}}}}
		}
		withSample(sd.ref, q)
		var terms []*pg_query.Node
		for _, t := range sd.terms {
			terms = append(terms, proto.Clone(t).(*pg_query.Node))
		}
		q.WhereClause = andOf(terms)
		scan, err := remoteScan(j.env, q, sd.ref.nodes(), sd.ref.table.QualifiedName(), trailing(sd.width(), len(sd.keys)))
		if err != nil {
			return scans, err
		}
		scans[i] = scan
	}
	return scans, nil
}

// node is the join of the two scans: a hash join on the keys, a nested
// loop without any.
func (j *joinPlan) node(scans [2]*RemoteScan) Plan {
	if len(j.lkeys) == 0 {
		return &NestedLoop{Left: scans[0], Right: scans[1]}
	}
	lkeys, rkeys := make([]int, len(j.lkeys)), make([]int, len(j.rkeys))
	for i := range j.lkeys {
		lkeys[i] = j.keyAt(keyRef{0, j.lkeys[i]})
		rkeys[i] = len(j.sides[1].targets) + j.rkeys[i]
	}
	return &HashJoin{Left: scans[0], Right: scans[1], Kind: j.kind, LeftKeys: lkeys, RightKeys: rkeys, Cond: j.cond}
}

// planJoin plans a SELECT over exactly two distributed tables that are
// not co-located, when the coordinator can complete it; ok is false when
// the general gather must.
func planJoin(env *Env, stmt *pg_query.Node, dist []*relRef) (Plan, bool, error) {
	sel := stmt.GetSelectStmt()
	if sel == nil || len(dist) != 2 || sel.Op != pg_query.SetOperation_SETOP_NONE || sel.GroupDistinct ||
		sel.HavingClause != nil || len(sel.WindowClause) > 0 || len(sel.LockingClause) > 0 || sel.WithClause != nil ||
		sel.LimitOption == pg_query.LimitOption_LIMIT_OPTION_WITH_TIES || env.mentionsXC(stmt) {
		return nil, false, nil
	}
	count, offset, ok := limits(sel)
	if !ok {
		return nil, false, nil
	}
	j := &joinPlan{env: env, kind: ops.JoinInner}
	var onTerms []*pg_query.Node
	var left, right *pg_query.RangeVar
	switch len(sel.FromClause) {
	case 1:
		je := sel.FromClause[0].GetJoinExpr()
		if je == nil || je.IsNatural || len(je.UsingClause) > 0 || je.JoinUsingAlias != nil || je.Alias != nil {
			return nil, false, nil
		}
		left, right = je.Larg.GetRangeVar(), je.Rarg.GetRangeVar()
		switch je.Jointype {
		case pg_query.JoinType_JOIN_INNER:
		case pg_query.JoinType_JOIN_LEFT:
			j.kind = ops.JoinLeft
		case pg_query.JoinType_JOIN_RIGHT:
			j.kind = ops.JoinRight
		case pg_query.JoinType_JOIN_FULL:
			j.kind = ops.JoinFull
		default:
			return nil, false, nil
		}
		onTerms = conjuncts(je.Quals)
	case 2:
		left, right = sel.FromClause[0].GetRangeVar(), sel.FromClause[1].GetRangeVar()
	default:
		return nil, false, nil
	}
	if left == nil || right == nil {
		return nil, false, nil
	}
	for i, rv := range []*pg_query.RangeVar{left, right} {
		for _, r := range dist {
			if r.rv == rv {
				j.sides[i] = &joinSide{ref: r, keyOf: map[string]int{}}
			}
		}
		if j.sides[i] == nil || j.sides[i].ref.alias == "" {
			return nil, false, nil
		}
	}
	if j.sides[0].ref.alias == j.sides[1].ref.alias {
		return nil, false, nil
	}
	// Which side's rows survive unmatched (and may be filtered before the
	// join by WHERE), and which the join may NULL-extend.
	var preserved, nullable [2]bool
	switch j.kind {
	case ops.JoinLeft:
		preserved[0], nullable[1] = true, true
	case ops.JoinRight:
		preserved[1], nullable[0] = true, true
	case ops.JoinFull:
		preserved, nullable = [2]bool{true, true}, [2]bool{true, true}
	}
	// Join keys and terms: an ON term on one table filters that table's
	// rows before the join unless the join keeps them all (preserved); a
	// WHERE term does unless the join may NULL-extend them.
	var lkeys, rkeys []int
	var conds []string
	// key takes a term that equates a column of each table as a join key.
	key := func(t *pg_query.Node) bool {
		l, r, ok := j.keyPair(t)
		if ok {
			lkeys, rkeys = append(lkeys, j.sides[0].key(l)), append(rkeys, j.sides[1].key(r))
			conds = append(conds, deparsed(t))
			j.pairs = append(j.pairs, [2]catalog.Column{l, r})
		}
		return ok
	}
	// filter takes a term of one table as a filter of its scan, unless
	// that table's rows must not be filtered before the join.
	filter := func(t *pg_query.Node, keep [2]bool) bool {
		s := j.side(t)
		if (s != 1 && s != 2) || keep[s-1] {
			return false
		}
		j.sides[s-1].terms = append(j.sides[s-1].terms, t)
		return true
	}
	for _, t := range onTerms {
		if !key(t) && !filter(t, preserved) {
			return nil, false, nil
		}
	}
	for _, t := range conjuncts(sel.WhereClause) {
		if !(j.kind == ops.JoinInner && key(t)) && !filter(t, nullable) {
			return nil, false, nil
		}
	}
	if len(lkeys) == 0 && j.kind != ops.JoinInner {
		return nil, false, nil
	}
	if j.kind == ops.JoinInner {
		for i, sd := range j.sides {
			sd.terms = append(sd.terms, derivedTerms(j.sides[i].ref, dist)...)
		}
	}
	j.lkeys, j.rkeys, j.cond = lkeys, rkeys, strings.Join(conds, " AND ")
	if plan, ok, err := j.reduce(stmt); err != nil || ok {
		return plan, ok, err
	}
	if len(sel.GroupClause) > 0 || hasAggregate(env, sel) {
		return j.planGrouped(sel, count, offset)
	}
	// The statement's columns: where each comes from.
	type outCol struct{ side, col int }
	var outs []outCol
	addStar := func(i int) {
		sd := j.sides[i]
		for _, c := range sd.ref.table.Columns {
			outs = append(outs, outCol{i, len(sd.targets)})
			sd.targets = append(sd.targets, &pg_query.Node{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{
				Val: parseExpr(quoteIdent(sd.ref.alias) + "." + quoteIdent(c.Name))}}})
		}
	}
	for _, t := range sel.TargetList {
		rt := t.GetResTarget()
		if rt == nil {
			return nil, false, nil
		}
		if cr := rt.Val.GetColumnRef(); cr != nil && hasStarRef(cr) {
			names := columnRefNames(cr)
			switch {
			case len(names) == 1:
				addStar(0)
				addStar(1)
			case len(names) == 2 && names[0] == j.sides[0].ref.alias:
				addStar(0)
			case len(names) == 2 && names[0] == j.sides[1].ref.alias:
				addStar(1)
			default:
				return nil, false, nil
			}
			continue
		}
		s := j.side(rt.Val)
		if s == 0 && j.kind == ops.JoinInner {
			s = 1 // a constant: either side makes it
		}
		if s != 1 && s != 2 {
			return nil, false, nil
		}
		// A NULL-extended row must show NULL: only a plain column of the
		// side the join may NULL-extend does.
		if nullable[s-1] {
			if _, ok := j.sides[s-1].ref.column(rt.Val); !ok {
				return nil, false, nil
			}
		}
		sd := j.sides[s-1]
		outs = append(outs, outCol{s - 1, len(sd.targets)})
		sd.targets = append(sd.targets, proto.Clone(t).(*pg_query.Node))
	}
	// ORDER BY and DISTINCT keys: plain columns of either table, compared by
	// their binary copies in the joined row.
	keyCol := func(expr *pg_query.Node, ordered bool) (keyRef, string, bool) {
		s := j.side(expr)
		if s != 1 && s != 2 {
			return keyRef{}, "", false
		}
		c, ok := j.sides[s-1].ref.column(expr)
		if !ok {
			return keyRef{}, "", false
		}
		if _, ok := keyFamily(env, c, ordered); !ok {
			return keyRef{}, "", false
		}
		return keyRef{s - 1, j.sides[s-1].key(c)}, deparsed(expr), true
	}
	order, dItems, plain, ok := orderAndDistinct(sel)
	if !ok {
		return nil, false, nil
	}
	var sortKeys []SortKey
	var sortRefs []keyRef
	for _, o := range order {
		ref, text, ok := keyCol(o.expr, true)
		if !ok {
			return nil, false, nil
		}
		sortKeys = append(sortKeys, SortKey{SortKey: ops.SortKey{Desc: o.desc, NullsFirst: o.nullsFirst}, Expr: text})
		sortRefs = append(sortRefs, ref)
	}
	var distinctRefs []keyRef
	var distinctExprs []string
	for _, expr := range dItems {
		ref, text, ok := keyCol(expr, false)
		if !ok {
			return nil, false, nil
		}
		distinctRefs = append(distinctRefs, ref)
		distinctExprs = append(distinctExprs, text)
	}
	if !distinctFitsOrder(distinctRefs, sortRefs, plain) {
		return nil, false, nil // PostgreSQL refuses it (42P10)
	}
	// Every column's place in the joined row: the left scan's columns
	// (targets, then keys), then the right's.
	at, keyAt := j.at, j.keyAt
	for i, r := range sortRefs {
		sortKeys[i].Col = keyAt(r)
	}
	var distinct []int
	for _, r := range distinctRefs {
		distinct = append(distinct, keyAt(r))
	}
	scans, err := j.scans()
	if err != nil {
		return nil, false, err
	}
	plan := j.node(scans)
	if len(sortKeys) > 0 {
		plan = &Sort{Input: plan, Keys: sortKeys}
	}
	if len(distinct) > 0 {
		plan = &Distinct{Input: plan, Cols: distinct, Exprs: distinctExprs}
	}
	if count >= 0 || offset > 0 {
		plan = &Limit{Input: plan, Offset: offset, Count: count}
	}
	cols := make([]int, len(outs))
	for i, o := range outs {
		cols[i] = at(o.side, o.col)
	}
	return &Project{Input: plan, Cols: cols}, true, nil
}

// keyPair reads `l.x = r.y` (either way round) of two plain columns whose
// values the coordinator can match exactly.
func (j *joinPlan) keyPair(t *pg_query.Node) (catalog.Column, catalog.Column, bool) {
	a := t.GetAExpr()
	if a == nil || a.Kind != pg_query.A_Expr_Kind_AEXPR_OP || len(a.Name) != 1 || strVal(a.Name[0]) != "=" {
		return catalog.Column{}, catalog.Column{}, false
	}
	x, y := a.Lexpr, a.Rexpr
	if j.side(x) == 2 && j.side(y) == 1 {
		x, y = y, x
	}
	if j.side(x) != 1 || j.side(y) != 2 {
		return catalog.Column{}, catalog.Column{}, false
	}
	l, ok1 := j.sides[0].ref.column(x)
	r, ok2 := j.sides[1].ref.column(y)
	if !ok1 || !ok2 {
		return catalog.Column{}, catalog.Column{}, false
	}
	fl, okl := keyFamily(j.env, l, false)
	fr, okr := keyFamily(j.env, r, false)
	if !okl || !okr || fl != fr {
		return catalog.Column{}, catalog.Column{}, false
	}
	// Two text columns of different collations cannot be compared.
	if fl == "text" && l.Collation != r.Collation {
		return catalog.Column{}, catalog.Column{}, false
	}
	return l, r, true
}

func deparsed(n *pg_query.Node) string {
	s, err := deparseExprNode(n)
	if err != nil {
		return fmt.Sprint(n)
	}
	return s
}
