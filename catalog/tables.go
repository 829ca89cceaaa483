package catalog

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/dialect"
	"github.com/xlgo/xlgo/distribution"
)

// Schema is the schema on every datanode that holds the distribution catalog.
const Schema = "pgxc"

// BootstrapSQL creates the distribution catalog in a database; it is
// idempotent and runs on every datanode. Sessions that run their first DDL
// in a new database at once take turns (CREATE ... IF NOT EXISTS alone is
// not safe against a concurrent creation): the advisory lock, held to the
// end of the statements' one implicit transaction, makes the second see
// what the first created.
const BootstrapSQL = `SELECT pg_advisory_xact_lock(` + bootstrapLock + `);
CREATE SCHEMA IF NOT EXISTS pgxc;
CREATE TABLE IF NOT EXISTS pgxc.pgxc_class (
	pcrelid oid PRIMARY KEY,
	pclocatortype "char" NOT NULL,
	pcattnum int2 NOT NULL DEFAULT 0,
	pchashalgorithm int2 NOT NULL DEFAULT 1,
	pchashbuckets int2 NOT NULL DEFAULT 4096,
	nodeoids oid[] NOT NULL,
	pcnodenames name[] NOT NULL,
	pcbucketmap int2[]
);
ALTER TABLE pgxc.pgxc_class ADD COLUMN IF NOT EXISTS pcfrozen int2[];
ALTER TABLE pgxc.pgxc_class ADD COLUMN IF NOT EXISTS pcgroup name;
ALTER TABLE pgxc.pgxc_class ADD COLUMN IF NOT EXISTS pctarget name[];
CREATE TABLE IF NOT EXISTS pgxc.pgxc_move_log (id bigserial PRIMARY KEY, relid oid NOT NULL, val text);
CREATE TABLE IF NOT EXISTS pgxc.pgxc_move_active (relid oid PRIMARY KEY)`

// The columns of pgxc_class beyond Postgres-XL's:
//   - pcfrozen: the buckets whose rows are switching to another node now,
//     {-1} while the whole table is rewritten (a change of its distribution);
//   - pcgroup: the node group the table was created in, NULL for the
//     default group (every datanode, which grows with xlctl add datanode);
//   - pctarget: while the table's rows move, the node list they move to
//     (durable with the catalog: a move cut short resumes towards it).
// pgxc_move_log holds the distribution values a moving table's writes touch
// on the node its rows leave, for the move to catch up with, while the table
// is in pgxc_move_active there.

// bootstrapLock is the advisory lock key BootstrapSQL takes ("xlgo" in
// ASCII).
const bootstrapLock = "2020370287"

// Column is a column of a distributed table as the datanodes define it.
type Column struct {
	Name string
	Type string // format_type(): "character varying(100)"
	// BaseType is the type without its modifier ("character varying"; for
	// character and bit, bpchar and bit varying, which have no length): a
	// value cast to it keeps what the column's own coercion would check.
	BaseType string
	TypName  string // pg_type.typname: "varchar"
	Default  string // pg_get_expr of the default, "" when none
	NotNull  bool
	// Collation is the column's collation when it is not its type's
	// default (a qualified, quoted name), else "".
	Collation string
	// Identity is pg_attribute.attidentity: "a" (ALWAYS), "d" (BY DEFAULT)
	// or "". Default then names the identity's sequence (nextval).
	Identity string
}

// Table is a distributed (or replicated) table and where its rows live.
type Table struct {
	Schema, Name string
	RelKind      byte // 'r' table, 'p' partitioned table
	Locator      distribution.Locator
	Columns      []Column
	DistCol      int // index into Columns of the distribution column; -1 when none
	// Group is the node group the table was created in, "" for the
	// default group (every datanode).
	Group string
	// Target is the node list the table's rows are moving to, nil when
	// they are not moving.
	Target []string
}

// QualifiedName is schema.name, quoted where needed.
func (t *Table) QualifiedName() string { return quoteIdent(t.Schema) + "." + quoteIdent(t.Name) }

// Column finds a column by name.
func (t *Table) Column(name string) (int, bool) {
	for i, c := range t.Columns {
		if c.Name == name {
			return i, true
		}
	}
	return -1, false
}

// Relations is one database's distribution catalog as of one load.
type Relations struct {
	Tables     map[string]*Table // key: schema + "." + name (unquoted)
	DistViews  map[string]bool   // views that read distributed tables, same keys
	ViewDefs   map[string]string // their definitions (plain views only)
	Aggregates map[string]bool   // names of the database's aggregate functions
	Volatile   map[string]bool   // names of volatile functions
	// SetReturning names the functions that return sets (in any schema).
	SetReturning map[string]bool
	Ready        bool // the pgxc schema exists in this database
	// Current: the catalog has every table and column of this version
	// (BootstrapSQL brings an older one up to date).
	Current bool
	// BytewiseText: the database's default collation orders text as its
	// bytes do (C, POSIX, C.UTF-8), so the coordinator can compare text
	// values itself.
	BytewiseText bool
}

