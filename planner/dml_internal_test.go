package planner

import (
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

func valuesOf(t *testing.T, list string) []*pg_query.Node {
	t.Helper()
	tree, err := pg_query.Parse("INSERT INTO t VALUES (" + list + ")")
	if err != nil {
		t.Fatalf("parse %s: %v", list, err)
	}
	ins := tree.Stmts[0].Stmt.GetInsertStmt()
	return ins.SelectStmt.GetSelectStmt().ValuesLists[0].GetList().Items
}

func TestIsLiteralAndLiteralText(t *testing.T) {
	tests := []struct {
		expr     string
		constant bool
		ok       bool // constOf knows its text
		text     string
		isNull   bool
	}{
		{"1", true, true, "1", false},
		{"-42", true, true, "-42", false},
		{"'abc'", true, true, "abc", false},
		{"''", true, true, "", false},
		{"'it''s'", true, true, "it's", false},
		{"E'a\\nb'", true, true, "a\nb", false},
		{"NULL", true, true, "", true},
		{"true", true, true, "true", false},
		{"false", true, true, "false", false},
		{"1.5", true, false, "", false},
		{"1e3", true, false, "", false},
		{"99999999999", true, false, "", false},
		{"B'101'", true, false, "", false},
		{"DEFAULT", true, false, "", false},
		{"'5'::int", true, false, "", false},
		{"CAST('x' AS text)", true, false, "", false},
		{"now()", false, false, "", false},
		{"nextval('s')", false, false, "", false},
		{"1 + 1", false, false, "", false},
		{"(1)", true, true, "1", false},
		{"ARRAY[1]", false, false, "", false},
		{"random()::int", false, false, "", false},
		{"'a'::text::varchar", false, false, "", false},
		{"$1", false, false, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			n := valuesOf(t, tc.expr)[0]
			if got := isLiteral(n); got != tc.constant {
				t.Errorf("isLiteral(%s) = %v; want %v", tc.expr, got, tc.constant)
			}
			text, isNull, ok := literalText(n)
			if text != tc.text || isNull != tc.isNull || ok != tc.ok {
				t.Errorf("literalText(%s) = %q, %v, %v; want %q, %v, %v", tc.expr, text, isNull, ok, tc.text, tc.isNull, tc.ok)
			}
		})
	}
}

// TestTimeLiteralsAreNotLiterals: a replicated table's row must hold the same
// value on every datanode, but each datanode reads these literals at its
// own transaction's start (or its own clock), so they are not constants.
func TestTimeLiteralsAreNotLiterals(t *testing.T) {
	for _, expr := range []string{"'now'::timestamptz", "'now'::timestamp", "CAST('now' AS time)"} {
		if isLiteral(valuesOf(t, expr)[0]) {
			t.Errorf("isLiteral(%s) = true; its value differs between datanodes", expr)
		}
	}
}
