package catalog

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/distribution"
)

// testRelations: public.t and app.t are tables, app.only a table, public.v
// and app.v views over distributed tables (public.v a plain view with its
// definition, app.v a materialized view without one), s2.t a view.
func testRelations() *Relations {
	return &Relations{
		Tables: map[string]*Table{
			"public.t":   {Schema: "public", Name: "t"},
			"app.t":      {Schema: "app", Name: "t"},
			"app.only":   {Schema: "app", Name: "only"},
			"public.tbl": {Schema: "public", Name: "tbl"},
		},
		DistViews: map[string]bool{"public.v": true, "app.v": true, "s2.t": true, "s2.tbl": true},
		ViewDefs:  map[string]string{"public.v": "SELECT a FROM t", "s2.t": "SELECT 1", "s2.tbl": "SELECT 2"},
	}
}

func TestRelationsResolve(t *testing.T) {
	r := testRelations()
	tests := []struct {
		name       string
		schema, rn string
		path       []string
		table      string // "schema.name" of the table found, "" for none
		view       bool
	}{
		{"qualified table", "app", "t", nil, "app.t", false},
		{"qualified table ignores path", "public", "t", []string{"app"}, "public.t", false},
		{"qualified view", "public", "v", nil, "", true},
		{"qualified unknown", "public", "nope", nil, "", false},
		{"qualified in other schema", "public", "only", []string{"app"}, "", false},
		{"first schema of path wins", "", "t", []string{"app", "public"}, "app.t", false},
		{"path order", "", "t", []string{"public", "app"}, "public.t", false},
		{"later schema", "", "only", []string{"public", "app"}, "app.only", false},
		{"not on path", "", "only", []string{"public"}, "", false},
		{"empty path", "", "t", nil, "", false},
		{"view", "", "v", []string{"public"}, "", true},
		{"view before table", "", "t", []string{"s2", "public"}, "", true},
		{"table before view", "", "tbl", []string{"public", "s2"}, "public.tbl", false},
		{"schema without it", "", "t", []string{"pg_catalog", "nobody", "public"}, "public.t", false},
		{"materialized view", "", "v", []string{"app"}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tbl, view := r.Resolve(tc.schema, tc.rn, tc.path)
			got := ""
			if tbl != nil {
				got = tbl.Schema + "." + tbl.Name
			}
			if got != tc.table || view != tc.view {
				t.Errorf("Resolve(%q, %q, %v) = %q, %v; want %q, %v", tc.schema, tc.rn, tc.path, got, view, tc.table, tc.view)
			}
		})
	}
}

func TestRelationsViewDef(t *testing.T) {
	r := testRelations()
	tests := []struct {
		name       string
		schema, rn string
		path       []string
		def        string
		ok         bool
	}{
		{"qualified", "public", "v", nil, "SELECT a FROM t", true},
		{"qualified without definition", "app", "v", nil, "", false},
		{"qualified table", "public", "t", nil, "", false},
		{"on path", "", "v", []string{"public"}, "SELECT a FROM t", true},
		{"later on path", "", "v", []string{"nobody", "public"}, "SELECT a FROM t", true},
		{"materialized view first", "", "v", []string{"app", "public"}, "", false},
		{"table first", "", "t", []string{"public", "s2"}, "", false},
		{"view first", "", "t", []string{"s2", "public"}, "SELECT 1", true},
		{"not on path", "", "v", []string{"nobody"}, "", false},
		{"empty path", "", "v", nil, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def, ok := r.ViewDef(tc.schema, tc.rn, tc.path)
			if def != tc.def || ok != tc.ok {
				t.Errorf("ViewDef(%q, %q, %v) = %q, %v; want %q, %v", tc.schema, tc.rn, tc.path, def, ok, tc.def, tc.ok)
			}
		})
	}
}

func TestTableHelpers(t *testing.T) {
	tbl := &Table{Schema: "My Schema", Name: "t", Columns: []Column{{Name: "a"}, {Name: "B"}}}
	if got := tbl.QualifiedName(); got != `"My Schema".t` {
		t.Errorf("QualifiedName = %s", got)
	}
	for _, tc := range []struct {
		name string
		idx  int
		ok   bool
	}{{"a", 0, true}, {"B", 1, true}, {"b", -1, false}, {"", -1, false}} {
		if i, ok := tbl.Column(tc.name); i != tc.idx || ok != tc.ok {
			t.Errorf("Column(%q) = %d, %v; want %d, %v", tc.name, i, ok, tc.idx, tc.ok)
		}
	}
}

// loader counts its loads and returns a new Relations each time.
type loader struct {
	mu    sync.Mutex
	loads map[string]int
	err   error
	hook  func()
}

