package dialect

import (
	"reflect"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		sql  string
		want []string
	}{
		{`SELECT 1`, []string{`SELECT 1`}},
		{`SELECT 1;`, []string{`SELECT 1`}},
		{`SELECT 1; SELECT 2`, []string{`SELECT 1`, `SELECT 2`}},
		{`SELECT ';'; SELECT 2;`, []string{`SELECT ';'`, `SELECT 2`}},
		{`SELECT $$a;b$$; SELECT $x$;$x$`, []string{`SELECT $$a;b$$`, `SELECT $x$;$x$`}},
		{"SELECT 1 /* ; */; -- ;\nSELECT 2", []string{`SELECT 1 /* ; */`, "-- ;\nSELECT 2"}},
		{`SELECT "a;b" FROM t; SELECT E'\';'`, []string{`SELECT "a;b" FROM t`, `SELECT E'\';'`}},
		{`EXECUTE DIRECT ON (dn1) 'SELECT 1; SELECT 2'; CREATE NODE n WITH (PORT = 1)`,
			[]string{`EXECUTE DIRECT ON (dn1) 'SELECT 1; SELECT 2'`, `CREATE NODE n WITH (PORT = 1)`}},
		{`;;  ; SELECT 1;;`, []string{`SELECT 1`}},
		{`/* only a comment */`, nil},
		{`   `, nil},
		{``, nil},
		{`CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$; SELECT f()`,
			[]string{`CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$`, `SELECT f()`}},
	}
	for _, tc := range tests {
		t.Run(tc.sql, func(t *testing.T) {
			got, err := SplitStatements(tc.sql)
			if err != nil {
				t.Fatalf("SplitStatements(%q): %v", tc.sql, err)
			}
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("SplitStatements(%q)\n got  %q\n want %q", tc.sql, got, tc.want)
			}
		})
	}
	if _, err := SplitStatements(`SELECT 'abc`); err == nil {
		t.Error("SplitStatements of an unterminated string succeeded")
	} else {
		pe := pgErr(t, `SELECT 'abc`, err)
		if pe.Code != "42601" || pe.Position != 8 {
			t.Errorf("got %s at %d", pe.Code, pe.Position)
		}
	}
}

func TestQuoteIdent(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc", "abc"},
		{"_a1", "_a1"},
		{"a_1$", `"a_1$"`},
		{"Abc", `"Abc"`},
		{"1abc", `"1abc"`},
		{"", `""`},
		{"a b", `"a b"`},
		{`a"b`, `"a""b"`},
		{"é", `"é"`},
		{"select", `"select"`}, // reserved
		{"int", `"int"`},       // column-name keyword
		{"left", `"left"`},     // type/function-name keyword
		{"data", "data"},       // unreserved keyword
		{"node", "node"},
		{"type", "type"},
	}
	for _, tc := range tests {
		if got := QuoteIdent(tc.in); got != tc.want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	// Every quoted result reads back as the same identifier.
	for _, tc := range tests {
		if tc.in == "" {
			continue
		}
		st, err := Parse("DROP NODE " + QuoteIdent(tc.in))
		if err != nil {
			t.Errorf("DROP NODE %s: %v", QuoteIdent(tc.in), err)
			continue
		}
		if got := st.(*DropNode).Name; got != tc.in {
			t.Errorf("round trip of %q gave %q", tc.in, got)
		}
	}
}

func TestQuoteLiteral(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc", "'abc'"},
		{"", "''"},
		{"it's", "'it''s'"},
		{`a\b`, `'a\b'`},
		{"''", "''''''"},
		{"é\n", "'é\n'"},
	}
	for _, tc := range tests {
		if got := QuoteLiteral(tc.in); got != tc.want {
			t.Errorf("QuoteLiteral(%q) = %s, want %s", tc.in, got, tc.want)
		}
		// PostgreSQL reads the quoted literal back as the original string.
		tree, err := pg_query.Parse("SELECT " + QuoteLiteral(tc.in))
		if err != nil {
			t.Fatalf("parse %s: %v", QuoteLiteral(tc.in), err)
		}
		got := tree.Stmts[0].Stmt.GetSelectStmt().TargetList[0].GetResTarget().Val.GetAConst().GetSval().GetSval()
		if got != tc.in {
			t.Errorf("QuoteLiteral(%q) reads back as %q", tc.in, got)
		}
	}
}
