package planner

import (
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/distribution"
)

// SubPlan is an init-plan: an uncorrelated subquery of the statement's
// WHERE clause (a scalar subquery, or the list of an IN) is run first, and
// the statement, planned once with the subquery replaced by the parameter
// $Param, runs with its value: a scalar's one value (NULL for no row), or
// an IN's values as an array compared with = ANY ($Param).
type SubPlan struct {
	Sub Plan
	// In: the subquery is the list of `Test IN (subquery)`; else a scalar.
	In bool
	// Param is the number of the parameter Main reads the value as: the one
	// after the statement's own parameters.
	Param int
	// Main is the statement's plan. Where it reads one table's rows of the
	// value (a scalar compared with the distribution column) it is planned
	// for one node, and its RemoteQuery's Route (Param: this Param) says
	// which: the node of the value. A RemoteQuery of an IN with such a Route
	// runs on the nodes of the values only.
	Main Plan
	Text string // the statement as EXPLAIN shows it
	// Params and ParamOIDs are the statement's own parameters: Sub and Main
	// are sent them, Main followed by the value.
	Params    [][]byte
	ParamOIDs []uint32
}

func (s *SubPlan) explain(b *strings.Builder, depth int) {
	line(b, depth, "SubPlan: the statement runs with the subquery's value as $%d", s.Param)
	detail(b, depth, "Statement: %s", s.Text)
	s.Sub.explain(b, depth+1)
	switch rq, ok := s.Main.(*RemoteQuery); {
	case ok && rq.Route != nil && rq.Route.Param == s.Param && s.In:
		line(b, depth+1, "Statement plan, run on the nodes of the values")
	case ok && rq.Route != nil && rq.Route.Param == s.Param:
		line(b, depth+1, "Statement plan, run on the node of the value")
	default:
		line(b, depth+1, "Statement plan")
	}
	s.Main.explain(b, depth+2)
}