// ViewDef is the definition of a view over distributed tables that a name
// means under a search path, if it is one.
func (r *Relations) ViewDef(schema, name string, searchPath []string) (string, bool) {
	if schema != "" {
		d, ok := r.ViewDefs[schema+"."+name]
		return d, ok
	}
	for _, s := range searchPath {
		k := s + "." + name
		if _, ok := r.Tables[k]; ok {
			return "", false
		}
		if d, ok := r.ViewDefs[k]; ok {
			return d, true
		}
		if r.DistViews[k] {
			return "", false
		}
	}
	return "", false
}

// Resolve finds the relation an unqualified or qualified name means under a
// search path (PostgreSQL searches pg_catalog first unless it is listed).
// It returns the table (nil if not distributed) and whether it is a view over
// distributed tables.
func (r *Relations) Resolve(schema, name string, searchPath []string) (*Table, bool) {
	if schema != "" {
		k := schema + "." + name
		return r.Tables[k], r.DistViews[k]
	}
	for _, s := range searchPath {
		k := s + "." + name
		if t, ok := r.Tables[k]; ok {
			return t, false
		}
		if r.DistViews[k] {
			return nil, true
		}
	}
	return nil, false
}

const loadTablesSQL = `SELECT c.oid, n.nspname, c.relname, c.relkind, p.pclocatortype, p.pcattnum,
	array_to_string(p.pcnodenames, ','), coalesce(array_to_string(p.pcbucketmap, ','), ''),
	coalesce(to_jsonb(p)->>'pcfrozen', ''), coalesce(to_jsonb(p)->>'pcgroup', ''), coalesce(to_jsonb(p)->>'pctarget', '')
FROM pgxc.pgxc_class p JOIN pg_class c ON c.oid = p.pcrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT LIKE 'pg\_temp\_%';
SELECT a.attrelid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), t.typname,
	coalesce(pg_get_expr(d.adbin, d.adrelid),
		CASE WHEN a.attidentity <> '' THEN 'nextval(' || quote_literal(pg_get_serial_sequence(a.attrelid::regclass::text, a.attname)) || '::regclass)' END, ''),
	a.attnotnull,
	-- Without a modifier, character and bit mean length 1, and a cast to
	-- them cuts: their base types are the unbounded ones.
	CASE t.typname WHEN 'bpchar' THEN 'bpchar' WHEN '_bpchar' THEN 'bpchar[]' WHEN 'bit' THEN 'bit varying'
		WHEN '_bit' THEN 'bit varying[]' ELSE format_type(a.atttypid, NULL) END,
	coalesce((SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co
		JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation AND a.attcollation <> t.typcollation), ''),
	a.attidentity
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid IN (SELECT pcrelid FROM pgxc.pgxc_class) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY 1, 2;
WITH RECURSIVE dv(oid) AS (
	SELECT r.ev_class FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
	WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid IN (SELECT pcrelid FROM pgxc.pgxc_class WHERE pclocatortype <> 'R')
		AND r.ev_class NOT IN (SELECT pcrelid FROM pgxc.pgxc_class)
	UNION
	SELECT r.ev_class FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
	JOIN dv ON d.refobjid = dv.oid WHERE r.ev_class <> dv.oid
)
SELECT n.nspname, c.relname, c.relkind, pg_get_viewdef(c.oid) FROM dv JOIN pg_class c ON c.oid = dv.oid JOIN pg_namespace n ON n.oid = c.relnamespace`