func (l *loader) load(db string) func(context.Context) (*Relations, error) {
	return func(context.Context) (*Relations, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.hook != nil {
			l.hook()
		}
		if l.err != nil {
			return nil, l.err
		}
		if l.loads == nil {
			l.loads = map[string]int{}
		}
		l.loads[db]++
		return &Relations{Tables: map[string]*Table{}}, nil
	}
}

func TestCache(t *testing.T) {
	ctx := context.Background()
	c := NewCache()
	l := &loader{}
	get := func(db string, fresh bool) *Relations {
		t.Helper()
		r, err := c.Get(ctx, db, fresh, l.load(db))
		if err != nil || r == nil {
			t.Fatalf("Get(%s) = %v, %v", db, r, err)
		}
		return r
	}
	g0 := c.Generation()
	a1 := get("a", false)
	if a2 := get("a", false); a2 != a1 || l.loads["a"] != 1 {
		t.Fatalf("second Get loaded again (%d loads)", l.loads["a"])
	}
	b1 := get("b", false)
	if b1 == a1 || l.loads["b"] != 1 {
		t.Fatal("databases share a catalog")
	}
	if a3 := get("a", true); a3 == a1 || l.loads["a"] != 2 {
		t.Fatalf("fresh Get did not load (%d loads)", l.loads["a"])
	}
	a3 := get("a", false)
	if l.loads["a"] != 2 {
		t.Fatal("the fresh load was not kept")
	}
	if c.Generation() != g0 {
		t.Fatal("Generation changed without Invalidate")
	}

	c.Invalidate()
	if c.Generation() == g0 {
		t.Fatal("Invalidate did not change Generation")
	}
	if a4 := get("a", false); a4 == a3 || l.loads["a"] != 3 {
		t.Fatalf("Get after Invalidate did not load (%d loads)", l.loads["a"])
	}
	get("b", false)
	if l.loads["b"] != 2 {
		t.Fatalf("Invalidate did not drop every database (%d loads of b)", l.loads["b"])
	}

	// A failed load returns its error and keeps nothing.
	boom := errors.New("boom")
	l.err = boom
	if r, err := c.Get(ctx, "c", false, l.load("c")); !errors.Is(err, boom) || r != nil {
		t.Fatalf("Get with failing load = %v, %v", r, err)
	}
	if _, err := c.Get(ctx, "a", true, l.load("a")); !errors.Is(err, boom) {
		t.Fatalf("fresh Get with failing load = %v", err)
	}
	l.err = nil
	get("a", false)
	if l.loads["a"] != 3 {
		t.Fatalf("a failed fresh load dropped the cached catalog (%d loads)", l.loads["a"])
	}
	get("c", false)
	if l.loads["c"] != 1 {
		t.Fatalf("c loads %d", l.loads["c"])
	}

	// A catalog loaded while an invalidation happens is stale at once.
	l.hook = func() { c.Invalidate() }
	get("d", false)
	l.hook = nil
	get("d", false)
	if l.loads["d"] != 2 {
		t.Fatalf("a catalog loaded across Invalidate was kept (%d loads)", l.loads["d"])
	}
	get("d", false)
	if l.loads["d"] != 2 {
		t.Fatalf("d loads %d", l.loads["d"])
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := NewCache()
	l := &loader{}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				db := []string{"a", "b"}[j%2]
				if _, err := c.Get(context.Background(), db, j%17 == 0, l.load(db)); err != nil {
					t.Error(err)
					return
				}
				if j%25 == i {
					c.Invalidate()
				}
			}
		}(i)
	}
	wg.Wait()
}

