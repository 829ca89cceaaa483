package planner

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/xlgo/xlgo/distribution"
)

// typeHoleMark names, while the planner writes a final query, the type of
// a pulled column that only the datanodes know: typeHoleMark+"<input>_
// <column>__". The deparsed text is cut at these names into the plan's
// Parts and Holes, so nothing of them reaches the executor.
const typeHoleMark = "xlgo_type_"

var typeHoleName = regexp.MustCompile(typeHoleMark + `(\d+)_(\d+)__`)

// typeHole is the name standing for the type of input's column col.
func typeHole(input, col int) string { return fmt.Sprintf("%s%d_%d__", typeHoleMark, input, col) }

// withTypeHoles cuts a final query written with typeHole names into the
// GatherEval's parts and holes; ok is false when the statement itself
// holds such a name (it would be taken for one).
func withTypeHoles(g *GatherEval, sql, own string) bool {
	if strings.Contains(strings.ToLower(own), typeHoleMark) {
		return false
	}
	at := typeHoleName.FindAllStringSubmatchIndex(sql, -1)
	if len(at) == 0 {
		g.SQL = sql
		return true
	}
	prev := 0
	for _, m := range at {
		in, _ := strconv.Atoi(sql[m[2]:m[3]])
		col, _ := strconv.Atoi(sql[m[4]:m[5]])
		g.Parts = append(g.Parts, sql[prev:m[0]])
		g.Holes = append(g.Holes, TypeHole{Input: in, Column: col})
		prev = m[1]
	}
	g.Parts = append(g.Parts, sql[prev:])
	g.SQL = ""
	return true
}

// Partial aggregation: a query that groups one distributed table (alone in
// its FROM, every WHERE term pushed down) by plain columns and computes
// count, sum, min, max, avg, bool_and or bool_or has each datanode group
// its own rows; the coordinator's query then combines the partial results.
// What it cannot rewrite exactly it leaves to the general gather.

var partialAggs = map[string]bool{"count": true, "sum": true, "min": true, "max": true, "avg": true,
	"bool_and": true, "bool_or": true, "every": true}

type partialAgg struct {
	call  *pg_query.FuncCall
	key   string   // deparsed call, to share one partial between equal calls
	cols  []string // partial columns: p<i>, and for avg its count
	final string   // the combining expression
}

