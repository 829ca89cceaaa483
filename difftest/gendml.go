package difftest

import (
	"fmt"
	"strings"
)

// Random writes: INSERT, UPDATE and DELETE (with RETURNING and subqueries)
// on tables of every distribution, run on both sides; the tables are
// compared after each statement's transaction.

// WriteTables are the tables the random writes change: one per
// distribution, the same columns in each (id is the distribution column of
// the hash and modulo tables).
var WriteTables = []string{"w_hash", "w_mod", "w_rr", "w_repl"}

// WriteSchema creates the write tables (with their XL clauses) and fills them.
func WriteSchema() []string {
	dist := map[string]string{
		"w_hash": "DISTRIBUTE BY HASH (id)", "w_mod": "DISTRIBUTE BY MODULO (id)",
		"w_rr": "DISTRIBUTE BY ROUNDROBIN", "w_repl": "DISTRIBUTE BY REPLICATION",
	}
	var out []string
	for _, t := range WriteTables {
		out = append(out,
			fmt.Sprintf("CREATE TABLE %s (id int, k int, v text, n numeric(10,2), d date, b boolean) %s", t, dist[t]),
			fmt.Sprintf(`INSERT INTO %s SELECT i, i %% 7, 'v' || (i %% 13), (i * 37 %% 1000) / 10.0, date '2024-01-01' + i %% 90,
				CASE i %% 3 WHEN 0 THEN NULL ELSE i %% 2 = 0 END FROM generate_series(1, 60) i`, t))
	}
	return out
}

// writeCol is a column of the write tables and its class.
var writeCols = []genColumn{{"id", cInt}, {"k", cInt}, {"v", cText}, {"n", cNum}, {"d", cDate}, {"b", cBool}}

// Write returns one data-modifying statement.
func (g *Generator) Write() string {
	g.nalias = 0
	g.ctes = nil
	t := pick(g, WriteTables)
	r := rel{alias: g.alias("t"), table: t, cols: writeCols}
	scope := []rel{r}
	switch g.intn(10) {
	case 0, 1, 2:
		return g.insert(t) + g.returning(rel{alias: t, cols: writeCols})
	case 3, 4, 5:
		var sets []string
		for _, c := range g.r.Perm(len(writeCols))[:1+g.intn(3)] {
			col := writeCols[c]
			if col.name == "id" {
				continue // the distribution column of two of them
			}
			sets = append(sets, col.name+" = "+g.writeValue(col.cls, scope))
		}
		if len(sets) == 0 {
			sets = append(sets, "k = k + 1")
		}
		return fmt.Sprintf("UPDATE %s %s SET %s WHERE %s", t, r.alias, strings.Join(sets, ", "), g.writeFilter(scope)) + g.returning(r)
	default:
		return fmt.Sprintf("DELETE FROM %s %s WHERE %s", t, r.alias, g.writeFilter(scope)) + g.returning(r)
	}
}

func (g *Generator) insert(t string) string {
	if g.chance(0.4) {
		// INSERT ... SELECT from another write table.
		src := pick(g, WriteTables)
		s := rel{alias: g.alias("s"), table: src, cols: writeCols}
		return fmt.Sprintf("INSERT INTO %s (id, k, v, n, d, b) SELECT id + %d, k, v || 's', n, d, b FROM %s %s WHERE %s",
			t, 100+g.intn(900), src, s.alias, g.writeFilter([]rel{s}))
	}
	var rows []string
	for i := 0; i < 1+g.intn(4); i++ {
		rows = append(rows, fmt.Sprintf("(%d, %d, %s, %s, %s, %s)", 1+g.intn(200), g.intn(9), g.constant(cText),
			g.constant(cNum), g.writeDate(), g.constant(cBool)))
	}
	cols := "(id, k, v, n, d, b)"
	return "INSERT INTO " + t + " " + cols + " VALUES " + strings.Join(rows, ", ")
}

func (g *Generator) writeDate() string {
	if g.chance(0.1) {
		return "NULL"
	}
	return fmt.Sprintf("date '2024-01-01' + %d", g.intn(120))
}

// writeValue is a new value for a column of class c.
func (g *Generator) writeValue(c class, scope []rel) string {
	switch {
	case g.chance(0.3):
		return g.constant(c)
	case g.chance(0.15) && c == cInt:
		// A scalar subquery over another write table.
		return fmt.Sprintf("(SELECT count(*) FROM %s x WHERE x.k = %s.k)", pick(g, WriteTables), scope[0].alias)
	}
	switch c {
	case cInt:
		return "k + 1"
	case cNum:
		return "n * 2"
	case cText:
		return "v || 'u'"
	case cDate:
		return "d + 1"
	case cBool:
		return "NOT b"
	}
	return g.constant(c)
}

// writeFilter is a WHERE condition of a write: on the distribution column,
// on other columns, or through a subquery.
func (g *Generator) writeFilter(scope []rel) string {
	a := scope[0].alias
	switch g.intn(6) {
	case 0:
		return fmt.Sprintf("%s.id = %d", a, 1+g.intn(200))
	case 1:
		return fmt.Sprintf("%s.id IN (%d, %d, %d)", a, 1+g.intn(200), 1+g.intn(200), 1+g.intn(200))
	case 2:
		return fmt.Sprintf("%s.k IN (SELECT x.k FROM %s x WHERE %s)", a, pick(g, WriteTables), g.predicate([]rel{{alias: "x", cols: writeCols}}, 2))
	case 3:
		return fmt.Sprintf("EXISTS (SELECT 1 FROM %s x WHERE x.id = %s.id AND x.k > %d)", pick(g, WriteTables), a, g.intn(7))
	}
	return g.predicate(scope, 1)
}

// returning is a RETURNING clause, or none.
func (g *Generator) returning(r rel) string {
	if !g.chance(0.4) {
		return ""
	}
	var items []string
	for _, c := range g.r.Perm(len(writeCols))[:1+g.intn(3)] {
		items = append(items, shownAs(r.alias+"."+writeCols[c].name, writeCols[c].cls))
	}
	return " RETURNING " + strings.Join(items, ", ")
}
