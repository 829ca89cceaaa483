package dialect

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// deepShapes nest one level per repetition, n times.
var deepShapes = map[string]func(n int) string{
	"plus":   func(n int) string { return "SELECT 1" + strings.Repeat("+1", n) },
	"cast":   func(n int) string { return "SELECT 1" + strings.Repeat("::int", n) },
	"concat": func(n int) string { return "SELECT 'a'" + strings.Repeat("||'a'", n) },
	"isnull": func(n int) string { return "SELECT 1" + strings.Repeat(" IS NULL", n) },
	"not":    func(n int) string { return "SELECT " + strings.Repeat("NOT ", n) + "true" },
	"minus":  func(n int) string { return "SELECT " + strings.Repeat("- ", n) + "1" },
	"union":  func(n int) string { return "SELECT 1" + strings.Repeat(" UNION SELECT 1", n) },
	"join":   func(n int) string { return "SELECT 1 FROM t0" + strings.Repeat(" JOIN t ON true", n) },
	"parens": func(n int) string { return "SELECT " + strings.Repeat("(", n) + "1" + strings.Repeat(")", n) },
	"sub":    func(n int) string { return strings.Repeat("SELECT (", n) + "1" + strings.Repeat(")", n) },
	"func":   func(n int) string { return "SELECT " + strings.Repeat("f(", n) + "1" + strings.Repeat(")", n) },
	"array":  func(n int) string { return "SELECT " + strings.Repeat("ARRAY[", n) + "1" + strings.Repeat("]", n) },
	"case": func(n int) string {
		return "SELECT " + strings.Repeat("CASE WHEN true THEN ", n) + "1" + strings.Repeat(" END", n)
	},
	"in": func(n int) string { return "SELECT 1" + strings.Repeat(" IN (1)", n) },
	"and": func(n int) string {
		return "SELECT " + strings.Repeat("(true AND ", n) + "true" + strings.Repeat(")", n)
	},
}

// TestDeepNestingRefused: a statement nested past MaxNesting is refused with
// PostgreSQL's 54001 before PostgreSQL's parser (which would overflow the
// coordinator's stack on it) sees it; one just under it parses and deparses.
func TestDeepNestingRefused(t *testing.T) {
	for name, shape := range deepShapes {
		t.Run(name, func(t *testing.T) {
			for _, n := range []int{MaxNesting + 1, 10 * MaxNesting} {
				sql := shape(n)
				// Every Query and Parse message's text is split first; a
				// statement the dialect parser lexes is checked there too.
				for i, try := range []func() error{
					func() error { _, err := SplitStatements(sql); return err },
					func() error { _, err := SplitStatements("/* x */ " + sql + "; SELECT 2"); return err },
					func() error { _, err := Parse("CREATE TABLE t AS " + sql); return err },
				} {
					err := try()
					var pe *pgconn.PgError
					if !errors.As(err, &pe) || pe.Code != CodeStatementTooComplex || pe.Message != "stack depth limit exceeded" {
						t.Fatalf("%d levels, way %d: %v, want 54001 stack depth limit exceeded", n, i, err)
					}
				}
			}
			// Just under the limit: accepted, and PostgreSQL's parser and
			// deparser come through it.
			sql := shape(MaxNesting/2 - 2)
			if _, err := SplitStatements(sql); err != nil {
				t.Fatalf("%d levels refused: %v", MaxNesting/2-2, err)
			}
			res, err := pg_query.Parse(sql)
			if err != nil {
				t.Fatalf("%d levels: %v", MaxNesting/2-2, err)
			}
			if _, err := pg_query.Deparse(res); err != nil {
				t.Fatalf("%d levels: deparse: %v", MaxNesting/2-2, err)
			}
		})
	}
}

// TestWideStatementsAccepted: long flat lists are not nesting.
func TestWideStatementsAccepted(t *testing.T) {
	list := func(n int, item string) string {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf(item, i)
		}
		return strings.Join(items, ", ")
	}
	for _, sql := range []string{
		"SELECT * FROM t WHERE a IN (" + list(100000, "%d") + ")",
		"INSERT INTO t VALUES " + list(50000, "(%d, 'x', -1.5)"),
		"SELECT * FROM t WHERE " + strings.Repeat("a = 1 AND b <> 2 OR ", 5000) + "true",
		"SELECT CASE " + strings.Repeat("WHEN a = 1 THEN 'x' ", 5000) + "END FROM t",
		"SELECT ARRAY[" + list(50000, "%d::int") + "]",
		"SELECT " + list(5000, "f(a + %d, b * 2)") + " FROM t",
		strings.Repeat("SELECT a + 1 FROM t WHERE b = 1; ", 2000),
		"BEGIN; " + strings.Repeat("UPDATE t SET a = a + 1 WHERE b = 1; ", 2000) + "END",
	} {
		if _, err := SplitStatements(sql); err != nil {
			t.Errorf("%.80s...: %v", sql, err)
		}
	}
}

// treeDepth is how deep messages nest in m.
func treeDepth(m protoreflect.Message) int {
	d := 0
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Kind() == protoreflect.MessageKind && fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				d = max(d, treeDepth(v.List().Get(i).Message()))
			}
		case fd.Kind() == protoreflect.MessageKind && !fd.IsMap():
			d = max(d, treeDepth(v.Message()))
		}
		return true
	})
	return d + 1
}

// FuzzNesting: what the nesting estimate lets through is no deeper, as
// PostgreSQL's parse tree, than a bounded number of messages per level, so
// that MaxNesting bounds the recursion of the C code that writes the tree.
func FuzzNesting(f *testing.F) {
	for _, shape := range deepShapes {
		f.Add(shape(3))
		f.Add(shape(30))
	}
	f.Add("SELECT a FROM (SELECT b FROM (VALUES (1)) v(b) WHERE b IN (SELECT 1)) s ORDER BY a COLLATE \"C\" NULLS FIRST")
	f.Add("WITH w AS (SELECT 1) SELECT x::int[]::text, y[1][2:3], (z).f.g FROM w CROSS JOIN LATERAL f(a => 1) AS q")
	f.Add("SELECT count(*) FILTER (WHERE a) OVER (PARTITION BY b ORDER BY c ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)")
	const limit = 8
	const perLevel = 8
	f.Fuzz(func(t *testing.T, sql string) {
		old := MaxNesting
		MaxNesting = limit
		defer func() { MaxNesting = old }()
		if _, err := SplitStatements(sql); err != nil {
			return
		}
		res, err := parser.ParseToProtobuf(sql)
		if err != nil {
			return
		}
		tree := &pg_query.ParseResult{}
		if err := (proto.UnmarshalOptions{RecursionLimit: 1 << 20}).Unmarshal(res, tree); err != nil {
			t.Fatalf("%q: %v", sql, err)
		}
		for _, st := range tree.Stmts {
			if d := treeDepth(st.ProtoReflect()); d > perLevel*(limit+2) {
				t.Fatalf("%q passes a nesting limit of %d, but its tree is %d messages deep", sql, limit, d)
			}
		}
	})
}
