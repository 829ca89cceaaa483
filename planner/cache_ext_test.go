package planner_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/xlgo/xlgo/planner"
)

const scope = "db\x00public"

// planText parses and plans text, as the simple protocol does.
func planText(t *testing.T, env *planner.Env, text string) (*pg_query.Node, planner.Plan, error) {
	t.Helper()
	res, err := pg_query.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	env.SQL = text
	p, err := planner.PlanStatement(env, res.Stmts[0].Stmt)
	return res.Stmts[0].Stmt, p, err
}

// learnText plans text and keeps its template, as the simple protocol does.
func learnText(t *testing.T, c *planner.StatementCache, env *planner.Env, gen uint64, text string) {
	t.Helper()
	st, ok := planner.ShapeText(text)
	if !ok {
		t.Fatalf("%s: no shape", text)
	}
	stmt, p, err := planText(t, env, text)
	if err != nil {
		t.Fatal(err)
	}
	c.Learn(&st, gen, scope, stmt, p)
}

// plannedNode is the one node planning text gives, or "".
func plannedNode(t *testing.T, env *planner.Env, text string) string {
	t.Helper()
	_, p, err := planText(t, env, text)
	if err != nil {
		return ""
	}
	if rq, ok := p.(*planner.RemoteQuery); ok && len(rq.Nodes) == 1 {
		return rq.Nodes[0]
	}
	return ""
}

// TestStatementCacheTexts: a template learnt from one constant gives, for
// every other value of the same shape, the node planning gives, or none.
func TestStatementCacheTexts(t *testing.T) {
	env := testEnv()
	for _, c := range []struct {
		learn, other string // other has %s for the value
		values       []string
	}{
		{"SELECT v FROM t WHERE id = 7", "SELECT v FROM t WHERE id = %s",
			[]string{"0", "1", "2", "3", "17", "100000", "2147483647", "3000000000", "99999999999999999999"}},
		{"UPDATE t SET v = 'x' WHERE id = 7", "UPDATE t SET v = 'y' WHERE id = %s", []string{"1", "2", "3", "4"}},
		{"SELECT b FROM m WHERE a = 3", "SELECT b FROM m WHERE a = %s", []string{"0", "1", "2", "3", "4", "5"}},
		{"SELECT w FROM tn WHERE k = 3", "SELECT w FROM tn WHERE k = %s", []string{"1", "2", "10", "12345678901234567890"}},
	} {
		cache := &planner.StatementCache{}
		learnText(t, cache, env, 1, c.learn)
		learnt := 0
		for _, v := range c.values {
			text := fmt.Sprintf(c.other, v)
			st, _ := planner.ShapeText(text)
			tpl := cache.Lookup(&st, 1, scope)
			if tpl == nil {
				continue
			}
			learnt++
			node, ok := tpl.Node(st.Consts[tpl.Value()].Value)
			if !ok {
				continue // planned as usual
			}
			if want := plannedNode(t, env, text); node != want {
				t.Errorf("%s: template gives %s, planning %q", text, node, want)
			}
		}
		if learnt == 0 {
			t.Errorf("%s: no template", c.learn)
		}
	}
	cache := &planner.StatementCache{}
	learnText(t, cache, env, 1, "SELECT v FROM t WHERE id = 7")
	for _, c := range []struct {
		text  string
		gen   uint64
		scope string
	}{
		{"SELECT v FROM t WHERE id = 8", 2, scope},            // the catalog changed
		{"SELECT v FROM t WHERE id = 8", 1, "db\x00s,public"}, // another search path
		{"SELECT v FROM t WHERE id = '8'", 1, scope},          // a string for an int column
		{"SELECT v FROM t WHERE id = NULL", 1, scope},
		{"SELECT v FROM t WHERE id = 8 OR id = 9", 1, scope},
	} {
		st, _ := planner.ShapeText(c.text)
		if tpl := cache.Lookup(&st, c.gen, c.scope); tpl != nil {
			t.Errorf("%s (generation %d, scope %q): template found", c.text, c.gen, c.scope)
		}
	}
	// A value beyond int4 has no node of its own: planned as usual.
	st, _ := planner.ShapeText("SELECT v FROM t WHERE id = 3000000000")
	if tpl := cache.Lookup(&st, 1, scope); tpl == nil {
		t.Error("no template")
	} else if n, ok := tpl.Node(st.Consts[tpl.Value()].Value); ok {
		t.Errorf("3000000000 for an int4 column: node %s", n)
	}
	// A varchar(5) column: its values are not read by the coordinator.
	learnText(t, cache, env, 1, "SELECT q FROM tc WHERE code = 'ab'")
	st, _ = planner.ShapeText("SELECT q FROM tc WHERE code = 'cd'")
	if tpl := cache.Lookup(&st, 1, scope); tpl != nil {
		if n, ok := tpl.Node("cd"); ok {
			t.Errorf("varchar(5): node %s", n)
		}
	}
}