func planPartialAgg(env *Env, stmt *pg_query.Node, r *relRef, replNodes []string, pushed []*pg_query.Node) (Plan, bool, error) {
	sel := stmt.GetSelectStmt()
	if sel == nil || !r.sole || !r.top || sel.Op != pg_query.SetOperation_SETOP_NONE || len(sel.DistinctClause) > 0 ||
		len(sel.WindowClause) > 0 || len(sel.LockingClause) > 0 || sel.WithClause != nil || sel.GroupDistinct {
		return nil, false, nil
	}
	if len(sel.GroupClause) == 0 && !hasAggregate(env, sel) {
		return nil, false, nil
	}
	// Group keys: plain columns of the table, or expressions of its columns
	// (of the default collation: the combining query sorts them without it).
	var keys []string     // the column, "" for an expression
	var keyExprs []string // the expression's SQL
	for _, g := range sel.GroupClause {
		expr := g
		if c := g.GetAConst(); c != nil && c.GetIval() != nil {
			i := int(c.GetIval().Ival) - 1
			if i < 0 || i >= len(sel.TargetList) {
				return nil, false, nil
			}
			expr = sel.TargetList[i].GetResTarget().GetVal()
		}
		if col, ok := plainColumn(expr, r); ok {
			keys = append(keys, col)
			keyExprs = append(keyExprs, "")
			continue
		}
		if expr.GetAConst() != nil || !readsOnly(expr, r) || readsCollated(expr, r) {
			return nil, false, nil
		}
		text, err := deparseExprNode(expr)
		if err != nil {
			return nil, false, nil
		}
		keys = append(keys, "")
		keyExprs = append(keyExprs, text)
	}
	keyOf := func(x *pg_query.Node) int {
		if x.GetAConst() != nil || x.GetColumnRef() != nil {
			return -1
		}
		text, err := deparseExprNode(x)
		if err != nil {
			return -1
		}
		for i, k := range keyExprs {
			if k != "" && k == text {
				return i
			}
		}
		return -1
	}
	var aggs []*partialAgg
	byKey := map[string]*partialAgg{}
	ok := true
	var rewrite func(n *pg_query.Node) *pg_query.Node
	// rewrite gives the final query's expression for one of the query's,
	// or nil when it cannot be combined exactly.
	rewrite = func(n *pg_query.Node) *pg_query.Node {
		c := proto.Clone(n).(*pg_query.Node)
		walk(c, func(m proto.Message) bool {
			if !ok {
				return false
			}
			x, isNode := m.(*pg_query.Node)
			if !isNode {
				switch m.(type) {
				case *pg_query.SubLink, *pg_query.GroupingFunc, *pg_query.ParamRef:
					ok = false
				}
				return ok
			}
			if i := keyOf(x); i >= 0 {
				x.Node = parseExpr(fmt.Sprintf("g%d", i+1)).Node
				return false
			}
			if fc := x.GetFuncCall(); fc != nil {
				_, name := funcName(fc)
				if !builtinAggregates[name] && !env.Rel.Aggregates[name] && fc.Over == nil {
					return true // a plain function: look at its arguments
				}
				if !partialAggs[name] || fc.AggDistinct || len(fc.AggOrder) > 0 || fc.AggFilter != nil || fc.Over != nil ||
					fc.AggWithinGroup || (fc.AggStar && name != "count") || (!fc.AggStar && len(fc.Args) != 1) {
					ok = false
					return false
				}
				a, err := partialFor(env, fc, name, r, &aggs, byKey, len(keys))
				if err != nil || a == nil {
					ok = false
					return false
				}
				x.Node = parseExpr(a.final).Node
				return false
			}
			if cr := x.GetColumnRef(); cr != nil {
				col, isCol := plainColumn(x, r)
				idx := -1
				for i, k := range keys {
					if isCol && k == col {
						idx = i
					}
				}
				if idx < 0 {
					ok = false
					return false
				}
				x.Node = parseExpr(fmt.Sprintf("g%d", idx+1)).Node
				return false
			}
			return true
		})
		if !ok {
			return nil
		}
		return c
	}
	final := &pg_query.SelectStmt{LimitOption: sel.LimitOption, Op: pg_query.SetOperation_SETOP_NONE,
		LimitCount: sel.LimitCount, LimitOffset: sel.LimitOffset}
	for _, t := range sel.TargetList {
		rt := t.GetResTarget()
		if rt == nil || rt.Val.GetColumnRef() != nil && hasStarRef(rt.Val.GetColumnRef()) {
			return nil, false, nil
		}
		v := rewrite(rt.Val)
		if v == nil {
			return nil, false, nil
		}
		name := rt.Name
		if name == "" {
			// Keep the output column's name as PostgreSQL would give it.
			name = outputName(rt.Val)
		}
		final.TargetList = append(final.TargetList, &pg_query.Node{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Name: name, Val: v}}})
	}
	if sel.HavingClause != nil {
		if final.HavingClause = rewrite(sel.HavingClause); final.HavingClause == nil {
			return nil, false, nil
		}
	}
	for _, sb := range sel.SortClause {
		by := proto.Clone(sb).(*pg_query.Node)
		s := by.GetSortBy()
		if s == nil {
			return nil, false, nil
		}
		if c := s.Node.GetAConst(); c != nil && c.GetIval() != nil {
			final.SortClause = append(final.SortClause, by) // a position in the output
			continue
		}
		if cr := s.Node.GetColumnRef(); cr != nil {
			names := columnRefNames(cr)
			if len(names) == 1 && isOutputName(final, names[0]) {
				final.SortClause = append(final.SortClause, by)
				continue
			}
		}
		if s.Node = rewrite(s.Node); s.Node == nil {
			return nil, false, nil
		}
		// Keys sort with their columns' collations.
		if cr := s.Node.GetColumnRef(); cr != nil {
			if i := keyIndex(columnRefNames(cr)); i >= 0 {
				if c, _ := r.table.Column(keys[i]); c >= 0 && r.table.Columns[c].Collation != "" {
					s.Node = parseExpr(fmt.Sprintf("g%d COLLATE %s", i+1, r.table.Columns[c].Collation))
				}
			}
		}
		final.SortClause = append(final.SortClause, by)
	}
	for i := range keys {
		final.GroupClause = append(final.GroupClause, parseExpr(fmt.Sprintf("g%d", i+1)))
	}
	// The datanodes' query.
	var cols []string
	in := GatherInput{Table: r.table.QualifiedName(), Nodes: r.nodes(), SQL: map[string]string{}}
	for i, k := range keys {
		in.Columns = append(in.Columns, fmt.Sprintf("g%d", i+1))
		if k == "" {
			cols = append(cols, fmt.Sprintf("%s AS g%d", keyExprs[i], i+1))
			in.Types = append(in.Types, "") // known once the rows come
			in.Collations = append(in.Collations, "")
			continue
		}
		cols = append(cols, fmt.Sprintf("%s.%s AS g%d", quoteIdent(r.alias), quoteIdent(k), i+1))
		ci, _ := r.table.Column(k)
		in.Types = append(in.Types, r.table.Columns[ci].Type)
		in.Collations = append(in.Collations, r.table.Columns[ci].Collation)
	}
	var groupBy []string
	for i := range keys {
		groupBy = append(groupBy, fmt.Sprintf("g%d", i+1))
	}
	for _, a := range aggs {
		for j, c := range a.cols {
			expr := aggPartialSQL(a, j)
			cols = append(cols, expr+" AS "+c)
			in.Columns = append(in.Columns, c)
			in.Types = append(in.Types, "") // known once the rows come
			in.Collations = append(in.Collations, "")
		}
	}
	if len(cols) == 0 {
		return nil, false, nil
	}
	remote := parseOne(fmt.Sprintf("SELECT %s FROM %s AS %s", strings.Join(cols, ", "), r.table.QualifiedName(), quoteIdent(r.alias)))
	rs := remote.GetSelectStmt()
	if !r.rv.Inh {
		rs.FromClause[0].GetRangeVar().Inh = false
	}
	withSample(r, rs)
	if len(pushed) > 0 {
		var cl []*pg_query.Node
		for _, p := range pushed {
			cl = append(cl, proto.Clone(p).(*pg_query.Node))
		}
		rs.WhereClause = andOf(cl)
	}
	for i := range groupBy {
		// By position: a table column named like the output would win over it.
		rs.GroupClause = append(rs.GroupClause, parseExpr(fmt.Sprint(i+1)))
	}
	sqls, err := perNodeSQL(remote, in.Nodes, env.NodeIDs())
	if err != nil {
		return nil, false, err
	}
	in.SQL = sqls
	// The final query reads the partial rows.
	var args, outs, names []string
	for i := range in.Columns {
		args = append(args, fmt.Sprintf("$%d::text[]", len(env.Params)+i+1))
		names = append(names, fmt.Sprintf("c%d", i+1))
		typ := in.Types[i]
		if typ == "" {
			typ = typeHole(0, i)
		}
		coll := ""
		if in.Collations[i] != "" {
			coll = " COLLATE " + in.Collations[i]
		}
		outs = append(outs, fmt.Sprintf("u.c%d::%s%s AS %s", i+1, typ, coll, in.Columns[i]))
	}
	sub := parseOne(fmt.Sprintf("SELECT * FROM (SELECT %s FROM unnest(%s) AS u(%s)) AS x",
		strings.Join(outs, ", "), strings.Join(args, ", "), strings.Join(names, ", ")))
	final.FromClause = sub.GetSelectStmt().FromClause
	sql, err := deparse(&pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: final}})
	if err != nil {
		return nil, false, nil
	}
	g := &GatherEval{Inputs: []GatherInput{in}, Node: env.Preferred(replNodes), ParamBase: len(env.Params)}
	own, err := deparse(stmt)
	if err != nil || !withTypeHoles(g, sql, own) {
		return nil, false, nil
	}
	return g, true, nil
}