func TestLoad(t *testing.T) {
	pg := clustertest.StartPlain(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgconn.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	exec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql).ReadAll(); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	// Without the pgxc schema: not ready, functions still read.
	exec(`CREATE FUNCTION public.my_volatile() RETURNS int VOLATILE LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION public.my_stable() RETURNS int STABLE LANGUAGE sql AS 'SELECT 1';
CREATE AGGREGATE public.my_sum(int) (SFUNC = int4pl, STYPE = int)`)
	rel, err := Load(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Ready || len(rel.Tables) != 0 {
		t.Errorf("Load without the pgxc schema: Ready %v, %d tables", rel.Ready, len(rel.Tables))
	}
	if !rel.Aggregates["my_sum"] || rel.Aggregates["sum"] {
		t.Errorf("Aggregates: my_sum %v, sum %v; want only the database's own", rel.Aggregates["my_sum"], rel.Aggregates["sum"])
	}
	if !rel.Volatile["my_volatile"] || !rel.Volatile["random"] || rel.Volatile["my_stable"] || rel.Volatile["now"] {
		t.Errorf("Volatile: my_volatile %v random %v my_stable %v now %v", rel.Volatile["my_volatile"], rel.Volatile["random"], rel.Volatile["my_stable"], rel.Volatile["now"])
	}

	exec(BootstrapSQL)
	exec(BootstrapSQL) // idempotent
	exec(`CREATE SCHEMA "App";
CREATE TABLE "App"."Orders" (id int GENERATED BY DEFAULT AS IDENTITY, customer varchar(20) COLLATE "C" NOT NULL,
	note text DEFAULT 'none', dropped int, amount numeric(10,2));
ALTER TABLE "App"."Orders" DROP COLUMN dropped;
CREATE TABLE public.r (k int PRIMARY KEY);
CREATE TABLE public.plain (k int);
CREATE VIEW public.v AS SELECT customer FROM "App"."Orders";
CREATE VIEW public.vv AS SELECT customer FROM public.v;
CREATE MATERIALIZED VIEW public.mv AS SELECT id FROM "App"."Orders";
CREATE VIEW public.rv AS SELECT k FROM public.r;
INSERT INTO pgxc.pgxc_class (pcrelid, pclocatortype, pcattnum, nodeoids, pcnodenames, pcbucketmap)
	VALUES ('"App"."Orders"'::regclass, 'H', 2, '{}', '{dn1,dn2}', '{0,1,1,0}'),
	('public.r'::regclass, 'R', 0, '{}', '{dn1,dn2,dn3}', NULL)`)
	rel, err = Load(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if !rel.Ready || len(rel.Tables) != 2 {
		t.Fatalf("Load: Ready %v, tables %v", rel.Ready, rel.Tables)
	}
	orders := rel.Tables["App.Orders"]
	if orders == nil {
		t.Fatalf("App.Orders not loaded: %v", rel.Tables)
	}
	if orders.RelKind != 'r' || orders.DistCol != 1 || orders.QualifiedName() != `"App"."Orders"` {
		t.Errorf("App.Orders: relkind %c, DistCol %d, %s", orders.RelKind, orders.DistCol, orders.QualifiedName())
	}
	wantLoc := distribution.Locator{Kind: distribution.Hash, Column: "customer", TypeName: "varchar",
		Nodes: []string{"dn1", "dn2"}, Map: distribution.BucketMap{0, 1, 1, 0}}
	if !reflect.DeepEqual(orders.Locator, wantLoc) {
		t.Errorf("App.Orders locator %+v; want %+v", orders.Locator, wantLoc)
	}
	wantCols := []Column{
		{Name: "id", Type: "integer", BaseType: "integer", TypName: "int4", Default: `nextval('"App"."Orders_id_seq"'::regclass)`, NotNull: true, Identity: "d"},
		{Name: "customer", Type: "character varying(20)", BaseType: "character varying", TypName: "varchar", NotNull: true, Collation: `pg_catalog."C"`},
		{Name: "note", Type: "text", BaseType: "text", TypName: "text", Default: "'none'::text"},
		{Name: "amount", Type: "numeric(10,2)", BaseType: "numeric", TypName: "numeric"},
	}
	if !reflect.DeepEqual(orders.Columns, wantCols) {
		t.Errorf("App.Orders columns\n%+v\nwant\n%+v", orders.Columns, wantCols)
	}
	r := rel.Tables["public.r"]
	if r == nil || r.DistCol != -1 || r.Locator.Kind != distribution.Replication || r.Locator.Map != nil ||
		!reflect.DeepEqual(r.Locator.Nodes, []string{"dn1", "dn2", "dn3"}) || len(r.Columns) != 1 {
		t.Errorf("public.r = %+v", r)
	}
	// Views over distributed (not only replicated) tables, transitively.
	wantViews := map[string]bool{"public.v": true, "public.vv": true, "public.mv": true}
	if !reflect.DeepEqual(rel.DistViews, wantViews) {
		t.Errorf("DistViews %v; want %v", rel.DistViews, wantViews)
	}
	if len(rel.ViewDefs) != 2 || rel.ViewDefs["public.v"] == "" || rel.ViewDefs["public.vv"] == "" {
		t.Errorf("ViewDefs %q; want plain views v and vv", rel.ViewDefs)
	}
	if def, ok := rel.ViewDef("", "v", []string{"public"}); !ok || def != rel.ViewDefs["public.v"] || def[len(def)-1] == ';' {
		t.Errorf("ViewDef(v) = %q, %v", def, ok)
	}
	if tbl, view := rel.Resolve("", "Orders", []string{"public", "App"}); tbl != orders || view {
		t.Errorf("Resolve(Orders) = %v, %v", tbl, view)
	}
}
