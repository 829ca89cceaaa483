package difftest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// The random query generator: valid, deterministic SELECTs over the
// difftest schema, from a grammar that reaches every distribution and the
// constructs the planner treats apart (filters on distribution and other
// columns, NOT/AND/OR under IS/IN/BETWEEN, casts, cross-type joins,
// USING/NATURAL/LATERAL, aggregates with DISTINCT/ORDER BY/FILTER,
// GROUP BY/HAVING/GROUPING SETS, DISTINCT ON, ORDER BY by position, alias,
// constant and set-returning function, LIMIT/OFFSET/WITH TIES, outer and
// 3-way joins, EXISTS/IN/NOT IN, scalar and correlated subqueries, CTEs
// used twice, set operations, windows with frames, NULLs, empty inputs).
// A query is deterministic in PostgreSQL itself: a LIMIT comes with an
// ORDER BY of every output column (rows that tie are equal), windows order
// by every other output column, and floating-point sums are not taken.

// class is a family of types whose values compare with one another.
type class string

const (
	cInt   class = "int"
	cNum   class = "numeric"
	cFloat class = "float"
	cText  class = "text"
	cBool  class = "bool"
	cDate  class = "date"
	cTS    class = "timestamp"
	cTSTZ  class = "timestamptz"
	cOther class = "" // selected as text only
)

// genColumn is a column of a table of the schema.
type genColumn struct {
	name string
	cls  class
}

// genTable is a table of the schema.
type genTable struct {
	name string
	cols []genColumn
}

// Schema is the tables the generator reads from.
type Schema struct {
	tables map[string]*genTable
	names  []string
}

// classOf maps a type name of schema.sql to its class.
func classOf(typ string, array bool) class {
	if array {
		return cOther
	}
	switch typ {
	case "int2", "int4", "int8":
		return cInt
	case "numeric":
		return cNum
	case "float4", "float8":
		return cFloat
	case "text", "varchar":
		return cText
	case "bool":
		return cBool
	case "date":
		return cDate
	case "timestamp":
		return cTS
	case "timestamptz":
		return cTSTZ
	}
	return cOther
}

// ParseSchema reads the tables of schema.sql (views are not read from).
func ParseSchema(sql string) (*Schema, error) {
	stmts, err := ParseCorpus(sql)
	if err != nil {
		return nil, err
	}
	s := &Schema{tables: map[string]*genTable{}}
	for _, q := range stmts {
		plain, err := PlainSQL(q.SQL)
		if err != nil {
			return nil, err
		}
		res, err := pg_query.Parse(plain)
		if err != nil {
			return nil, err
		}
		if len(res.Stmts) != 1 {
			continue
		}
		cs := res.Stmts[0].Stmt.GetCreateStmt()
		if cs == nil {
			continue
		}
		t := &genTable{name: cs.Relation.Relname}
		for _, e := range cs.TableElts {
			cd := e.GetColumnDef()
			if cd == nil {
				continue
			}
			names := cd.TypeName.Names
			typ := names[len(names)-1].GetString_().Sval
			cls := classOf(typ, len(cd.TypeName.ArrayBounds) > 0)
			if cc := cd.CollClause; cls == cText && cc != nil && len(cc.Collname) > 0 {
				// Text of two different explicit collations does not
				// compare: a class of its own.
				cls = class("text:" + cc.Collname[len(cc.Collname)-1].GetString_().Sval)
			}
			t.cols = append(t.cols, genColumn{cd.Colname, cls})
		}
		s.tables[t.name] = t
		s.names = append(s.names, t.name)
	}
	return s, nil
}

// joinEdge is a pair of columns a join may match: keys of the data, some of
// different types (int with bigint or numeric, timestamp with timestamptz).
type joinEdge struct{ t1, c1, t2, c2 string }

var joinEdges = []joinEdge{
	{"customers", "cust_id", "orders", "cust_id"},
	{"orders", "sku", "products", "sku"},
	{"customers", "region_id", "regions", "region_id"},
	{"events", "cust_id", "customers", "cust_id"},
	{"pinned", "cust_id", "customers", "cust_id"},
	{"orders", "order_id", "events", "event_id"},
	{"typed", "i8", "customers", "cust_id"},
	{"typed", "n", "orders", "order_id"},
	{"typed", "id", "pinned", "id"},
	{"logs", "line", "events", "event_id"},
	{"measures", "sensor", "regions", "region_id"},
	{"orders", "ship_day", "events", "day"},
	{"orders", "ordered_at", "events", "at"},
	{"typed", "i4", "pinned", "id"},
	{"measures", "m", "pinned", "amount"},
	{"orders", "qty", "regions", "region_id"},
}

// small tables: a correlated subquery over them is cheap row by row.
var smallTables = []string{"regions", "pinned", "products"}

// rel is a relation visible in a query level: its alias and columns.
type rel struct {
	alias string
	table string // "" for a subquery or a CTE
	cols  []genColumn
}