// partialFor finds or makes the partial of an aggregate call.
func partialFor(env *Env, fc *pg_query.FuncCall, name string, r *relRef, aggs *[]*partialAgg, byKey map[string]*partialAgg, nkeys int) (*partialAgg, error) {
	key, err := deparseExprNode(&pg_query.Node{Node: &pg_query.Node_FuncCall{FuncCall: fc}})
	if err != nil {
		return nil, err
	}
	if a, ok := byKey[key]; ok {
		return a, nil
	}
	if !fc.AggStar && !readsOnly(fc.Args[0], r) {
		return nil, nil
	}
	n := len(*aggs)
	col0 := nkeys // the index of this partial's first column among the input's columns
	for _, o := range *aggs {
		col0 += len(o.cols)
	}
	a := &partialAgg{call: fc, key: key}
	p := fmt.Sprintf("p%d", n+1)
	switch name {
	case "count":
		a.cols = []string{p}
		a.final = fmt.Sprintf("CAST(coalesce(sum(%s), 0) AS bigint)", p)
	case "sum":
		a.cols = []string{p}
		// The partial's own type: sum(int4) is bigint, and so must be the total.
		a.final = fmt.Sprintf("CAST(sum(%s) AS %s)", p, typeHole(0, col0))
	case "min", "max":
		col, ok := plainColumn(fc.Args[0], r)
		if !ok {
			return nil, nil
		}
		ci, _ := r.table.Column(col)
		coll := ""
		if r.table.Columns[ci].Collation != "" {
			coll = " COLLATE " + r.table.Columns[ci].Collation
		}
		a.cols = []string{p}
		a.final = fmt.Sprintf("%s(%s%s)", name, p, coll)
	case "avg":
		col, ok := plainColumn(fc.Args[0], r)
		if !ok {
			return nil, nil
		}
		ci, _ := r.table.Column(col)
		div := ""
		switch distribution.NormalizeTypeName(r.table.Columns[ci].TypName) {
		case "int2", "int4", "int8", "numeric":
			div = "numeric"
		case "float4", "float8":
			div = "float8"
		default:
			return nil, nil
		}
		a.cols = []string{p, p + "n"}
		a.final = fmt.Sprintf("(CAST(sum(%s) AS %s) / CAST(NULLIF(sum(%sn), 0) AS %s))", p, div, p, div)
	case "bool_and", "every":
		a.cols = []string{p}
		a.final = fmt.Sprintf("bool_and(%s)", p)
	case "bool_or":
		a.cols = []string{p}
		a.final = fmt.Sprintf("bool_or(%s)", p)
	default:
		return nil, nil
	}
	*aggs = append(*aggs, a)
	byKey[key] = a
	return a, nil
}