// ArrayLiteral is the text of an array of text values (nil is NULL), as
// array_in reads it.
func ArrayLiteral(vals [][]byte) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		if v == nil {
			b.WriteString("NULL")
			continue
		}
		b.WriteByte('"')
		for _, ch := range v {
			if ch == '"' || ch == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(ch)
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// planSubPlan finds, among the AND terms of the top level's WHERE clause,
// an uncorrelated subquery `(SELECT one column ...)` or `x [NOT] IN
// (SELECT one column ...)` and plans it as a SubPlan.
func planSubPlan(env *Env, stmt *pg_query.Node) (Plan, bool, error) {
	sel := stmt.GetSelectStmt()
	if sel == nil || sel.WhereClause == nil || sel.Op != pg_query.SetOperation_SETOP_NONE || len(sel.LockingClause) > 0 {
		return nil, false, nil
	}
	if env.inSubPlan {
		return nil, false, nil // one value a statement: a second subquery stays in its SQL
	}
	var found *pg_query.Node // the Node holding the SubLink
	var in bool
	var check func(n *pg_query.Node) bool
	check = func(n *pg_query.Node) bool {
		if b := n.GetBoolExpr(); b != nil && b.Boolop == pg_query.BoolExprType_NOT_EXPR && len(b.Args) == 1 {
			return check(b.Args[0])
		}
		if a := n.GetAExpr(); a != nil && a.Kind == pg_query.A_Expr_Kind_AEXPR_OP {
			for _, side := range []*pg_query.Node{a.Lexpr, a.Rexpr} {
				if side != nil && side.GetSubLink() != nil && check(side) {
					return true
				}
			}
			return false
		}
		sl := n.GetSubLink()
		if sl == nil {
			return false
		}
		switch sl.SubLinkType {
		case pg_query.SubLinkType_EXPR_SUBLINK:
		case pg_query.SubLinkType_ANY_SUBLINK:
			if len(sl.OperName) > 0 && (len(sl.OperName) != 1 || strVal(sl.OperName[0]) != "=") ||
				sl.Testexpr == nil || sl.Testexpr.GetRowExpr() != nil || sl.Testexpr.GetSubLink() != nil {
				return false
			}
		default:
			return false
		}
		sub := sl.Subselect.GetSelectStmt()
		if sub == nil || len(sub.TargetList) != 1 || !uncorrelated(env, sub) {
			return false
		}
		rt := sub.TargetList[0].GetResTarget()
		if rt == nil || rt.Val.GetColumnRef() != nil && hasStarRef(rt.Val.GetColumnRef()) || rt.Val.GetRowExpr() != nil ||
			collated(env, sub, rt.Val) {
			return false
		}
		found, in = n, sl.SubLinkType == pg_query.SubLinkType_ANY_SUBLINK
		return true
	}
	for _, t := range conjuncts(sel.WhereClause) {
		if check(t) {
			break
		}
	}
	if found == nil {
		return nil, false, nil
	}
	sl := found.GetSubLink()
	subPlan, err := PlanSelect(env.withoutSQL(), sl.Subselect)
	if err != nil {
		return nil, false, err
	}
	k := len(env.Params) + 1
	c := proto.Clone(stmt).(*pg_query.Node)
	// The same SubLink in the copy: the parameter replaces it.
	param := &pg_query.Node{Node: &pg_query.Node_ParamRef{ParamRef: &pg_query.ParamRef{Number: int32(k), Location: -1}}}
	var test *pg_query.Node
	done := false
	walk(c.GetSelectStmt().WhereClause, func(m proto.Message) bool {
		n, ok := m.(*pg_query.Node)
		if !ok || done {
			return !done
		}
		if x := n.GetSubLink(); x != nil && proto.Equal(x, sl) {
			if in {
				test = x.Testexpr
				n.Node = &pg_query.Node_AExpr{AExpr: &pg_query.A_Expr{Kind: pg_query.A_Expr_Kind_AEXPR_OP_ANY,
					Name:  []*pg_query.Node{{Node: &pg_query.Node_String_{String_: &pg_query.String{Sval: "="}}}},
					Lexpr: x.Testexpr, Rexpr: param, Location: -1}}
			} else {
				n.Node = param.Node
			}
			done = true
			return false
		}
		return true
	})
	if !done {
		return nil, false, nil
	}
	text, err := deparse(c)
	if err != nil {
		return nil, false, nil
	}
	menv := env.withoutSQL()
	menv.inSubPlan = true
	menv.Params = append(slices.Clone(env.Params), Param{})
	// The value's type, when the subquery's column tells it: with the
	// distribution column's family, the value names the node of the rows.
	typ := ""
	if !strings.Contains(strings.ToLower(text), "xc_node_id") && rangeVars(c) == 1 {
		typ = valueType(env, sl.Subselect.GetSelectStmt())
	}
	var main Plan
	if typ != "" && !in {
		menv.Params[k-1] = Param{Type: typ, Deferred: true}
		main, err = PlanSelect(menv, c)
		if err != nil {
			return nil, false, err
		}
		if rq, ok := main.(*RemoteQuery); !ok || len(rq.Nodes) != 1 || rq.Route == nil || rq.Route.Param != k {
			main = nil
		}
		menv.Params[k-1] = Param{}
	}
	if main == nil {
		if main, err = PlanSelect(menv, c); err != nil {
			return nil, false, err
		}
	}
	if !paramUseOK(main, len(env.Params) > 0) {
		return nil, false, nil
	}
	if rq, ok := main.(*RemoteQuery); ok && in && typ != "" && !rq.Write && !rq.Replicated && len(rq.Nodes) > 1 {
		// Rows of an IN's values are on those values' nodes only.
		if t := pinnableTable(env, c, test, typ); t != nil && slices.Equal(rq.Nodes, t.Locator.Nodes) {
			rq.Route = &Route{Table: t, ConstAt: -1, Param: k}
		}
	}
	return &SubPlan{Sub: subPlan, In: in, Param: k, Main: main,
		Text: strings.Replace(text, fmt.Sprintf("$%d", k), "$subplan", 1)}, true, nil
}

// rangeVars counts the relations a statement names.
func rangeVars(stmt *pg_query.Node) int {
	n := 0
	walk(stmt, func(m proto.Message) bool {
		if _, ok := m.(*pg_query.RangeVar); ok {
			n++
		}
		return true
	})
	return n
}

// valueType is the type of a subquery's one column when it is a column of
// one of its tables, or max or min of one: "" when not known.
func valueType(env *Env, sub *pg_query.SelectStmt) string {
	if sub == nil || len(sub.TargetList) != 1 || len(sub.GroupClause) > 0 {
		return ""
	}
	v := sub.TargetList[0].GetResTarget().GetVal()
	if fc := v.GetFuncCall(); fc != nil {
		schema, name := funcName(fc)
		if schema != "" && schema != "pg_catalog" || name != "max" && name != "min" || len(fc.Args) != 1 || fc.Over != nil {
			return ""
		}
		v = fc.Args[0]
	}
	cr := v.GetColumnRef()
	if cr == nil || hasStarRef(cr) {
		return ""
	}
	names := columnRefNames(cr)
	typ := ""
	walk(sub, func(m proto.Message) bool {
		rv, ok := m.(*pg_query.RangeVar)
		if !ok {
			return true
		}
		if len(names) == 2 && aliasOf(rv) != names[0] {
			return true
		}
		if t, _ := env.Rel.Resolve(rv.Schemaname, rv.Relname, env.SearchPath); t != nil {
			if i, ok := t.Column(names[len(names)-1]); ok {
				typ = t.Columns[i].TypName
			}
		}
		return true
	})
	return typ
}

// pinnableTable is the hash or modulo table that test, the left side of an
// IN, is the distribution column of, when values of type typ name that
// column's nodes.
func pinnableTable(env *Env, stmt *pg_query.Node, test *pg_query.Node, typ string) *catalog.Table {
	cr := test.GetColumnRef()
	refs, err := collectRefs(env, stmt)
	if cr == nil || err != nil || len(refs) != 1 || !refs[0].distributed() {
		return nil
	}
	r := refs[0]
	loc := &r.table.Locator
	if loc.Kind != distribution.Hash && loc.Kind != distribution.Modulo || r.table.DistCol < 0 ||
		!r.refersTo(cr, loc.Column) || !deferredPin(typ, loc.TypeName) {
		return nil
	}
	// The IN must be a term of the WHERE clause's top level AND.
	for _, t := range conjuncts(stmt.GetSelectStmt().WhereClause) {
		if a := t.GetAExpr(); a != nil && a.Lexpr == test {
			return r.table
		}
	}
	return nil
}

// deferredPin tells whether a value of type typ, known at run time, names
// the node of a column of type col's rows: the same family of types, among
// those whose text the executor canonicalises whatever the session's
// settings (a date's text follows DateStyle).
func deferredPin(typ, col string) bool {
	switch f := typeFamily(col); f {
	case "int", "text", "numeric", "uuid", "bool":
		return typeFamily(typ) == f
	}
	return false
}

// paramUseOK tells whether every SQL of a plan that reads the value can
// be sent it: remote queries and scans are sent parameters, and so is a
// Coordinator Evaluate's final query (the value before the pulled arrays)
// when the statement has no parameters of its own; the statements pulling
// its rows are not.
func paramUseOK(p Plan, clientParams bool) bool {
	ok := true
	WalkPlan(p, func(x Plan) {
		if g, isGather := x.(*GatherEval); isGather {
			if clientParams {
				ok = false
			}
			for _, in := range g.Inputs {
				for _, sql := range in.SQL {
					if readsParam(sql) {
						ok = false
					}
				}
			}
		}
	})
	return ok
}

// readsParam tells whether SQL reads a parameter.
func readsParam(sql string) bool {
	if !strings.Contains(sql, "$") {
		return false
	}
	found := false
	walk(parseOne(sql), func(m proto.Message) bool {
		if _, ok := m.(*pg_query.ParamRef); ok {
			found = true
		}
		return !found
	})
	return found
}

// uncorrelated tells whether a subquery reads nothing of the query around
// it: every column it names is a column of a table of its own FROM (tables
// of the catalog, plain or joined), and it holds no subquery of its own.
func uncorrelated(env *Env, sub *pg_query.SelectStmt) bool {
	if sub.Op != pg_query.SetOperation_SETOP_NONE || sub.WithClause != nil || len(sub.FromClause) == 0 {
		return false
	}
	type tab struct {
		alias string
		cols  map[string]bool
	}
	var tabs []tab
	ok := true
	var from func(n *pg_query.Node)
	from = func(n *pg_query.Node) {
		switch {
		case n.GetRangeVar() != nil:
			rv := n.GetRangeVar()
			t, _ := env.Rel.Resolve(rv.Schemaname, rv.Relname, env.SearchPath)
			if t == nil {
				ok = false
				return
			}
			cols := map[string]bool{}
			for _, c := range t.Columns {
				cols[c.Name] = true
			}
			tabs = append(tabs, tab{aliasOf(rv), cols})
		case n.GetJoinExpr() != nil:
			j := n.GetJoinExpr()
			if j.IsNatural || len(j.UsingClause) > 0 || j.Alias != nil {
				ok = false
				return
			}
			from(j.Larg)
			from(j.Rarg)
		default:
			ok = false
		}
	}
	for _, f := range sub.FromClause {
		from(f)
	}
	if !ok {
		return false
	}
	walk(sub, func(m proto.Message) bool {
		switch x := m.(type) {
		case *pg_query.SubLink, *pg_query.RangeSubselect, *pg_query.RangeFunction:
			ok = false
		case *pg_query.ColumnRef:
			names := columnRefNames(x)
			switch {
			case hasStarRef(x):
				ok = false
			case len(names) == 1:
				n := 0
				for _, t := range tabs {
					if t.cols[names[0]] {
						n++
					}
				}
				ok = n == 1
			case len(names) == 2:
				n := 0
				for _, t := range tabs {
					if t.alias == names[0] && t.cols[names[1]] {
						n++
					}
				}
				ok = n == 1
			default:
				ok = false
			}
		}
		return ok
	})
	return ok
}

// collated tells whether a subquery's value may carry a collation of its
// own (a COLLATE, or a column of a collation other than its type's
// default): a constant in its place would lose it.
func collated(env *Env, sub *pg_query.SelectStmt, expr *pg_query.Node) bool {
	found := false
	walk(expr, func(m proto.Message) bool {
		switch x := m.(type) {
		case *pg_query.CollateClause:
			found = true
		case *pg_query.ColumnRef:
			names := columnRefNames(x)
			walk(sub, func(m proto.Message) bool {
				if rv, ok := m.(*pg_query.RangeVar); ok {
					if t, _ := env.Rel.Resolve(rv.Schemaname, rv.Relname, env.SearchPath); t != nil {
						if i, ok := t.Column(names[len(names)-1]); ok && t.Columns[i].Collation != "" {
							found = true
						}
					}
				}
				return !found
			})
		}
		return !found
	})
	return found
}