// core is a generated SELECT without its ORDER BY and LIMIT.
type core struct {
	sql      string
	outs     []out
	ordered  bool // it has its ORDER BY already (DISTINCT ON)
	distinct bool
}

// out is one output column of a generated query.
type out struct {
	expr  string
	alias string
	cls   class
	plain bool // not an aggregate or window: may be a window's sort key
}

// Generator makes random queries; the same seed makes the same queries.
type Generator struct {
	r      *rand.Rand
	s      *Schema
	nalias int
	ctes   []rel // CTEs of the statement being generated
}

// NewGenerator returns a generator over schema s.
func NewGenerator(s *Schema, seed uint64) *Generator {
	return &Generator{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), s: s}
}

func (g *Generator) chance(p float64) bool { return g.r.Float64() < p }
func (g *Generator) intn(n int) int        { return g.r.IntN(n) }
func pick[T any](g *Generator, xs []T) T   { return xs[g.r.IntN(len(xs))] }

func (g *Generator) alias(prefix string) string {
	g.nalias++
	return fmt.Sprintf("%s%d", prefix, g.nalias)
}

// Query returns one SELECT statement.
func (g *Generator) Query() string {
	g.nalias = 0
	g.ctes = nil
	with := ""
	if g.chance(0.12) {
		// A CTE, read twice by the query.
		body := g.selectCore(1, nil, false)
		name := g.alias("w")
		var cols []genColumn
		for _, o := range body.outs {
			cols = append(cols, genColumn{o.alias, o.cls})
		}
		g.ctes = append(g.ctes, rel{alias: name, cols: cols})
		with = "WITH " + name + " AS " + materialized(g) + "(" + body.sql + ") "
	}
	if g.chance(0.1) {
		return with + g.setOperation()
	}
	sql, _ := g.selectStmt(0, nil)
	return with + sql
}

func materialized(g *Generator) string {
	switch g.intn(3) {
	case 0:
		return "MATERIALIZED "
	case 1:
		return "NOT MATERIALIZED "
	}
	return ""
}

// setOperation makes q1 UNION/INTERSECT/EXCEPT [ALL] q2 of the same classes.
func (g *Generator) setOperation() string {
	n := 1 + g.intn(2)
	classes := make([]class, n)
	for i := range classes {
		classes[i] = pick(g, []class{cInt, cText, cNum, cDate, cBool})
	}
	q1 := g.shapedSelect(classes)
	q2 := g.shapedSelect(classes)
	op := pick(g, []string{"UNION", "UNION ALL", "INTERSECT", "INTERSECT ALL", "EXCEPT", "EXCEPT ALL"})
	sql := "(" + q1 + ") " + op + " (" + q2 + ")"
	if g.chance(0.4) {
		var keys []string
		for i := range classes {
			keys = append(keys, fmt.Sprintf("%d%s", i+1, g.direction()))
		}
		sql += " ORDER BY " + strings.Join(keys, ", ")
		if g.chance(0.5) {
			sql += fmt.Sprintf(" LIMIT %d", 1+g.intn(20))
		}
	}
	return sql
}

// shapedSelect is a SELECT of one expression of each class from one table.
func (g *Generator) shapedSelect(classes []class) string {
	r := g.tableRel(pick(g, g.s.names))
	scope := []rel{r}
	var items []string
	for i, c := range classes {
		items = append(items, fmt.Sprintf("%s AS s%d", shownAs(g.expr(c, scope, 1), c), i+1))
	}
	sql := "SELECT " + strings.Join(items, ", ") + " FROM " + r.table + " " + r.alias
	if g.chance(0.7) {
		sql += " WHERE " + g.predicate(scope, 1)
	}
	return sql
}

func (g *Generator) tableRel(name string) rel {
	t := g.s.tables[name]
	return rel{alias: g.alias(name[:1]), table: name, cols: t.cols}
}

// selectStmt is a whole SELECT with its ORDER BY and LIMIT; outer is the
// scope a subquery may correlate with.
func (g *Generator) selectStmt(depth int, outer []rel) (string, []out) {
	limit := g.chance(0.3)
	c := g.selectCore(depth, outer, limit)
	core, outs := c.sql, c.outs
	if c.ordered {
		return core, outs
	}
	switch {
	case limit && g.chance(0.2):
		// WITH TIES: rows that tie on any keys are all taken.
		keys := g.orderKeys(outs, false, c.distinct)
		return core + " ORDER BY " + keys + fmt.Sprintf(" FETCH FIRST %d ROWS WITH TIES", 1+g.intn(10)), outs
	case limit:
		sql := core + " ORDER BY " + g.orderKeys(outs, true, c.distinct) + fmt.Sprintf(" LIMIT %d", g.intn(25))
		if g.chance(0.3) {
			sql += fmt.Sprintf(" OFFSET %d", g.intn(10))
		}
		return sql, outs
	case g.chance(0.3):
		return core + " ORDER BY " + g.orderKeys(outs, g.chance(0.5), c.distinct), outs
	}
	return core, outs
}

