package planner_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/distribution"
	"github.com/xlgo/xlgo/planner"
)

var update = flag.Bool("update", false, "rewrite planner/testdata/*.out from the current plans")

// Golden files: planner/testdata/NAME.sql holds statements separated by
// blank lines; a statement may span several lines, and lines starting with
// "--" before it are comments copied to the output. NAME.out holds, for each
// statement, the block as written, then either planner.Explain of its plan or
// "ERROR: <SQLSTATE> <message>", then a blank line. Lines starting with "# "
// after an EXPLAIN are facts of the plan that EXPLAIN does not print: the
// remote SQL of every further node whose SQL differs from the first node's
// (xc_node_id made constant), and for an INSERT the routed columns, whether
// the distribution column's default is filled in and where expressions are
// evaluated.
//
//	go test ./planner -update   rewrites the .out files; review the diff.
var goldenFiles = []string{"select", "dml", "refuse"}

// testEnv is a cluster of one coordinator and two datanodes:
//
//	t   HASH(id)      on datanode1,datanode2  (id int4, v text, n numeric)
//	m   MODULO(a)     on datanode1,datanode2  (a int4, b text)
//	rr  ROUNDROBIN    on datanode1,datanode2  (x int4, y text)
//	r   REPLICATION   on datanode1,datanode2  (id int4, name text)
//	r2  REPLICATION   on datanode2            (id int4, name text)
//	t3  HASH(id)      on datanode1            (id int4, v text)
//	tn  HASH(k)       on datanode1,datanode2  (k numeric, w text)
//	tc  HASH(code)    on datanode1,datanode2  (code varchar(5), q int4)
//	tco HASH(id)      on datanode1,datanode2  (id int4, w text): co-located with t
//	vt  a view over t (DistViews)
func testEnv() *planner.Env {
	col := func(name, typ, typname string) catalog.Column {
		return catalog.Column{Name: name, Type: typ, TypName: typname}
	}
	both := []string{"datanode1", "datanode2"}
	table := func(name string, kind distribution.Kind, distCol int, nodes []string, cols ...catalog.Column) *catalog.Table {
		t := &catalog.Table{Schema: "public", Name: name, RelKind: 'r', Columns: cols, DistCol: distCol,
			Locator: distribution.Locator{Kind: kind, Nodes: nodes}}
		if distCol >= 0 {
			t.Locator.Column = cols[distCol].Name
			t.Locator.TypeName = cols[distCol].TypName
		}
		return t
	}
	tables := []*catalog.Table{
		table("t", distribution.Hash, 0, both,
			col("id", "integer", "int4"), col("v", "text", "text"), col("n", "numeric", "numeric")),
		table("m", distribution.Modulo, 0, both, col("a", "integer", "int4"), col("b", "text", "text")),
		table("rr", distribution.RoundRobin, -1, both, col("x", "integer", "int4"), col("y", "text", "text")),
		table("r", distribution.Replication, -1, both, col("id", "integer", "int4"), col("name", "text", "text")),
		table("r2", distribution.Replication, -1, []string{"datanode2"}, col("id", "integer", "int4"), col("name", "text", "text")),
		table("t3", distribution.Hash, 0, []string{"datanode1"}, col("id", "integer", "int4"), col("v", "text", "text")),
		table("tn", distribution.Hash, 0, both, col("k", "numeric", "numeric"), col("w", "text", "text")),
		table("tc", distribution.Hash, 0, both, col("code", "character varying(5)", "varchar"), col("q", "integer", "int4")),
		table("tco", distribution.Hash, 0, both, col("id", "integer", "int4"), col("w", "text", "text")),
	}
	rel := &catalog.Relations{Tables: map[string]*catalog.Table{}, DistViews: map[string]bool{"public.vt": true}, Volatile: map[string]bool{"random": true, "clock_timestamp": true, "nextval": true}, SetReturning: map[string]bool{"generate_series": true, "unnest": true},
		Aggregates: map[string]bool{}, Ready: true, BytewiseText: true}
	for _, t := range tables {
		rel.Tables[t.Schema+"."+t.Name] = t
	}
	return &planner.Env{
		Rel: rel,
		Nodes: []catalog.Node{
			{Name: "coord1", Type: "C", Host: "localhost", Port: 5432},
			{Name: "datanode1", Type: "D", Host: "localhost", Port: 15432, Primary: true, Preferred: true},
			{Name: "datanode2", Type: "D", Host: "localhost", Port: 15433},
		},
		Groups:     []catalog.Group{{Name: "default_group", Members: both}},
		SearchPath: []string{"public"},
		User:       "xl",
		StatActivity: func() ([]planner.BackendActivity, error) {
			s := func(v string) *string { return &v }
			return []planner.BackendActivity{
				{Node: "datanode1", PID: 4711, Database: s("db"), User: s("xl"), ApplicationName: s("xlgo coord1"), State: s("idle in transaction"),
					Query: s("SELECT 'it''s'"), BackendStart: s("2026-12-05T10:00:00.000001Z"), XactStart: s("2026-12-05T10:00:01Z"),
					QueryStart: s("2026-12-05T10:00:01Z"), WaitEventType: s("Client"), WaitEvent: s("ClientRead"), BackendType: s("client backend"),
					Coordinator: s("coord1"), SessionID: 7},
				{Node: "datanode2", PID: 42, BackendType: s("autovacuum launcher"), BackendStart: s("2026-12-05T09:00:00Z")},
			}, nil
		},
	}
}

