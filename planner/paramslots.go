package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// Slot kinds: where a constant of a statement's text may become a
// parameter of the statement a datanode prepares, with the same meaning.
const (
	SlotInt    = 'i' // an integer: a parameter typed as the literal is (int4 or int8)
	SlotString = 's' // a string: a parameter of unspecified type, typed by its context as the literal is
)

// ParamSlots gives the locations (in the statement's text) of the
// constants that a datanode can take as parameters of a prepared statement
// without a change of meaning: integers that are operands of an operator, of
// IN or BETWEEN whose other operand is not a constant, values of INSERT ... VALUES or of UPDATE ... SET; and
// strings in those places when a column gives them their type (a column
// compared to them, the column they are inserted into or set to). A
// negative integer's location is that of its minus sign. Constants anywhere
// else (casts, type modifiers, select lists, ORDER BY positions, function
// arguments) are left out: their text stays in the statement.
func ParamSlots(stmt *pg_query.Node) map[int32]byte {
	slots := map[int32]byte{}
	add := func(n *pg_query.Node, strOK bool) {
		c := n.GetAConst()
		if c == nil || c.Isnull {
			return
		}
		switch {
		case c.GetIval() != nil:
			slots[c.Location] = SlotInt
		case c.GetSval() != nil && strOK:
			slots[c.Location] = SlotString
		}
	}
	isCol := func(n *pg_query.Node) bool { return n != nil && n.GetColumnRef() != nil }
	isConst := func(n *pg_query.Node) bool { return n != nil && n.GetAConst() != nil }
	allConst := func(n *pg_query.Node) bool { // a constant, or a list of constants only
		if l := n.GetList(); l != nil {
			for _, item := range l.Items {
				if !isConst(item) {
					return false
				}
			}
			return true
		}
		return isConst(n)
	}
	operands := func(n *pg_query.Node, strOK bool) {
		if l := n.GetList(); l != nil {
			for _, item := range l.Items {
				add(item, strOK)
			}
			return
		}
		add(n, strOK)
	}
	walk(stmt, func(m proto.Message) bool {
		switch x := m.(type) {
		case *pg_query.A_Expr:
			switch x.Kind {
			case pg_query.A_Expr_Kind_AEXPR_OP, pg_query.A_Expr_Kind_AEXPR_IN, pg_query.A_Expr_Kind_AEXPR_LIKE,
				pg_query.A_Expr_Kind_AEXPR_ILIKE, pg_query.A_Expr_Kind_AEXPR_BETWEEN, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN,
				pg_query.A_Expr_Kind_AEXPR_DISTINCT, pg_query.A_Expr_Kind_AEXPR_NOT_DISTINCT:
				// Constants on both sides (or under a prefix operator) make
				// a constant expression, which PostgreSQL folds when it plans
				// (a 1/0 fails there, with or without rows): they stay.
				if x.Lexpr == nil || isConst(x.Lexpr) && allConst(x.Rexpr) {
					break
				}
				// A string is typed by a column on the other side only.
				operands(x.Lexpr, isCol(x.Rexpr))
				operands(x.Rexpr, isCol(x.Lexpr))
			}
		case *pg_query.InsertStmt:
			if sel := x.SelectStmt.GetSelectStmt(); sel != nil {
				for _, row := range sel.ValuesLists {
					for _, v := range row.GetList().GetItems() {
						add(v, true)
					}
				}
			}
		case *pg_query.UpdateStmt:
			for _, t := range x.TargetList {
				if rt := t.GetResTarget(); rt != nil && len(rt.Indirection) == 0 {
					add(rt.Val, true)
				}
			}
		}
		return true
	})
	return slots
}