func (g *Generator) direction() string {
	return pick(g, []string{"", " DESC", " NULLS FIRST", " DESC NULLS LAST", " ASC NULLS LAST"})
}

// orderKeys orders by some output columns, or by all of them when total,
// each named by position, alias or expression; a constant or a
// set-returning function may lead.
func (g *Generator) orderKeys(outs []out, total, distinct bool) string {
	var keys []string
	if !distinct && g.chance(0.1) {
		keys = append(keys, pick(g, []string{"'k'::text", "1 + 1", "upper('x')"}))
	}
	idx := g.r.Perm(len(outs))
	if !total {
		idx = idx[:1+g.intn(len(outs))]
	}
	for _, i := range idx {
		o := outs[i]
		var k string
		switch g.intn(3) {
		case 0:
			k = fmt.Sprint(i + 1)
		case 1:
			k = o.alias
		default:
			if o.plain && !strings.Contains(o.expr, "(SELECT") {
				k = o.expr
			} else {
				k = o.alias
			}
		}
		keys = append(keys, k+g.direction())
	}
	return strings.Join(keys, ", ")
}

// selectCore is SELECT ... FROM ... WHERE ... [GROUP BY ... HAVING ...];
// needsTotal tells that an ORDER BY of every output column follows.
func (g *Generator) selectCore(depth int, outer []rel, needsTotal bool) core {
	from, scope := g.fromClause(depth, outer)
	where := ""
	if g.chance(0.75) {
		where = " WHERE " + g.predicate(append(scope, outer...), depth)
	}
	switch k := g.intn(10); {
	case k < 3:
		sql, outs := g.aggregateQuery(from, where, scope, depth)
		return core{sql: sql, outs: outs}
	case k < 4:
		sql, outs := g.windowQuery(from, where, scope)
		return core{sql: sql, outs: outs}
	case k < 5 && !needsTotal:
		sql, outs := g.distinctOnQuery(from, where, scope)
		return core{sql: sql, outs: outs, ordered: true}
	}
	n := 1 + g.intn(4)
	var outs []out
	for i := 0; i < n; i++ {
		c := pick(g, []class{cInt, cInt, cText, cNum, cBool, cDate, cTS, cTSTZ, cFloat})
		e := g.expr(c, append(scope, outer...), depth+1)
		if depth < 1 && g.chance(0.08) {
			e = g.scalarSubquery(c, scope, depth)
		}
		outs = append(outs, out{expr: shownAs(e, c), alias: fmt.Sprintf("c%d", i+1), cls: c, plain: true})
	}
	if g.chance(0.05) {
		// A set-returning function in the select list.
		outs = append(outs, out{expr: pick(g, []string{"generate_series(1, 2)", "unnest(ARRAY[1, 2, 2])"}), alias: "srf", cls: cInt, plain: true})
	}
	distinct := ""
	if g.chance(0.1) {
		distinct = "DISTINCT "
	}
	return core{sql: "SELECT " + distinct + items(outs) + from + where, outs: outs, distinct: distinct != ""}
}

// shownAs is how an expression of class c is selected: numerics with one
// scale (equal values are written 1, 1.0, 1.000 in the data, and a group,
// DISTINCT or min may show any of them) and floats without a negative zero.
func shownAs(e string, c class) string {
	switch c {
	case cNum:
		return "round(" + e + ", 5)"
	case cFloat:
		return "(" + e + " + 0)"
	}
	return e
}

func items(outs []out) string {
	var parts []string
	for _, o := range outs {
		parts = append(parts, o.expr+" AS "+o.alias)
	}
	return strings.Join(parts, ", ")
}

// fromClause makes a FROM list of one to three relations.
func (g *Generator) fromClause(depth int, outer []rel) (string, []rel) {
	var first rel
	var text string
	fromCTE := false
	switch {
	case len(g.ctes) > 0 && g.chance(0.5):
		c := g.ctes[0]
		first = rel{alias: g.alias("x"), cols: c.cols}
		text = c.alias + " " + first.alias
		fromCTE = true
	case depth < 1 && g.chance(0.1):
		body := g.selectCore(depth+1, nil, false)
		var cols []genColumn
		for _, o := range body.outs {
			cols = append(cols, genColumn{o.alias, o.cls})
		}
		first = rel{alias: g.alias("d"), cols: cols}
		text = "(" + body.sql + ") " + first.alias
	default:
		first = g.tableRel(pick(g, g.s.names))
		text = first.table + " " + first.alias
		if g.chance(0.04) {
			text += pick(g, []string{" TABLESAMPLE BERNOULLI (100)", " TABLESAMPLE SYSTEM (100)"})
		}
	}
	scope := []rel{first}
	joins := 0
	if g.chance(0.45) {
		joins = 1
		if g.chance(0.3) {
			joins = 2
		}
	}
	for j := 0; j < joins; j++ {
		jt, next, ok := g.join(scope)
		if !ok {
			break
		}
		text += jt
		scope = append(scope, next)
	}
	if fromCTE && g.chance(0.5) {
		// The CTE a second time.
		c := g.ctes[0]
		second := rel{alias: g.alias("x"), cols: c.cols}
		col := pick(g, c.cols)
		text += fmt.Sprintf(" %s %s %s ON %s.%s IS NOT DISTINCT FROM %s.%s", pick(g, []string{"JOIN", "LEFT JOIN"}),
			c.alias, second.alias, first.alias, col.name, second.alias, col.name)
		scope = append(scope, second)
	}
	if depth < 1 && g.chance(0.08) {
		// LATERAL: an aggregate of a small table per row.
		l, ok := g.lateral(scope)
		if ok {
			text += l.text
			scope = append(scope, l.rel)
		}
	}
	return " FROM " + text, scope
}