// plan parses one statement and plans it by its kind.
func plan(env *planner.Env, sql string) (planner.Plan, error) {
	res, err := pg_query.Parse(sql)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if len(res.Stmts) != 1 {
		return nil, fmt.Errorf("want one statement, got %d", len(res.Stmts))
	}
	node := res.Stmts[0].Stmt
	switch {
	case node.GetSelectStmt() != nil:
		return planner.PlanSelect(env, node)
	case node.GetInsertStmt() != nil:
		return planner.PlanInsert(env, node)
	case node.GetUpdateStmt() != nil, node.GetDeleteStmt() != nil:
		return planner.PlanModify(env, node)
	}
	return nil, fmt.Errorf("not a SELECT, INSERT, UPDATE or DELETE")
}

// render is a plan's EXPLAIN text followed by the "# " lines.
func render(p planner.Plan) string {
	p = canonical(p)
	var b strings.Builder
	b.WriteString(planner.Explain(p))
	b.WriteByte('\n')
	extra(&b, p)
	return b.String()
}

func perNode(b *strings.Builder, nodes []string, sql map[string]string) {
	for _, n := range nodes[min(1, len(nodes)):] {
		if sql[n] != sql[nodes[0]] {
			fmt.Fprintf(b, "# Remote SQL on %s: %s\n", n, sql[n])
		}
	}
}

func extra(b *strings.Builder, p planner.Plan) {
	switch x := p.(type) {
	case *planner.RemoteQuery:
		perNode(b, x.Nodes, x.SQL)
	case *planner.GatherEval:
		for _, in := range x.Inputs {
			perNode(b, in.Nodes, in.SQL)
		}
	case *planner.InsertRows:
		fmt.Fprintf(b, "# columns: (%s); fill default: %t; evaluate on: %s\n",
			strings.Join(x.Columns, ", "), x.FillDefault, x.EvalNode)
		if x.Head != "" {
			var rows []string
			for _, r := range x.Rows {
				var vals []string
				for _, v := range r {
					vals = append(vals, v.SQL)
				}
				rows = append(rows, "("+strings.Join(vals, ", ")+")")
			}
			fmt.Fprintf(b, "# sent: %s VALUES %s%s\n", x.Head, strings.Join(rows, ", "), x.Tail)
		} else if x.DefaultValues != "" {
			fmt.Fprintf(b, "# sent: %s\n", x.DefaultValues)
		}
		if x.Source != nil {
			extra(b, x.Source)
		}
	}
}

var inputParam = regexp.MustCompile(`\$([0-9]+)::text\[\]`)

// canonical orders the inputs of a GatherEval as their rows appear in the
// final SQL and renumbers the parameters to match. The planner finds the
// distributed references by walking the parse tree with protoreflect, whose
// order of sibling fields varies from one build of the binary to the next
// (protobuf's detrand), so the order of the inputs, and the numbers of
// their parameters, are not the same in every build; the plan is equivalent.
func canonical(p planner.Plan) planner.Plan {
	switch x := p.(type) {
	case *planner.InsertRows:
		if x.Source != nil {
			c := *x
			c.Source = canonical(x.Source)
			return &c
		}
	case *planner.GatherEval:
		type in struct {
			input     planner.GatherInput
			base, pos int
		}
		ins := make([]in, len(x.Inputs))
		base := 0
		for i, input := range x.Inputs {
			pos := strings.Index(x.SQL, fmt.Sprintf("unnest($%d::text[]", base+1))
			if pos < 0 {
				return p // not the shape this knows: leave it as is
			}
			ins[i] = in{input, base, pos}
			base += len(input.Columns)
		}
		sort.SliceStable(ins, func(i, j int) bool { return ins[i].pos < ins[j].pos })
		renum := map[int]int{}
		c := &planner.GatherEval{Node: x.Node}
		next := 0
		for _, i := range ins {
			for j := range i.input.Columns {
				next++
				renum[i.base+j+1] = next
			}
			c.Inputs = append(c.Inputs, i.input)
		}
		c.SQL = inputParam.ReplaceAllStringFunc(x.SQL, func(m string) string {
			n, _ := strconv.Atoi(inputParam.FindStringSubmatch(m)[1])
			if r, ok := renum[n]; ok {
				n = r
			}
			return fmt.Sprintf("$%d::text[]", n)
		})
		return c
	}
	return p
}

