package planner

import (
	"fmt"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Operator shapes: each %s is an operand position.
var deparseOuterShapes = []string{
	"%s IS NULL", "%s IS NOT NULL", "%s ISNULL", "%s NOTNULL",
	"%s IS TRUE", "%s IS NOT TRUE", "%s IS FALSE", "%s IS NOT FALSE", "%s IS UNKNOWN", "%s IS NOT UNKNOWN",
	"%s IS DISTINCT FROM %s", "%s IS NOT DISTINCT FROM %s",
	"%s IN (true, %s)", "%s NOT IN (%s)", "%s IN (SELECT x FROM t)", "%s NOT IN (SELECT x FROM t)",
	"%s BETWEEN %s AND %s", "%s NOT BETWEEN %s AND %s", "%s BETWEEN SYMMETRIC %s AND %s", "%s NOT BETWEEN SYMMETRIC %s AND %s",
	"%s = %s", "%s <> %s", "%s < %s", "%s >= %s", "%s + %s", "%s * %s", "%s ^ %s", "%s || %s", "- %s", "%s OPERATOR(pg_catalog.+) %s",
	"%s LIKE %s", "%s NOT LIKE %s", "%s ILIKE %s", "%s NOT ILIKE %s", "%s SIMILAR TO %s", "%s NOT SIMILAR TO %s ESCAPE %s",
	"%s = ANY (ARRAY[%s])", "%s <> ALL (ARRAY[%s])", "%s = ANY (SELECT x FROM t)", "%s < ALL (SELECT x FROM t)",
	"%s::text", "CAST(%s AS int)", "%s COLLATE \"C\"", "(%s)[1]", "(%s).f", "(%s)[1:2]",
	"NOT %s", "%s AND %s", "%s OR %s", "%s AND NOT %s", "%s IS JSON", "%s IS NOT JSON OBJECT",
	"%s AT TIME ZONE 'UTC'", "CASE WHEN %s THEN %s ELSE %s END", "CASE %s WHEN %s THEN 1 END",
	"coalesce(%s, %s)", "nullif(%s, %s)", "greatest(%s, %s)", "f(%s)", "ARRAY[%s]", "ROW(%s, %s)",
	"EXISTS (SELECT 1 WHERE %s)", "(SELECT %s)", "%s OVERLAPS %s",
}

// Operands: plain ones and every kind of composite expression.
var deparseOperands = []string{
	"a", "1", "-1", "-1.5", "'x'", "NULL", "true", "$1",
	"NOT a", "a AND b", "a OR b", "NOT (a OR b)", "a AND b OR c",
	"a IS NULL", "a IS NOT NULL", "a IS TRUE", "a IS NOT FALSE", "a IS DISTINCT FROM b", "a IS NOT DISTINCT FROM b",
	"a = b", "a < b", "a <> b", "a + b", "a * b", "- a", "a ^ b", "a || b", "a OPERATOR(pg_catalog.*) b",
	"a IN (1, 2)", "a NOT IN (1)", "a IN (SELECT x FROM t)", "a BETWEEN 1 AND 2", "a NOT BETWEEN SYMMETRIC 1 AND 2",
	"a LIKE 'x'", "a NOT ILIKE 'x'", "a SIMILAR TO 'x'",
	"a = ANY (ARRAY[1])", "a = ANY (SELECT x FROM t)", "a > ALL (SELECT x FROM t)", "(a, b) = (SELECT x, y FROM t)",
	"a COLLATE \"C\"", "a::int", "(-1)::int", "(SELECT 1)", "EXISTS (SELECT 1)", "ARRAY(SELECT 1)", "f(a)", "a[1]", "(a).f",
	"a AT TIME ZONE 'UTC'", "a IS JSON", "ROW(a, b)", "(a, b)", "CASE WHEN a THEN 1 END", "nullif(a, b)", "coalesce(a, b)",
	"count(*) FILTER (WHERE a)", "sum(a) OVER (ORDER BY b)", "interval '1 day'", "a::numeric(10,2)",
}

// TestDeparseRoundTrip deparses every operator shape with every operand in
// each of its positions, and one level deeper, through the planner's
// deparse; the SQL must parse back to the very tree it came from.
func TestDeparseRoundTrip(t *testing.T) {
	checked := 0
	try := func(expr string) {
		if checkRoundTrip(t, "SELECT "+expr+" FROM t WHERE "+expr) {
			checked++
		}
	}
	fill := func(shape string, operands ...string) string {
		args := make([]any, strings.Count(shape, "%s"))
		for i := range args {
			args[i] = "c"
			if i < len(operands) && operands[i] != "" {
				args[i] = operands[i]
			}
		}
		return fmt.Sprintf(shape, args...)
	}
	for _, shape := range deparseOuterShapes {
		n := strings.Count(shape, "%s")
		for _, op := range deparseOperands {
			for pos := 0; pos < n; pos++ {
				ops := make([]string, n)
				ops[pos] = op
				try(fill(shape, ops...))
			}
		}
		// Two levels: every shape inside every shape, in its first position.
		for _, inner := range deparseOuterShapes {
			try(fill(shape, fill(inner, "a OR b")))
			try(fill(shape, "("+fill(inner, "a")+")"))
		}
	}
	if checked < 5000 {
		t.Errorf("only %d expressions checked", checked)
	}
	t.Logf("%d expressions deparsed and parsed back", checked)
}

// Statement shapes: each %s is an expression position of a clause.
var deparseStatementShapes = []string{
	"SELECT 1 FROM t ORDER BY %s", "SELECT 1 FROM t ORDER BY %s DESC NULLS FIRST", "SELECT 1 FROM t GROUP BY %s HAVING %s",
	"SELECT 1 FROM t LIMIT %s OFFSET %s", "SELECT 1 FROM t FETCH FIRST (%s) ROWS WITH TIES",
	"UPDATE t SET a = %s WHERE %s RETURNING %s", "INSERT INTO t VALUES (%s, %s) ON CONFLICT (a) DO UPDATE SET b = %s WHERE %s",
	"DELETE FROM t USING u WHERE %s RETURNING %s", "SELECT 1 FROM t JOIN u ON %s LEFT JOIN v ON %s",
	"SELECT sum(x) FILTER (WHERE %s) FROM t", "SELECT count(%s ORDER BY %s) FROM t",
	"SELECT sum(x) OVER (PARTITION BY %s ORDER BY %s ROWS BETWEEN %s PRECEDING AND CURRENT ROW) FROM t",
	"SELECT DISTINCT ON (%s) x FROM t ORDER BY %s", "VALUES (%s), (%s)", "SELECT %s AS y", "SELECT %s y",
	"SELECT * FROM f(%s) AS g", "SELECT * FROM t, LATERAL (SELECT %s) s", "SELECT 1 FROM t GROUP BY GROUPING SETS ((%s), ())",
	"SELECT ARRAY[%s, %s]", "SELECT f(x => %s)", "SELECT x FROM t WHERE x = %s FOR UPDATE",
	"WITH w AS (SELECT %s AS c) SELECT c FROM w", "SELECT %s UNION SELECT %s",
}

// TestDeparseStatementRoundTrip puts every operand and every operator shape
// in every clause of the statement shapes.
func TestDeparseStatementRoundTrip(t *testing.T) {
	checked := 0
	for _, shape := range deparseStatementShapes {
		n := strings.Count(shape, "%s")
		exprs := append([]string{}, deparseOperands...)
		for _, outer := range deparseOuterShapes {
			exprs = append(exprs, strings.ReplaceAll(outer, "%s", "a OR b"))
		}
		for _, e := range exprs {
			for pos := 0; pos < n; pos++ {
				args := make([]any, n)
				for i := range args {
					args[i] = "c"
				}
				args[pos] = e
				if checkRoundTrip(t, fmt.Sprintf(shape, args...)) {
					checked++
				}
			}
		}
	}
	if checked < 2000 {
		t.Errorf("only %d statements checked", checked)
	}
	t.Logf("%d statements deparsed and parsed back", checked)
}

// checkRoundTrip deparses sql's tree and parses it back, failing t when the
// trees differ; it reports false when sql is not valid SQL.
func checkRoundTrip(t *testing.T, sql string) bool {
	t.Helper()
	res, err := pg_query.Parse(sql)
	if err != nil {
		return false
	}
	stmt := res.Stmts[0].Stmt
	before := proto.Clone(stmt)
	out, err := deparse(stmt)
	if err != nil {
		t.Errorf("%s: deparse: %v", sql, err)
		return true
	}
	if !proto.Equal(before, stmt) {
		t.Errorf("%s: deparse changed its input", sql)
	}
	back, err := pg_query.Parse(out)
	switch {
	case err != nil:
		t.Errorf("%s\n  deparsed: %s\n  does not parse: %v", sql, out, err)
	case !sameTree(stmt, back.Stmts[0].Stmt):
		t.Errorf("%s\n  deparsed: %s\n  parses to another tree", sql, out)
	}
	return true
}

// TestDeparseGuardIssueCases are the statements whose parentheses the
// deparser lost (remote SQL that meant something else, or did not parse).
func TestDeparseGuardIssueCases(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"SELECT count(*) FROM customers WHERE (NOT vip) IS NULL", "SELECT count(*) FROM customers WHERE (NOT vip) IS NULL"},
		{"SELECT 1 FROM customers WHERE (vip OR id > 5) IN (false)", "SELECT 1 FROM customers WHERE (vip OR id > 5) IN (false)"},
		{"SELECT 1 FROM customers WHERE (vip AND id BETWEEN 1 AND 5) IN (true)", "SELECT 1 FROM customers WHERE (vip AND id BETWEEN 1 AND 5) IN (true)"},
		{"SELECT 1 FROM t WHERE (a = b) IN (true)", "SELECT 1 FROM t WHERE (a = b) IN (true)"},
		{"SELECT 1 FROM t WHERE (a IS NULL) IS NOT DISTINCT FROM b", "SELECT 1 FROM t WHERE (a IS NULL) IS NOT DISTINCT FROM b"},
	} {
		res, err := pg_query.Parse(c.in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := deparse(res.Stmts[0].Stmt)
		if err != nil {
			t.Fatal(err)
		}
		if out != c.want {
			t.Errorf("deparse(%s)\n got %s\nwant %s", c.in, out, c.want)
		}
	}
}

// sameTree compares two parse trees, ignoring token locations.
func sameTree(a, b proto.Message) bool {
	a, b = proto.Clone(a), proto.Clone(b)
	clearLocations(a.ProtoReflect())
	clearLocations(b.ProtoReflect())
	return proto.Equal(a, b)
}

func clearLocations(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Name() == "location" || fd.Name() == "stmt_location" || fd.Name() == "stmt_len":
			m.Clear(fd)
		case fd.Kind() == protoreflect.MessageKind && fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				clearLocations(l.Get(i).Message())
			}
		case fd.Kind() == protoreflect.MessageKind && !fd.IsMap():
			clearLocations(v.Message())
		}
		return true
	})
}