// join joins a table to one of scope's by a join edge.
func (g *Generator) join(scope []rel) (string, rel, bool) {
	type cand struct {
		from   rel
		fc, tc string
		table  string
	}
	var cands []cand
	for _, r := range scope {
		if r.table == "" {
			continue
		}
		for _, e := range joinEdges {
			if e.t1 == r.table {
				cands = append(cands, cand{r, e.c1, e.c2, e.t2})
			}
			if e.t2 == r.table {
				cands = append(cands, cand{r, e.c2, e.c1, e.t1})
			}
		}
	}
	if len(cands) == 0 {
		return "", rel{}, false
	}
	c := pick(g, cands)
	next := g.tableRel(c.table)
	kind := pick(g, []string{"JOIN", "JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN", "INNER JOIN"})
	if c.fc == c.tc && len(scope) == 1 && g.chance(0.3) {
		return fmt.Sprintf(" %s %s %s USING (%s)", kind, next.table, next.alias, c.fc), next, true
	}
	cond := fmt.Sprintf("%s.%s = %s.%s", c.from.alias, c.fc, next.alias, c.tc)
	if g.chance(0.3) {
		cond += " AND " + g.predicate([]rel{next}, 1)
	}
	return fmt.Sprintf(" %s %s %s ON %s", kind, next.table, next.alias, cond), next, true
}

type lateralRel struct {
	text string
	rel  rel
}

func (g *Generator) lateral(scope []rel) (lateralRel, bool) {
	for _, r := range scope {
		for _, e := range joinEdges {
			if e.t1 == r.table && slices.Contains(smallTables, e.t2) || e.t2 == r.table && slices.Contains(smallTables, e.t1) {
				oc, it, ic := e.c1, e.t2, e.c2
				if e.t2 == r.table {
					oc, it, ic = e.c2, e.t1, e.c1
				}
				a := g.alias("l")
				text := fmt.Sprintf(", LATERAL (SELECT count(*) AS n, min(%s) AS lo FROM %s i WHERE i.%s = %s.%s) %s",
					ic, it, ic, r.alias, oc, a)
				cls := cInt
				for _, c := range g.s.tables[it].cols {
					if c.name == ic {
						cls = c.cls
					}
				}
				return lateralRel{text, rel{alias: a, cols: []genColumn{{"n", cInt}, {"lo", cls}}}}, true
			}
		}
	}
	return lateralRel{}, false
}

// aggregateQuery groups by zero to two keys and computes aggregates.
func (g *Generator) aggregateQuery(from, where string, scope []rel, depth int) (string, []out) {
	var outs []out
	var keys []string
	nk := g.intn(3)
	for i := 0; i < nk; i++ {
		c := pick(g, []class{cInt, cText, cBool, cDate, cNum})
		col, ok := g.column(scope, c)
		if !ok {
			continue
		}
		e := col
		if g.chance(0.2) {
			e = g.expr(c, scope, 2)
		}
		keys = append(keys, e)
		outs = append(outs, out{expr: shownAs(e, c), alias: fmt.Sprintf("k%d", i+1), cls: c, plain: true})
	}
	na := 1 + g.intn(3)
	for i := 0; i < na; i++ {
		e, c := g.aggregate(scope)
		outs = append(outs, out{expr: shownAs(e, c), alias: fmt.Sprintf("a%d", i+1), cls: c})
	}
	sql := "SELECT " + items(outs) + from + where
	if len(keys) > 0 {
		switch {
		case g.chance(0.1) && len(keys) > 0:
			sql += " GROUP BY ROLLUP (" + strings.Join(keys, ", ") + ")"
		case g.chance(0.08):
			sql += " GROUP BY CUBE (" + strings.Join(keys, ", ") + ")"
		case g.chance(0.08):
			sql += " GROUP BY GROUPING SETS ((" + strings.Join(keys, ", ") + "), ())"
		default:
			sql += " GROUP BY " + strings.Join(keys, ", ")
		}
	}
	if g.chance(0.25) {
		e, _ := g.aggregate(scope)
		sql += fmt.Sprintf(" HAVING %s IS NOT NULL", e)
		if g.chance(0.5) {
			sql += fmt.Sprintf(" AND count(*) > %d", g.intn(3))
		}
	}
	return sql, outs
}