// TestStatementCachePrepared: two sessions preparing the same text with the
// same types share its template, which gives each value's node.
func TestStatementCachePrepared(t *testing.T) {
	env := testEnv()
	cache := &planner.StatementCache{}
	const text = "SELECT v FROM t WHERE id = $1"
	first := planner.PreparedStatement(text, []uint32{23})
	env.Params = []planner.Param{{Text: []byte("7"), Type: "integer"}}
	stmt, p, err := planText(t, env, text)
	if err != nil {
		t.Fatal(err)
	}
	cache.Learn(&first, 1, scope, stmt, p)
	second := planner.PreparedStatement(text, []uint32{23})
	tpl := cache.Lookup(&second, 1, scope)
	if tpl == nil || tpl.Value() != 0 {
		t.Fatalf("the second session's lookup: %v", tpl)
	}
	for _, v := range []string{"1", "2", "3", "8", "-4", "2147483647"} {
		n, ok := tpl.Node(v)
		if want := plannedNode(t, testEnv(), "SELECT v FROM t WHERE id = "+v); !ok || n != want {
			t.Errorf("$1 = %s: template gives %s %v, planning %s", v, n, ok, want)
		}
	}
	for _, v := range []string{"3000000000", "x", "1.5"} {
		if n, ok := tpl.Node(v); ok {
			t.Errorf("$1 = %s for int4: node %s", v, n)
		}
	}
	for _, other := range []planner.Statement{
		planner.PreparedStatement(text, []uint32{20}), // int8
		planner.PreparedStatement(text+" ", []uint32{23}),
	} {
		if cache.Lookup(&other, 1, scope) != nil {
			t.Errorf("%q: template of another statement", other.Key)
		}
	}
	if cache.Lookup(&second, 2, scope) != nil {
		t.Error("template outlives the catalog generation")
	}
}

// TestStatementCacheShared: sessions learn and look up at once; every
// template read is whole (run with -race).
func TestStatementCacheShared(t *testing.T) {
	env := testEnv()
	type learnt struct {
		st   planner.Statement
		stmt *pg_query.Node
		plan planner.Plan
	}
	var all []learnt
	for i := 0; i < 20; i++ {
		text := fmt.Sprintf("SELECT v FROM t WHERE id = %d%s", i, strings.Repeat(" ", i%3))
		st, _ := planner.ShapeText(text)
		stmt, p, err := planText(t, env, text)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, learnt{st, stmt, p})
	}
	cache := &planner.StatementCache{}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 200; n++ {
				l := all[(n+g)%len(all)]
				cache.Learn(&l.st, uint64(n%2), scope, l.stmt, l.plan)
				if tpl := cache.Lookup(&l.st, uint64(n%2), scope); tpl != nil {
					if _, ok := tpl.Node(l.st.Consts[tpl.Value()].Value); !ok {
						t.Error("template without a node")
					}
					tpl.TextParams(&l.st)
				}
			}
		}()
	}
	wg.Wait()
}
