package difftest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/xlgo/xlgo/dialect"
)

// Query is one statement of the corpus with the section it was found in.
type Query struct {
	N       int    // 1-based position in the corpus
	Section string // the last "-- section: NAME" comment before it
	SQL     string // without leading comment lines
}

// ParseCorpus splits a corpus file into its statements (separated by ';',
// split by PostgreSQL's lexer). A comment line "-- section: NAME" names the
// section of the statements that follow it; other comment lines are dropped.
func ParseCorpus(text string) ([]Query, error) {
	stmts, err := dialect.SplitStatements(text)
	if err != nil {
		return nil, err
	}
	var qs []Query
	section := ""
	for _, s := range stmts {
		var body []string
		for _, line := range strings.Split(s, "\n") {
			t := strings.TrimSpace(line)
			if len(body) == 0 && strings.HasPrefix(t, "--") {
				if name, ok := strings.CutPrefix(t, "-- section:"); ok {
					section = strings.TrimSpace(name)
				}
				continue
			}
			if len(body) == 0 && t == "" {
				continue
			}
			body = append(body, line)
		}
		if len(body) == 0 {
			continue
		}
		qs = append(qs, Query{N: len(qs) + 1, Section: section, SQL: strings.TrimSpace(strings.Join(body, "\n"))})
	}
	return qs, nil
}

// PlainSQL is a statement of the schema as plain PostgreSQL takes it: any XL
// clause (DISTRIBUTE BY, TO NODE, TO GROUP) taken out by the dialect parser.
func PlainSQL(stmt string) (string, error) {
	st, err := dialect.Parse(stmt)
	if err != nil {
		return "", err
	}
	p, ok := st.(*dialect.Passthrough)
	if !ok {
		return "", fmt.Errorf("%T is an XL-only statement: %s", st, stmt)
	}
	return p.SQL, nil
}

// OrderedTotally reports whether the query's top-level ORDER BY decides the
// order of its output rows completely as far as their text can tell: every
// output column is a sort key (by position, output name or the same
// expression). Rows of such a query are compared in order; rows of any other
// query as a multiset.
func OrderedTotally(sql string) bool {
	tree, err := pg_query.Parse(sql)
	if err != nil || len(tree.Stmts) != 1 {
		return false
	}
	sel := tree.Stmts[0].Stmt.GetSelectStmt()
	if sel == nil || len(sel.SortClause) == 0 {
		return false
	}
	var keys []*pg_query.Node
	for _, n := range sel.SortClause {
		sb := n.GetSortBy()
		if sb == nil {
			return false
		}
		k := sb.Node
		for k.GetCollateClause() != nil {
			k = k.GetCollateClause().Arg
		}
		keys = append(keys, k)
	}
	left := sel
	for left.Op != pg_query.SetOperation_SETOP_NONE {
		left = left.Larg
	}
	if len(left.TargetList) == 0 {
		return false
	}
	for i, n := range left.TargetList {
		rt := n.GetResTarget()
		if rt == nil || rt.Val == nil {
			return false
		}
		if cr := rt.Val.GetColumnRef(); cr != nil && cr.Fields[len(cr.Fields)-1].GetAStar() != nil {
			return false
		}
		name := rt.Name
		if name == "" {
			if cr := rt.Val.GetColumnRef(); cr != nil {
				name = cr.Fields[len(cr.Fields)-1].GetString_().GetSval()
			}
		}
		covered := false
		for _, k := range keys {
			if c := k.GetAConst(); c != nil && c.GetIval() != nil && int(c.GetIval().Ival) == i+1 {
				covered = true
			} else if cr := k.GetColumnRef(); cr != nil && len(cr.Fields) == 1 && name != "" &&
				cr.Fields[0].GetString_().GetSval() == name {
				covered = true
			} else if sameExpr(k, rt.Val, tree.Version) {
				covered = true
			}
			if covered {
				break
			}
		}
		if !covered {
			return false
		}
	}
	return true
}

// sameExpr compares two expressions by their deparsed text (version is the
// parse tree's).
func sameExpr(a, b *pg_query.Node, version int32) bool {
	da, ea := deparseExpr(a, version)
	db, eb := deparseExpr(b, version)
	return ea == nil && eb == nil && da == db
}

func deparseExpr(n *pg_query.Node, version int32) (string, error) {
	sel := &pg_query.SelectStmt{TargetList: []*pg_query.Node{
		{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Val: n}}},
	}}
	return pg_query.Deparse(&pg_query.ParseResult{Version: version, Stmts: []*pg_query.RawStmt{
		{Stmt: &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: sel}}},
	}})
}

// Row is one result row in text form; a nil entry is NULL.
type Row []*string

// String writes a row as a comma-separated list of quoted values and NULL.
func (r Row) String() string {
	parts := make([]string, len(r))
	for i, v := range r {
		if v == nil {
			parts[i] = "NULL"
		} else {
			parts[i] = strconv.Quote(*v)
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// CompareRows returns "" when got and want hold the same rows (in the same
// order when ordered), else a short description of the difference.
func CompareRows(got, want []Row, ordered bool) string {
	if ordered {
		if len(got) != len(want) {
			return fmt.Sprintf("%d rows, want %d\n%s", len(got), len(want), sideBySide(got, want, 0))
		}
		for i := range got {
			if got[i].String() != want[i].String() {
				return fmt.Sprintf("row %d differs (ordered)\n%s", i+1, sideBySide(got, want, i))
			}
		}
		return ""
	}
	count := map[string]int{}
	for _, r := range got {
		count[r.String()]++
	}
	for _, r := range want {
		count[r.String()]--
	}
	var extra, missing []string
	for k, n := range count {
		for ; n > 0; n-- {
			extra = append(extra, k)
		}
		for ; n < 0; n++ {
			missing = append(missing, k)
		}
	}
	if len(extra) == 0 && len(missing) == 0 {
		return ""
	}
	sort.Strings(extra)
	sort.Strings(missing)
	var b strings.Builder
	fmt.Fprintf(&b, "%d rows, want %d (as multiset): %d extra, %d missing", len(got), len(want), len(extra), len(missing))
	writeSome(&b, "extra on the coordinator", extra)
	writeSome(&b, "missing on the coordinator", missing)
	return b.String()
}

const shown = 8

func writeSome(b *strings.Builder, what string, rows []string) {
	for i, r := range rows {
		if i == shown {
			fmt.Fprintf(b, "\n    ... %d more %s", len(rows)-shown, what)
			break
		}
		fmt.Fprintf(b, "\n    %s: %s", what, truncate(r, 200))
	}
}

// sideBySide shows a few rows of both results from index from on.
func sideBySide(got, want []Row, from int) string {
	var b strings.Builder
	for i := from; i < from+shown && (i < len(got) || i < len(want)); i++ {
		g, w := "-", "-"
		if i < len(got) {
			g = got[i].String()
		}
		if i < len(want) {
			w = want[i].String()
		}
		mark := " "
		if g != w {
			mark = "!"
		}
		fmt.Fprintf(&b, "  %s row %d: coordinator %s | postgres %s\n", mark, i+1, truncate(g, 120), truncate(w, 120))
	}
	return strings.TrimRight(b.String(), "\n")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