// aggregate is one aggregate call whose result does not depend on row order.
func (g *Generator) aggregate(scope []rel) (string, class) {
	filter := ""
	if g.chance(0.15) {
		filter = " FILTER (WHERE " + g.predicate(scope, 2) + ")"
	}
	for tries := 0; tries < 5; tries++ {
		switch g.intn(9) {
		case 0:
			return "count(*)" + filter, cInt
		case 1:
			c := pick(g, []class{cInt, cText, cDate, cBool, cNum})
			if col, ok := g.column(scope, c); ok {
				d := ""
				if g.chance(0.3) {
					d = "DISTINCT "
				}
				return "count(" + d + col + ")" + filter, cInt
			}
		case 2, 3:
			c := pick(g, []class{cInt, cNum})
			if col, ok := g.column(scope, c); ok {
				d := ""
				if g.chance(0.2) {
					d = "DISTINCT "
				}
				return "sum(" + d + col + ")" + filter, cNum
			}
		case 4:
			c := pick(g, []class{cInt, cText, cDate, cTS, cNum, cFloat, cTSTZ})
			if col, ok := g.column(scope, c); ok {
				return pick(g, []string{"min", "max"}) + "(" + col + ")" + filter, c
			}
		case 5:
			c := pick(g, []class{cInt, cNum})
			if col, ok := g.column(scope, c); ok {
				return "round(avg(" + col + ")" + filter + ", 6)", cNum
			}
		case 6:
			if col, ok := g.column(scope, cBool); ok {
				return pick(g, []string{"bool_and", "bool_or"}) + "(" + col + ")" + filter, cBool
			}
		case 7:
			if col, ok := g.column(scope, cText); ok {
				d := ""
				if g.chance(0.3) {
					d = "DISTINCT "
				}
				return "string_agg(" + d + col + ", ',' ORDER BY " + col + g.direction() + ")" + filter, cText
			}
		case 8:
			if col, ok := g.column(scope, cInt); ok {
				return "array_length(array_agg(" + col + " ORDER BY " + col + ")" + filter + ", 1)", cInt
			}
		}
	}
	return "count(*)", cInt
}

// windowQuery selects plain columns and window functions that order by all
// of them (rows that tie are equal), or by none.
func (g *Generator) windowQuery(from, where string, scope []rel) (string, []out) {
	n := 1 + g.intn(3)
	outs, all := g.plainColumns(scope, n, "1")
	partition := ""
	if g.chance(0.5) {
		partition = "PARTITION BY " + pick(g, outs).expr + " "
	}
	ordered := "ORDER BY " + strings.Join(all, ", ")
	nw := 1 + g.intn(2)
	for i := 0; i < nw; i++ {
		var w string
		cls := cInt
		switch g.intn(7) {
		case 0:
			w = "row_number() OVER (" + partition + ordered + ")"
		case 1:
			w = pick(g, []string{"rank()", "dense_rank()"}) + " OVER (" + partition + "ORDER BY " + pick(g, outs[:n]).expr + ")"
		case 2:
			w = "count(*) OVER (" + partition + ")"
		case 3:
			if col, ok := g.column(scope, cInt); ok {
				w = "sum(" + col + ") OVER (" + partition + ")"
				cls = cNum
			} else {
				w = "count(*) OVER ()"
			}
		case 4:
			o := pick(g, outs[:n])
			w = pick(g, []string{"lag", "lead"}) + "(" + o.expr + ") OVER (" + partition + ordered + ")"
			cls = o.cls
		case 5:
			if col, ok := g.column(scope, cInt); ok && outsContain(outs, col) {
				frame := pick(g, []string{"ROWS BETWEEN 1 PRECEDING AND CURRENT ROW", "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
					"ROWS BETWEEN CURRENT ROW AND 2 FOLLOWING", "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"})
				w = "sum(" + col + ") OVER (" + partition + ordered + " " + frame + ")"
				cls = cNum
			} else {
				w = "count(*) OVER (" + partition + ordered + ")"
			}
		default:
			o := pick(g, outs[:n])
			w = pick(g, []string{"first_value", "last_value"}) + "(" + o.expr + ") OVER (" + partition + ordered +
				" ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"
			cls = o.cls
		}
		outs = append(outs, out{expr: shownAs(w, cls), alias: fmt.Sprintf("w%d", i+1), cls: cls})
	}
	return "SELECT " + items(outs) + from + where, outs
}

// plainColumns selects n columns of scope (or, lacking one, the integer
// expression none) and returns them with each as a sort key.
func (g *Generator) plainColumns(scope []rel, n int, none string) (outs []out, keys []string) {
	for i := 0; i < n; i++ {
		c := pick(g, []class{cInt, cText, cDate, cNum, cBool})
		col, ok := g.column(scope, c)
		if !ok {
			col, c = none, cInt
		}
		o := out{expr: shownAs(col, c), alias: fmt.Sprintf("c%d", i+1), cls: c, plain: true}
		outs = append(outs, o)
		keys = append(keys, o.expr+g.direction())
	}
	return outs, keys
}