// aggPartialSQL is the datanodes' expression for partial column j of a.
func aggPartialSQL(a *partialAgg, j int) string {
	_, name := funcName(a.call)
	arg := ""
	if len(a.call.Args) == 1 {
		arg, _ = deparseExprNode(a.call.Args[0])
	}
	switch name {
	case "count":
		if a.call.AggStar {
			return "count(*)"
		}
		return "count(" + arg + ")"
	case "avg":
		if j == 0 {
			return "sum(" + arg + ")"
		}
		return "count(" + arg + ")"
	case "every":
		return "bool_and(" + arg + ")"
	}
	return name + "(" + arg + ")"
}

func hasAggregate(env *Env, sel *pg_query.SelectStmt) bool {
	probe := &pg_query.SelectStmt{TargetList: sel.TargetList, Op: sel.Op}
	return needsMerge(env, probe) || sel.HavingClause != nil
}

// plainColumn tells whether an expression is a plain column of r.
func plainColumn(n *pg_query.Node, r *relRef) (string, bool) {
	cr := n.GetColumnRef()
	if cr == nil {
		return "", false
	}
	names := columnRefNames(cr)
	col := names[len(names)-1]
	if _, ok := r.table.Column(col); !ok || !r.refersTo(cr, col) {
		return "", false
	}
	return col, true
}

func hasStarRef(cr *pg_query.ColumnRef) bool {
	for _, f := range cr.Fields {
		if f.GetAStar() != nil {
			return true
		}
	}
	return false
}

func isOutputName(sel *pg_query.SelectStmt, name string) bool {
	for _, t := range sel.TargetList {
		if rt := t.GetResTarget(); rt != nil && rt.Name == name {
			return true
		}
	}
	return false
}

func keyIndex(names []string) int {
	if len(names) == 1 && strings.HasPrefix(names[0], "g") {
		var i int
		if _, err := fmt.Sscanf(names[0], "g%d", &i); err == nil {
			return i - 1
		}
	}
	return -1
}

// outputName is the name PostgreSQL gives an output column.
func outputName(n *pg_query.Node) string {
	switch {
	case n.GetColumnRef() != nil:
		names := columnRefNames(n.GetColumnRef())
		return names[len(names)-1]
	case n.GetFuncCall() != nil:
		_, name := funcName(n.GetFuncCall())
		return name
	case n.GetTypeCast() != nil:
		if name := outputName(n.GetTypeCast().Arg); name != "?column?" {
			return name
		}
		if tn := n.GetTypeCast().TypeName; tn != nil && len(tn.Names) > 0 {
			return strVal(tn.Names[len(tn.Names)-1])
		}
	case n.GetCaseExpr() != nil:
		return "case"
	case n.GetCoalesceExpr() != nil:
		return "coalesce"
	}
	return "?column?"
}

func parseExpr(sql string) *pg_query.Node {
	return parseOne("SELECT " + sql).GetSelectStmt().TargetList[0].GetResTarget().Val
}

func deparseExprNode(n *pg_query.Node) (string, error) {
	sel := &pg_query.SelectStmt{LimitOption: pg_query.LimitOption_LIMIT_OPTION_DEFAULT, Op: pg_query.SetOperation_SETOP_NONE,
		TargetList: []*pg_query.Node{{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Val: n}}}}}
	s, err := deparse(&pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: sel}})
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(s, "SELECT "), nil
}

// readsCollated tells whether an expression reads a column of r with a
// collation of its own.
func readsCollated(expr *pg_query.Node, r *relRef) bool {
	found := false
	walk(expr, func(m proto.Message) bool {
		if cr, ok := m.(*pg_query.ColumnRef); ok {
			names := columnRefNames(cr)
			if i, ok := r.table.Column(names[len(names)-1]); ok && r.table.Columns[i].Collation != "" {
				found = true
			}
		}
		return !found
	})
	return found
}
