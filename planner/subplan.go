package planner

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/xlgo/xlgo/pgerr"
	"google.golang.org/protobuf/proto"
)

// SubPlan is an init-plan: an uncorrelated subquery of the statement's
// WHERE clause (a scalar subquery, or the list of an IN) is run first, and
// its value, made a constant, replaces it in the statement, which is then
// planned like any other (often pinned to nodes, or pushed down whole).
type SubPlan struct {
	Sub Plan
	// In: the subquery is the list of `Test IN (subquery)`; else a scalar.
	In   bool
	env  *Env
	stmt *pg_query.Node // the statement, the subquery replaced by a marker
	Text string         // the statement as EXPLAIN shows it
}

const subPlanMarker = "xlgo_subplan_value"

// maxInList is the most values an IN subquery's result is written as a
// list of constants (which pins the statement to the values' nodes); more
// make an array.
const maxInList = 1000

func (s *SubPlan) explain(b *strings.Builder, depth int) {
	line(b, depth, "SubPlan: the statement runs with the subquery's value")
	detail(b, depth, "Statement: %s", s.Text)
	s.Sub.explain(b, depth+1)
	// The statement's plan depends on the value (the nodes it pins); its
	// shape is shown for an empty one. EXPLAIN ANALYZE shows the real one.
	if main, err := s.Replan("text", nil); err == nil {
		line(b, depth+1, "Statement plan (for no value; EXPLAIN ANALYZE plans it with the value)")
		main.explain(b, depth+2)
	}
}

// Replan plans the statement with the subquery's value: typ is its type's
// SQL name, values its rows' values (text; nil is NULL). A scalar subquery
// gives at most one row.
func (s *SubPlan) Replan(typ string, values [][]byte) (Plan, error) {
	var lit *pg_query.Node
	if s.In {
		lit = parseExpr(fmt.Sprintf("CAST(%s AS %s[])", quoteLiteral(ArrayLiteral(values)), typ))
	} else {
		switch len(values) {
		case 0:
			lit = parseExpr(fmt.Sprintf("CAST(NULL AS %s)", typ))
		case 1:
			if values[0] == nil {
				lit = parseExpr(fmt.Sprintf("CAST(NULL AS %s)", typ))
			} else {
				lit = parseExpr(fmt.Sprintf("CAST(%s AS %s)", quoteLiteral(string(values[0])), typ))
			}
		default:
			return nil, pgerr.New(pgerr.CardinalityViolation, "more than one row returned by a subquery used as an expression")
		}
	}
	stmt := proto.Clone(s.stmt).(*pg_query.Node)
	walk(stmt, func(m proto.Message) bool {
		n, ok := m.(*pg_query.Node)
		if !ok {
			return true
		}
		if a := n.GetAExpr(); a != nil && s.In {
			if cr := a.Rexpr.GetColumnRef(); cr != nil && isMarker(cr) {
				if len(values) == 0 || len(values) > maxInList {
					a.Rexpr = lit
					return false
				}
				// A list of constants: the distribution column's values
				// pin the statement to their nodes.
				items := make([]*pg_query.Node, len(values))
				for i, v := range values {
					if v == nil {
						items[i] = parseExpr(fmt.Sprintf("CAST(NULL AS %s)", typ))
					} else {
						items[i] = parseExpr(fmt.Sprintf("CAST(%s AS %s)", quoteLiteral(string(v)), typ))
					}
				}
				n.Node = &pg_query.Node_AExpr{AExpr: &pg_query.A_Expr{Kind: pg_query.A_Expr_Kind_AEXPR_IN, Name: a.Name, Lexpr: a.Lexpr,
					Rexpr: &pg_query.Node{Node: &pg_query.Node_List{List: &pg_query.List{Items: items}}}}}
				return false
			}
		}
		if cr := n.GetColumnRef(); cr != nil && isMarker(cr) {
			n.Node = lit.Node
			return false
		}
		return true
	})
	return PlanSelect(s.env, stmt)
}

func isMarker(cr *pg_query.ColumnRef) bool {
	names := columnRefNames(cr)
	return len(names) == 1 && names[0] == subPlanMarker
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
	c := proto.Clone(stmt).(*pg_query.Node)
	// The same SubLink in the copy: mark it.
	marker := parseExpr(subPlanMarker)
	var replace func(m proto.Message) bool
	done := false
	replace = func(m proto.Message) bool {
		n, ok := m.(*pg_query.Node)
		if !ok || done {
			return !done
		}
		if x := n.GetSubLink(); x != nil && proto.Equal(x, sl) {
			if in {
				n.Node = &pg_query.Node_AExpr{AExpr: &pg_query.A_Expr{Kind: pg_query.A_Expr_Kind_AEXPR_OP_ANY,
					Name:  []*pg_query.Node{{Node: &pg_query.Node_String_{String_: &pg_query.String{Sval: "="}}}},
					Lexpr: x.Testexpr, Rexpr: marker}}
			} else {
				n.Node = marker.Node
			}
			done = true
			return false
		}
		return true
	}
	walk(c.GetSelectStmt().WhereClause, replace)
	if !done {
		return nil, false, nil
	}
	text, err := deparse(c)
	if err != nil {
		return nil, false, nil
	}
	return &SubPlan{Sub: subPlan, In: in, env: env.withoutSQL(), stmt: c,
		Text: strings.Replace(text, subPlanMarker, "$subplan", 1)}, true, nil
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