func outsContain(outs []out, expr string) bool {
	for _, o := range outs {
		if o.expr == expr {
			return true
		}
	}
	return false
}

// distinctOnQuery is SELECT DISTINCT ON (k) ... ORDER BY k, every other
// output column: the row kept for each k is the same on both sides.
func (g *Generator) distinctOnQuery(from, where string, scope []rel) (string, []out) {
	outs, keys := g.plainColumns(scope, 2+g.intn(2), "(0 + 0)")
	return "SELECT DISTINCT ON (" + outs[0].expr + ") " + items(outs) + from + where + " ORDER BY " + strings.Join(keys, ", "), outs
}

// column is a column of class c in scope, qualified.
func (g *Generator) column(scope []rel, c class) (string, bool) {
	var found []string
	for _, r := range scope {
		for _, col := range r.cols {
			if col.cls == c {
				found = append(found, r.alias+"."+col.name)
			}
		}
	}
	if len(found) == 0 {
		return "", false
	}
	return pick(g, found), true
}

// constant is a literal of class c.
func (g *Generator) constant(c class) string {
	if g.chance(0.05) {
		return "NULL"
	}
	switch c {
	case cInt:
		return pick(g, []string{"0", "1", "2", "3", "5", "7", "10", "42", "100", "300", "599", "1000", "-1", "-5", "99999", "'7'", "3000000000"})
	case cNum:
		return pick(g, []string{"0", "1.5", "2.50", "100", "-10.25", "0.125", "499.99", "1e3", "'3.0'"})
	case cFloat:
		return pick(g, []string{"0.5", "1.25", "'NaN'::float8", "2.0", "-0.0"})
	case cText, class("text:C"), class("text:POSIX"), class("text:ucs_basic"), class("text:C.utf8"), class("text:en-x-icu"), class("text:und-x-icu"):
		return pick(g, []string{"'alice 1'", "'Bob'", "'SKU-0042'", "'paid'", "'new'", "''", "'Paris'", "'zoë 3'", "'tools'", "'a'", "'Z'"})
	case cBool:
		return pick(g, []string{"true", "false"})
	case cDate:
		return pick(g, []string{"date '2020-03-01'", "date '2021-06-15'", "date '2023-07-01'", "'2022-01-01'", "date '2000-01-01'"})
	case cTS:
		return pick(g, []string{"timestamp '2023-03-01 00:00'", "timestamp '2023-06-30 12:00'", "'2023-01-01'"})
	case cTSTZ:
		return pick(g, []string{"timestamptz '2023-03-01 00:00+00'", "timestamptz '2022-07-01 12:00+02'", "'2023-05-01 00:00+00'"})
	}
	return "NULL"
}

// expr is an expression of class c over scope.
func (g *Generator) expr(c class, scope []rel, depth int) string {
	if depth > 3 || g.chance(0.45) {
		if col, ok := g.column(scope, c); ok && g.chance(0.8) {
			return col
		}
		if c == cText && g.chance(0.3) {
			if col, ok := g.column(scope, cOther); ok {
				return col + "::text"
			}
		}
		return g.typedConstant(c)
	}
	sub := func(c class) string { return g.expr(c, scope, depth+1) }
	if isText(c) && c != cText {
		switch g.intn(3) {
		case 0:
			return "lower(" + sub(c) + ")"
		case 1:
			return "(" + sub(c) + " || 'x')"
		default:
			return "coalesce(" + sub(c) + ", '-')"
		}
	}
	switch c {
	case cInt:
		switch g.intn(8) {
		case 0:
			return "(" + sub(cInt) + " + " + sub(cInt) + ")"
		case 1:
			return "(" + sub(cInt) + " % 7)"
		case 2:
			return "abs(" + sub(cInt) + ")"
		case 3:
			return "coalesce(" + sub(cInt) + ", " + g.constant(cInt) + ")"
		case 4:
			return "length(" + sub(cText) + ")"
		case 5:
			return "extract(month FROM " + sub(cDate) + ")::int"
		case 6:
			return "CASE WHEN " + g.predicate(scope, depth+1) + " THEN " + sub(cInt) + " ELSE " + sub(cInt) + " END"
		default:
			return "(" + sub(cInt) + ")::int8"
		}
	case cNum:
		switch g.intn(5) {
		case 0:
			return "(" + sub(cInt) + ")::numeric"
		case 1:
			return "round(" + sub(cNum) + ", 1)"
		case 2:
			return "(" + sub(cNum) + " * 2)"
		case 3:
			return "(" + sub(cNum) + " - " + sub(cInt) + ")"
		default:
			return "nullif(" + sub(cNum) + ", 0)"
		}
	case cFloat:
		return "(" + sub(cFloat) + " * 2)"
	case cText:
		switch g.intn(6) {
		case 0:
			return "lower(" + sub(cText) + ")"
		case 1:
			return "(" + sub(cText) + " || 'x')"
		case 2:
			return "substr(" + sub(cText) + ", 1, 3)"
		case 3:
			return "coalesce(" + sub(cText) + ", '-')"
		case 4:
			return "(" + sub(cInt) + ")::text"
		default:
			return "upper(" + sub(cText) + ")"
		}
	case cBool:
		return "(" + g.predicate(scope, depth+1) + ")"
	case cDate:
		switch g.intn(3) {
		case 0:
			return "(" + sub(cDate) + " + 30)"
		case 1:
			return "(" + sub(cTS) + ")::date"
		default:
			return "coalesce(" + sub(cDate) + ", date '2020-01-01')"
		}
	case cTS:
		switch g.intn(2) {
		case 0:
			return "(" + sub(cTS) + " + interval '1 day')"
		default:
			return "(" + sub(cDate) + ")::timestamp"
		}
	case cTSTZ:
		return "(" + sub(cTSTZ) + " - interval '2 hours')"
	}
	return g.typedConstant(c)
}