// splitBlocks splits a .sql file into blank-line separated blocks and
// returns each block's text and its statement (the non-comment lines).
func splitBlocks(text string) (blocks, stmts []string) {
	for _, blk := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		blk = strings.Trim(blk, "\n")
		if strings.TrimSpace(blk) == "" {
			continue
		}
		var sql []string
		for _, l := range strings.Split(blk, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "--") {
				sql = append(sql, l)
			}
		}
		if len(sql) == 0 {
			continue // a comment-only block is not copied
		}
		blocks = append(blocks, blk)
		stmts = append(stmts, strings.Join(sql, "\n"))
	}
	return blocks, stmts
}

func TestGolden(t *testing.T) {
	for _, name := range goldenFiles {
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", name+".sql"))
			if err != nil {
				t.Fatal(err)
			}
			blocks, stmts := splitBlocks(string(in))
			var out strings.Builder
			for i, sql := range stmts {
				env := testEnv()
				out.WriteString(blocks[i] + "\n")
				p, err := plan(env, sql)
				var pgErr *pgconn.PgError
				switch {
				case errors.As(err, &pgErr):
					fmt.Fprintf(&out, "ERROR: %s %s\n", pgErr.Code, pgErr.Message)
				case err != nil:
					t.Fatalf("statement %d %q: %v", i+1, sql, err)
				default:
					out.WriteString(render(p))
					// Planning twice gives the same plan.
					if again, _ := plan(env, sql); again == nil || render(again) != render(p) {
						t.Errorf("statement %q: planning again gives another plan", sql)
					}
				}
				out.WriteByte('\n')
			}
			path := filepath.Join("testdata", name+".out")
			if *update {
				if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./planner -update)", err)
			}
			if got := out.String(); got != string(want) {
				t.Errorf("%s differs from the current plans (go test ./planner -update rewrites it):\n%s",
					path, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff shows the first lines where two texts differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 20; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d\n  want: %s\n  got:  %s\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}

// TestPinMatchesLocator checks that a point query goes to the node the
// locator sends the value to, for hash, modulo and numeric hash tables.
func TestPinMatchesLocator(t *testing.T) {
	env := testEnv()
	cases := []struct{ table, col string }{{"t", "id"}, {"m", "a"}, {"tn", "k"}}
	for _, c := range cases {
		loc := env.Rel.Tables["public."+c.table].Locator
		for v := -3; v <= 20; v++ {
			text := fmt.Sprint(v)
			want, ok, err := loc.NodeForText(&text)
			if err != nil || !ok {
				t.Fatalf("%s: NodeForText(%s): %v %v", c.table, text, ok, err)
			}
			for _, sql := range []string{
				fmt.Sprintf("SELECT * FROM %s WHERE %s = %d", c.table, c.col, v),
				fmt.Sprintf("SELECT * FROM %s WHERE %d = %s", c.table, v, c.col),
				fmt.Sprintf("SELECT * FROM %s WHERE %s = '%d'", c.table, c.col, v),
				fmt.Sprintf("UPDATE %s SET %s WHERE %s = %d", c.table, map[string]string{"t": "v = 'x'", "m": "b = 'x'", "tn": "w = 'x'"}[c.table], c.col, v),
				fmt.Sprintf("DELETE FROM %s WHERE %s = %d", c.table, c.col, v),
			} {
				p, err := plan(env, sql)
				if err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
				rq, ok := p.(*planner.RemoteQuery)
				if !ok || len(rq.Nodes) != 1 || rq.Nodes[0] != loc.Nodes[want] {
					t.Errorf("%s: got\n%s\nwant a single-node plan on %s", sql, planner.Explain(p), loc.Nodes[want])
				}
			}
		}
	}
}

// TestPlanningLeavesTreeAlone: the planners work on a copy of the statement.
func TestPlanningLeavesTreeAlone(t *testing.T) {
	env := testEnv()
	for _, name := range goldenFiles {
		in, err := os.ReadFile(filepath.Join("testdata", name+".sql"))
		if err != nil {
			t.Fatal(err)
		}
		_, stmts := splitBlocks(string(in))
		for _, sql := range stmts {
			res, err := pg_query.Parse(sql)
			if err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
			node := res.Stmts[0].Stmt
			before := proto.Clone(node)
			switch {
			case node.GetSelectStmt() != nil:
				_, _ = planner.PlanSelect(env, node)
			case node.GetInsertStmt() != nil:
				_, _ = planner.PlanInsert(env, node)
			default:
				_, _ = planner.PlanModify(env, node)
			}
			if !proto.Equal(before, node) {
				t.Errorf("%s: planning changed the statement's parse tree", sql)
			}
		}
	}
}

// TestGatherPushesWhereTerms: the WHERE terms of a query level that read
// one distributed table alone (its only relation, or named with its alias
// and not NULL-extended by an outer join) run on the datanodes and leave the
// final SQL; the others stay in the final SQL.
func TestGatherPushesWhereTerms(t *testing.T) {
	cases := []struct {
		sql          string
		pushed, kept []string
	}{
		{"SELECT count(*) FROM t WHERE v = 'a' AND n > 1", []string{"v = 'a'", "n > 1"}, nil},
		{"SELECT * FROM (SELECT * FROM t WHERE v = 'a' AND length(v) > 3) AS s", []string{"v = 'a'"}, []string{"length(v) > 3"}},
		{"SELECT * FROM t WHERE id IN (SELECT a FROM m WHERE b = 'x' AND a < t.id) AND v = 'y'", []string{"b = 'x'", "v = 'y'"}, []string{"id IN (SELECT a FROM"}},
		{"SELECT v, count(*) FROM t WHERE xc_node_id = 1 GROUP BY v", []string{"'::int = 1"}, nil},
		// Joined with another table: a term naming its own columns with its
		// alias runs on the datanodes too (an inner join).
		{"SELECT * FROM t JOIN m ON t.id = m.a WHERE t.v = 'x' ORDER BY 1", []string{"t.v = 'x'"}, nil},
		// ... but not on the nullable side of an outer join.
		{"SELECT * FROM t LEFT JOIN m ON t.id = m.a WHERE m.b = 'x' ORDER BY 1", nil, []string{"m.b = 'x'"}},
	}
	env := testEnv()
	for _, c := range cases {
		p, err := plan(env, c.sql)
		if err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		// Either a gather (terms kept in its final SQL) or primitives over
		// remote scans (which keep none).
		g, ok := p.(*planner.GatherEval)
		remote := ""
		if ok {
			for _, in := range g.Inputs {
				for _, n := range in.Nodes {
					remote += in.SQL[n] + "\n"
				}
			}
		} else {
			if len(c.kept) > 0 {
				t.Fatalf("%s: want a Coordinator Evaluate, got\n%s", c.sql, planner.Explain(p))
			}
			g = &planner.GatherEval{}
			planner.WalkPlan(p, func(x planner.Plan) {
				switch s := x.(type) {
				case *planner.RemoteScan:
					for _, n := range s.Nodes {
						remote += s.SQL[n] + "\n"
					}
				case *planner.RemoteQuery:
					for _, n := range s.Nodes {
						remote += s.SQL[n] + "\n"
					}
				}
			})
		}
		for _, term := range c.pushed {
			if !strings.Contains(remote, term) {
				t.Errorf("%s: %q not run remotely:\n%s", c.sql, term, remote)
			}
			if strings.Contains(g.SQL, term) {
				t.Errorf("%s: %q still in the final SQL: %s", c.sql, term, g.SQL)
			}
		}
		for _, term := range c.kept {
			if !strings.Contains(g.SQL, term) {
				t.Errorf("%s: %q missing from the final SQL: %s", c.sql, term, g.SQL)
			}
		}
		if len(c.pushed) == 0 && strings.Contains(remote, "WHERE") {
			t.Errorf("%s: nothing should be pushed:\n%s", c.sql, remote)
		}
	}
}

func TestReadsANodeTwice(t *testing.T) {
	env := testEnv()
	for sql, want := range map[string]bool{
		"SELECT * FROM t WHERE id = 5":                  false, // one node, one statement
		"SELECT * FROM t ORDER BY id":                   false, // one scan per node
		"SELECT t.v, m.b FROM t JOIN m ON t.id = m.a":   true,  // both scans on both nodes
		"SELECT count(*) FROM t":                        false,
		"SELECT sum(n) OVER (ORDER BY id) FROM t":       false, // the gather's final query reads only the pulled rows
		"SELECT sum(n) OVER (ORDER BY id) FROM t, r":    true,  // ... and here a replicated table
		"SELECT t.v FROM t JOIN t3 ON t.id = t3.id + 1": true,
	} {
		p, err := plan(env, sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if got := planner.ReadsANodeTwice(p); got != want {
			t.Errorf("%s: ReadsANodeTwice = %v, want %v\n%s", sql, got, want, planner.Explain(p))
		}
	}
}