// Load reads a database's distribution catalog through a connection to one datanode.
func Load(ctx context.Context, conn *pgconn.PgConn) (*Relations, error) {
	rel := &Relations{Tables: map[string]*Table{}, DistViews: map[string]bool{}, ViewDefs: map[string]string{}, Aggregates: map[string]bool{}, Volatile: map[string]bool{},
		SetReturning: map[string]bool{}}
	res, err := conn.Exec(ctx, `SELECT to_regclass('pgxc.pgxc_class') IS NOT NULL;
SELECT DISTINCT proname FROM pg_proc WHERE prokind = 'a' AND pronamespace <> 'pg_catalog'::regnamespace;
SELECT DISTINCT proname FROM pg_proc WHERE provolatile = 'v' AND prokind = 'f';
SELECT datcollate, datlocprovider FROM pg_database WHERE datname = current_database();
SELECT DISTINCT proname FROM pg_proc WHERE proretset;
SELECT to_regclass('pgxc.pgxc_move_log') IS NOT NULL`).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read distribution catalog: %w", err)
	}
	if len(res) != 6 || len(res[0].Rows) != 1 {
		return nil, fmt.Errorf("read distribution catalog: %d results", len(res))
	}
	if rows := res[3].Rows; len(rows) == 1 && string(rows[0][1]) == "c" {
		rel.BytewiseText = BytewiseCollation(string(rows[0][0]))
	}
	for _, row := range res[1].Rows {
		rel.Aggregates[string(row[0])] = true
	}
	for _, row := range res[2].Rows {
		rel.Volatile[string(row[0])] = true
	}
	for _, row := range res[4].Rows {
		rel.SetReturning[string(row[0])] = true
	}
	if string(res[0].Rows[0][0]) != "t" {
		return rel, nil
	}
	rel.Current = len(res[5].Rows) == 1 && string(res[5].Rows[0][0]) == "t"
	rel.Ready = true
	res, err = conn.Exec(ctx, loadTablesSQL).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read distribution catalog: %w", err)
	}
	if len(res) != 3 {
		return nil, fmt.Errorf("read distribution catalog: %d results", len(res))
	}
	byOID := map[string]*Table{}
	attnums := map[string]int{}
	for _, row := range res[0].Rows {
		t := &Table{Schema: string(row[1]), Name: string(row[2]), DistCol: -1}
		if len(row[3]) > 0 {
			t.RelKind = row[3][0]
		}
		if len(row[4]) > 0 {
			t.Locator.Kind = distribution.Kind(row[4][0])
		}
		if s := string(row[6]); s != "" {
			t.Locator.Nodes = strings.Split(s, ",")
		}
		if s := string(row[7]); s != "" {
			parts := strings.Split(s, ",")
			m := make(distribution.BucketMap, len(parts))
			for i, p := range parts {
				v, err := strconv.Atoi(p)
				if err != nil {
					return nil, fmt.Errorf("bucket map of %s.%s: %w", t.Schema, t.Name, err)
				}
				m[i] = uint16(v)
			}
			t.Locator.Map = m
		}
		if s := strings.Trim(string(row[8]), "[] "); s == "-1" {
			t.Locator.Rewriting = true
		} else if s != "" {
			var set distribution.BucketSet
			for _, p := range strings.Split(s, ",") {
				b, err := strconv.Atoi(strings.TrimSpace(p))
				if err != nil || b < 0 || b >= distribution.NumBuckets {
					return nil, fmt.Errorf("frozen buckets of %s.%s: %q", t.Schema, t.Name, p)
				}
				set.Add(b)
			}
			t.Locator.Frozen = &set
		}
		t.Group = string(row[9])
		if s := strings.Trim(string(row[10]), "[] "); s != "" {
			for _, p := range strings.Split(s, ",") {
				t.Target = append(t.Target, strings.Trim(strings.TrimSpace(p), `"`))
			}
		}
		oid := string(row[0])
		byOID[oid] = t
		attnums[oid], _ = strconv.Atoi(string(row[5]))
		rel.Tables[t.Schema+"."+t.Name] = t
	}
	for _, row := range res[1].Rows {
		t := byOID[string(row[0])]
		if t == nil {
			continue
		}
		attnum, _ := strconv.Atoi(string(row[1]))
		if attnum == attnums[string(row[0])] {
			t.DistCol = len(t.Columns)
		}
		t.Columns = append(t.Columns, Column{
			Name: string(row[2]), Type: string(row[3]), TypName: string(row[4]),
			Default: string(row[5]), NotNull: string(row[6]) == "t", BaseType: string(row[7]), Collation: string(row[8]), Identity: string(row[9]),
		})
	}
	for _, t := range byOID {
		if t.DistCol >= 0 {
			t.Locator.Column = t.Columns[t.DistCol].Name
			t.Locator.TypeName = t.Columns[t.DistCol].TypName
		}
	}
	for _, row := range res[2].Rows {
		k := string(row[0]) + "." + string(row[1])
		rel.DistViews[k] = true
		if string(row[2]) == "v" {
			rel.ViewDefs[k] = strings.TrimSuffix(strings.TrimSpace(string(row[3])), ";")
		}
	}
	return rel, nil
}

// BytewiseCollation tells whether a libc locale or collation name orders
// text by its bytes (in UTF-8, by code point).
func BytewiseCollation(name string) bool {
	switch strings.Trim(strings.TrimPrefix(name, "pg_catalog."), `"`) {
	case "C", "POSIX", "C.UTF-8", "C.utf8", "ucs_basic":
		return true
	}
	return false
}

// Cache keeps each database's Relations until the catalog changes.
type Cache struct {
	gen  atomic.Uint64
	mu   sync.Mutex
	byDB map[string]cacheEntry
}

type cacheEntry struct {
	rel *Relations
	gen uint64
}

// NewCache makes an empty cache.
func NewCache() *Cache { return &Cache{byDB: map[string]cacheEntry{}} }

// Invalidate forgets every database's catalog (a DDL committed somewhere).
func (c *Cache) Invalidate() { c.gen.Add(1) }

// Get returns the database's catalog, loading it when missing or stale.
func (c *Cache) Get(ctx context.Context, db string, fresh bool, load func(context.Context) (*Relations, error)) (*Relations, error) {
	gen := c.gen.Load()
	if !fresh {
		c.mu.Lock()
		e, ok := c.byDB[db]
		c.mu.Unlock()
		if ok && e.gen == gen {
			return e.rel, nil
		}
	}
	rel, err := load(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.byDB[db] = cacheEntry{rel: rel, gen: gen}
	c.mu.Unlock()
	return rel, nil
}

func quoteIdent(s string) string { return dialect.QuoteIdent(s) }

// Generation changes whenever cached catalogs are dropped: what was
// derived from a catalog of another generation is stale.
func (c *Cache) Generation() uint64 { return c.gen.Load() }