// typedConstant is a literal of class c that is not of unknown type, so
// that an operator applied to it resolves as it would for a column.
func (g *Generator) typedConstant(c class) string {
	k := g.constant(c)
	if strings.HasPrefix(k, "'") && !isText(c) {
		return k + "::" + string(c)
	}
	return k
}

// isText tells whether c is text, of the default collation or another.
func isText(c class) bool { return c == cText || strings.HasPrefix(string(c), "text:") }

// textClass is text of the default collation, or of a collation a column
// of scope has.
func (g *Generator) textClass(scope []rel) class {
	if g.chance(0.6) {
		return cText
	}
	var found []class
	for _, r := range scope {
		for _, col := range r.cols {
			if isText(col.cls) {
				found = append(found, col.cls)
			}
		}
	}
	if len(found) == 0 {
		return cText
	}
	return pick(g, found)
}

// comparable classes: what a value of class c may be compared with.
func comparable(c class) []class {
	switch c {
	case cInt, cNum:
		return []class{cInt, cNum}
	case cDate, cTS, cTSTZ:
		return []class{cDate, cTS, cTSTZ}
	}
	return []class{c}
}

// predicate is a boolean expression over scope.
func (g *Generator) predicate(scope []rel, depth int) string {
	if depth > 3 {
		return g.atom(scope, depth)
	}
	switch k := g.intn(16); {
	case k < 6:
		return g.atom(scope, depth)
	case k < 8:
		return g.predicate(scope, depth+1) + " AND " + g.predicate(scope, depth+1)
	case k < 9:
		return "(" + g.predicate(scope, depth+1) + " OR " + g.predicate(scope, depth+1) + ")"
	case k < 10:
		return "NOT (" + g.predicate(scope, depth+1) + ")"
	case k < 13:
		// A composite operand under IS, IN, BETWEEN, DISTINCT.
		inner := g.compositeBool(scope, depth+1)
		switch g.intn(7) {
		case 0:
			return inner + pick(g, []string{" IS NULL", " IS NOT NULL"})
		case 1:
			return inner + pick(g, []string{" IS TRUE", " IS NOT TRUE", " IS FALSE", " IS NOT FALSE", " IS UNKNOWN"})
		case 2:
			return inner + pick(g, []string{" IN (true)", " IN (false)", " NOT IN (true)", " IN (false, NULL)"})
		case 3:
			return inner + " BETWEEN false AND " + g.compositeBool(scope, depth+1)
		case 4:
			return inner + pick(g, []string{" IS DISTINCT FROM ", " IS NOT DISTINCT FROM "}) + g.compositeBool(scope, depth+1)
		case 5:
			return inner + " = " + g.compositeBool(scope, depth+1)
		default:
			return inner + " < " + g.compositeBool(scope, depth+1)
		}
	case k < 15 && depth < 2:
		return g.subqueryPredicate(scope, depth)
	}
	return g.atom(scope, depth)
}

// compositeBool is a bracketed NOT/AND/OR/comparison.
func (g *Generator) compositeBool(scope []rel, depth int) string {
	switch g.intn(4) {
	case 0:
		return "(NOT " + g.atom(scope, depth) + ")"
	case 1:
		return "(" + g.atom(scope, depth) + " AND " + g.atom(scope, depth) + ")"
	case 2:
		return "(" + g.atom(scope, depth) + " OR " + g.atom(scope, depth) + ")"
	}
	return "(" + g.atom(scope, depth) + ")"
}

