package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// SQL sent to a datanode is generated code: pg_query's deparser prints an
// operand without the parentheses it needs in some places, so that
// `(NOT vip) IS NULL` comes out as `NOT vip IS NULL`, which PostgreSQL reads
// as `NOT (vip IS NULL)`. Before a tree is deparsed, every composite operand
// in such a place is wrapped in a one-element implicit RowExpr, which the
// deparser prints as `(operand)` and the parser reads back as the operand
// itself: the same tree, so the same meaning (TestDeparseRoundTrip).

// guardOperands returns stmt, or a copy of it whose operands are guarded
// when some need it; stmt itself is never changed (plans may share it).
func guardOperands(stmt *pg_query.Node) *pg_query.Node {
	need := false
	walk(stmt, func(m proto.Message) bool {
		if !need {
			guardOperandsOf(m, func(*pg_query.Node) bool { need = true; return false })
		}
		return !need
	})
	if !need {
		return stmt
	}
	stmt = proto.Clone(stmt).(*pg_query.Node)
	walk(stmt, func(m proto.Message) bool {
		guardOperandsOf(m, func(n *pg_query.Node) bool {
			n.Node = &pg_query.Node_RowExpr{RowExpr: &pg_query.RowExpr{
				Args:      []*pg_query.Node{{Node: n.Node}},
				RowFormat: pg_query.CoercionForm_COERCE_IMPLICIT_CAST,
			}}
			return true
		})
		return true
	})
	return stmt
}

// guardOperandsOf calls guard on each operand of m that must be printed in
// parentheses and that the deparser would print without them.
func guardOperandsOf(m proto.Message, guard func(*pg_query.Node) bool) {
	check := func(n *pg_query.Node, deparserParens bool) {
		if n != nil && composite(n) && !(deparserParens && parensAsBExpr(n)) {
			guard(n)
		}
	}
	switch x := m.(type) {
	case *pg_query.NullTest:
		check(x.Arg, false)
	case *pg_query.BooleanTest:
		// The deparser brackets a BoolExpr only.
		if x.Arg.GetBoolExpr() == nil {
			check(x.Arg, false)
		}
	case *pg_query.A_Expr:
		switch x.Kind {
		case pg_query.A_Expr_Kind_AEXPR_OP, pg_query.A_Expr_Kind_AEXPR_DISTINCT:
			check(x.Lexpr, true)
			check(x.Rexpr, true)
		case pg_query.A_Expr_Kind_AEXPR_OP_ANY, pg_query.A_Expr_Kind_AEXPR_OP_ALL, pg_query.A_Expr_Kind_AEXPR_IN:
			check(x.Lexpr, false) // the right side is printed in brackets
		case pg_query.A_Expr_Kind_AEXPR_SIMILAR:
			check(x.Lexpr, false)
			if fc := x.Rexpr.GetFuncCall(); fc != nil {
				for _, a := range fc.Args {
					check(a, false)
				}
			}
		case pg_query.A_Expr_Kind_AEXPR_BETWEEN, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN,
			pg_query.A_Expr_Kind_AEXPR_BETWEEN_SYM, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
			check(x.Lexpr, false)
			if l := x.Rexpr.GetList(); l != nil {
				for _, b := range l.Items {
					check(b, false)
				}
			}
		case pg_query.A_Expr_Kind_AEXPR_NULLIF:
			// NULLIF(a, b): a function's arguments.
		default:
			check(x.Lexpr, false)
			if x.Rexpr.GetList() == nil {
				check(x.Rexpr, false)
			}
		}
	case *pg_query.TypeCast:
		check(x.Arg, true)
	case *pg_query.CollateClause:
		check(x.Arg, false)
	case *pg_query.SubLink:
		check(x.Testexpr, false) // x op ANY (...), x IN (...)
	case *pg_query.FuncCall:
		if infixSQLFunction(x) {
			for _, a := range x.Args {
				check(a, false)
			}
		}
	case *pg_query.A_Indirection:
		// The deparser brackets some arguments of a subscript or a field
		// selection; every other one but a column or a parameter needs them.
		switch a := x.Arg.GetNode().(type) {
		case *pg_query.Node_ColumnRef, *pg_query.Node_ParamRef, *pg_query.Node_AExpr, *pg_query.Node_FuncCall,
			*pg_query.Node_TypeCast, *pg_query.Node_RowExpr, *pg_query.Node_AArrayExpr, *pg_query.Node_AIndirection,
			*pg_query.Node_JsonFuncExpr:
		case *pg_query.Node_SubLink:
			if a.SubLink.SubLinkType != pg_query.SubLinkType_EXPR_SUBLINK {
				guard(x.Arg)
			}
		default:
			if x.Arg != nil {
				guard(x.Arg)
			}
		}
	case *pg_query.JsonIsPredicate:
		check(x.Expr, false)
	}
}

// composite reports whether n is an expression built with an operator or a
// keyword that binds looser than a primary expression.
func composite(n *pg_query.Node) bool {
	switch x := n.Node.(type) {
	case *pg_query.Node_BoolExpr, *pg_query.Node_AExpr, *pg_query.Node_NullTest, *pg_query.Node_BooleanTest,
		*pg_query.Node_CollateClause, *pg_query.Node_JsonIsPredicate:
		return true
	case *pg_query.Node_FuncCall:
		return infixSQLFunction(x.FuncCall)
	case *pg_query.Node_SubLink:
		switch x.SubLink.SubLinkType {
		case pg_query.SubLinkType_ANY_SUBLINK, pg_query.SubLinkType_ALL_SUBLINK, pg_query.SubLinkType_ROWCOMPARE_SUBLINK:
			return true
		}
	}
	return false
}

// parensAsBExpr reports whether the deparser brackets n itself where it
// brackets operands (its needsParensAsBExpr).
func parensAsBExpr(n *pg_query.Node) bool {
	switch n.Node.(type) {
	case *pg_query.Node_BoolExpr, *pg_query.Node_BooleanTest, *pg_query.Node_NullTest, *pg_query.Node_AExpr:
		return true
	}
	return false
}

// infixSQLFunction reports whether fc is written with SQL syntax around its
// arguments rather than in a call's brackets: x AT TIME ZONE z, x AT LOCAL,
// x IS NORMALIZED, (a, b) OVERLAPS (c, d).
func infixSQLFunction(fc *pg_query.FuncCall) bool {
	if fc.Funcformat != pg_query.CoercionForm_COERCE_SQL_SYNTAX || len(fc.Funcname) != 2 {
		return false
	}
	switch strVal(fc.Funcname[1]) {
	case "timezone", "is_normalized", "overlaps":
		return true
	}
	return false
}