// atom is a comparison, a NULL test, IN, BETWEEN, LIKE or a boolean column.
func (g *Generator) atom(scope []rel, depth int) string {
	c := pick(g, []class{cInt, cInt, cInt, cText, cText, cNum, cDate, cTS, cTSTZ, cBool, cFloat})
	if c == cText {
		c = g.textClass(scope)
	}
	lhs := g.expr(c, scope, depth+1)
	switch g.intn(9) {
	case 0:
		return lhs + pick(g, []string{" IS NULL", " IS NOT NULL"})
	case 1:
		var vals []string
		for i := 0; i < 1+g.intn(4); i++ {
			vals = append(vals, g.constant(c))
		}
		return lhs + pick(g, []string{" IN (", " NOT IN ("}) + strings.Join(vals, ", ") + ")"
	case 2:
		if c == cBool {
			return lhs
		}
		return lhs + pick(g, []string{" BETWEEN ", " NOT BETWEEN ", " BETWEEN SYMMETRIC "}) + g.constant(c) + " AND " + g.expr(c, scope, depth+2)
	case 3:
		if isText(c) {
			return lhs + pick(g, []string{" LIKE 'a%'", " ILIKE '%E%'", " NOT LIKE '%1'", " LIKE 'SKU-00%'", " ~ '^[A-Z]'"})
		}
	case 4:
		if c == cBool {
			return lhs + pick(g, []string{" IS TRUE", " IS NOT FALSE", " IS UNKNOWN"})
		}
	}
	op := pick(g, []string{"=", "<>", "<", "<=", ">", ">="})
	if c == cBool {
		op = pick(g, []string{"=", "<>", "IS DISTINCT FROM", "IS NOT DISTINCT FROM"})
	}
	rc := pick(g, comparable(c))
	rhs := g.constant(rc)
	if rc != c {
		rhs = g.typedConstant(rc)
	}
	if g.chance(0.4) {
		rhs = g.expr(rc, scope, depth+1)
	}
	if c == cFloat || rc == cFloat {
		rhs = g.constant(c)
	}
	return lhs + " " + op + " " + rhs
}

// subqueryPredicate is EXISTS, IN, NOT IN or a comparison with a scalar
// subquery, correlated with scope or not.
func (g *Generator) subqueryPredicate(scope []rel, depth int) string {
	inner := g.tableRel(pick(g, g.s.names))
	iscope := []rel{inner}
	corr := ""
	for _, r := range scope {
		if r.table == "" {
			continue
		}
		for _, e := range joinEdges {
			if e.t1 == r.table && e.t2 == inner.table && g.chance(0.7) {
				corr = fmt.Sprintf("%s.%s = %s.%s", inner.alias, e.c2, r.alias, e.c1)
			} else if e.t2 == r.table && e.t1 == inner.table && g.chance(0.7) {
				corr = fmt.Sprintf("%s.%s = %s.%s", inner.alias, e.c1, r.alias, e.c2)
			}
		}
	}
	where := ""
	var conds []string
	if corr != "" {
		conds = append(conds, corr)
	}
	if g.chance(0.6) {
		conds = append(conds, g.predicate(iscope, depth+2))
	}
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	switch g.intn(3) {
	case 0:
		return pick(g, []string{"EXISTS", "NOT EXISTS"}) + " (SELECT 1 FROM " + inner.table + " " + inner.alias + where + ")"
	case 1:
		c := pick(g, []class{cInt, cText, cDate})
		col, ok := g.column(iscope, c)
		lhs, ok2 := g.column(scope, c)
		if ok && ok2 {
			return lhs + pick(g, []string{" IN ", " NOT IN "}) + "(SELECT " + col + " FROM " + inner.table + " " + inner.alias + where + ")"
		}
	}
	c := pick(g, []class{cInt, cNum, cDate, cText})
	col, ok := g.column(iscope, c)
	lhs, ok2 := g.column(scope, c)
	if !ok || !ok2 {
		return "EXISTS (SELECT 1 FROM " + inner.table + " " + inner.alias + where + ")"
	}
	if corr != "" && !slices.Contains(smallTables, inner.table) {
		// Row by row over a large table: keep it uncorrelated.
		where = ""
	}
	return lhs + " " + pick(g, []string{"=", "<", ">="}) + " (SELECT " + pick(g, []string{"min", "max"}) + "(" + col + ") FROM " +
		inner.table + " " + inner.alias + where + ")"
}

// scalarSubquery is a scalar subquery of class c in a select list,
// correlated with a small table when it can be.
func (g *Generator) scalarSubquery(c class, scope []rel, depth int) string {
	for _, t := range smallTables {
		inner := g.tableRel(t)
		col, ok := g.column([]rel{inner}, c)
		if !ok {
			continue
		}
		for _, r := range scope {
			for _, e := range joinEdges {
				if e.t1 == r.table && e.t2 == t {
					return fmt.Sprintf("(SELECT %s(%s) FROM %s %s WHERE %s.%s = %s.%s)", maxOf(c), col, t, inner.alias, inner.alias, e.c2, r.alias, e.c1)
				}
				if e.t2 == r.table && e.t1 == t {
					return fmt.Sprintf("(SELECT %s(%s) FROM %s %s WHERE %s.%s = %s.%s)", maxOf(c), col, t, inner.alias, inner.alias, e.c1, r.alias, e.c2)
				}
			}
		}
		return fmt.Sprintf("(SELECT %s(%s) FROM %s %s)", maxOf(c), col, t, inner.alias)
	}
	return g.constant(c)
}

// maxOf is the aggregate that takes the greatest value of class c.
func maxOf(c class) string {
	if c == cBool {
		return "bool_or"
	}
	return "max"
}
