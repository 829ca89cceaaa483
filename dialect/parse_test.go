package dialect

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"
)

func strp(s string) *string { return &s }
func intp(n int) *int       { return &n }
func boolp(b bool) *bool    { return &b }

// mustParse parses sql and fails the test on error.
func mustParse(t *testing.T, sql string) Statement {
	t.Helper()
	st, err := Parse(sql)
	if err != nil {
		t.Fatalf("Parse(%q): unexpected error %v", sql, err)
	}
	return st
}

// pgErr asserts err is a *pgconn.PgError and returns it.
func pgErr(t *testing.T, sql string, err error) *pgconn.PgError {
	t.Helper()
	if err == nil {
		t.Fatalf("Parse(%q): expected an error", sql)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("Parse(%q): error %T %v is not a *pgconn.PgError", sql, err, err)
	}
	if pe.Severity != "ERROR" {
		t.Errorf("Parse(%q): severity %q", sql, pe.Severity)
	}
	return pe
}

func TestXLStatements(t *testing.T) {
	tests := []struct {
		sql  string
		want Statement
	}{
		// CREATE NODE
		{`CREATE NODE datanode1 WITH (TYPE = 'datanode', HOST = 'localhost', PORT = 20008)`,
			&CreateNode{Name: "datanode1", Options: NodeOptions{Type: strp("datanode"), Host: strp("localhost"), Port: intp(20008)}}},
		{`create node DataNode1 with (type='datanode',host='h1',port=20009,primary,preferred)`,
			&CreateNode{Name: "datanode1", Options: NodeOptions{Type: strp("datanode"), Host: strp("h1"), Port: intp(20009), Primary: boolp(true), Preferred: boolp(true)}}},
		{"CREATE   NODE\n\t\"DataNode1\"\nWITH\n(\n  TYPE = datanode ,\n  HOST = 'db.example.com',\n  PORT = 5432,\n  PRIMARY = false,\n  PREFERRED = true\n)",
			&CreateNode{Name: "DataNode1", Options: NodeOptions{Type: strp("datanode"), Host: strp("db.example.com"), Port: intp(5432), Primary: boolp(false), Preferred: boolp(true)}}},
		{`/* leading */ CREATE /* c1 */ NODE -- c2
		  coord2 WITH (TYPE = 'coordinator', HOST = localhost, PORT = '20005', PRIMARY = on, PREFERRED = 0);`,
			&CreateNode{Name: "coord2", Options: NodeOptions{Type: strp("coordinator"), Host: strp("localhost"), Port: intp(20005), Primary: boolp(true), Preferred: boolp(false)}}},
		{`CREATE NODE n1 WITH (HOST = E'h\x41st', PORT = 1, PRIMARY = 'true')`,
			&CreateNode{Name: "n1", Options: NodeOptions{Host: strp("hAst"), Port: intp(1), Primary: boolp(true)}}},
		{`CREATE NODE n1 WITH (HOST = $h$my'host$h$)`,
			&CreateNode{Name: "n1", Options: NodeOptions{Host: strp("my'host")}}},
		{`CREATE NODE n1`, &CreateNode{Name: "n1"}},
		{`CREATE NODE U&"d\0061ta" WITH (PORT = 65535)`, &CreateNode{Name: "data", Options: NodeOptions{Port: intp(65535)}}},
		// ALTER NODE
		{`ALTER NODE dn1 WITH (HOST = 'h2', PORT = 30000)`,
			&AlterNode{Name: "dn1", Options: NodeOptions{Host: strp("h2"), Port: intp(30000)}}},
		{`Alter Node dn1 With (Preferred = False, Primary)`,
			&AlterNode{Name: "dn1", Options: NodeOptions{Primary: boolp(true), Preferred: boolp(false)}}},
		// DROP NODE
		{`DROP NODE dn1`, &DropNode{Name: "dn1"}},
		{`drop node if exists "DN1";`, &DropNode{Name: "DN1", IfExists: true}},
		{"DROP /* x */ NODE\n  dn2  ", &DropNode{Name: "dn2"}},
		{`DROP NODE if`, &DropNode{Name: "if"}},
		// node groups
		{`CREATE NODE GROUP g1 WITH (dn1, dn2)`, &CreateNodeGroup{Name: "g1", Members: []string{"dn1", "dn2"}}},
		{`create node group G1 with dn1, "Dn2"`, &CreateNodeGroup{Name: "g1", Members: []string{"dn1", "Dn2"}}},
		{`CREATE NODE GROUP "Grp" WITH ( dn1 )`, &CreateNodeGroup{Name: "Grp", Members: []string{"dn1"}}},
		{`DROP NODE GROUP g1`, &DropNodeGroup{Name: "g1"}},
		{`drop node group "G1";`, &DropNodeGroup{Name: "G1"}},
		// EXECUTE DIRECT
		{`EXECUTE DIRECT ON (datanode1) 'SELECT 1'`, &ExecuteDirect{Nodes: []string{"datanode1"}, SQL: "SELECT 1"}},
		{`execute direct on (dn1, "DN2") 'select ''a'' from t'`, &ExecuteDirect{Nodes: []string{"dn1", "DN2"}, SQL: "select 'a' from t"}},
		{`EXECUTE DIRECT ON dn1 'SELECT 1'`, &ExecuteDirect{Nodes: []string{"dn1"}, SQL: "SELECT 1"}},
		{`EXECUTE DIRECT ON (dn1) E'SELECT \'x\'\n'`, &ExecuteDirect{Nodes: []string{"dn1"}, SQL: "SELECT 'x'\n"}},
		{`EXECUTE DIRECT ON (dn1) $q$SELECT 'it''s', $$x$$$q$`, &ExecuteDirect{Nodes: []string{"dn1"}, SQL: `SELECT 'it''s', $$x$$`}},
		{`EXECUTE DIRECT ON (dn1) $$SELECT ';'$$;`, &ExecuteDirect{Nodes: []string{"dn1"}, SQL: `SELECT ';'`}},
		{"EXECUTE DIRECT ON (dn1) 'SELECT '\n'1'", &ExecuteDirect{Nodes: []string{"dn1"}, SQL: "SELECT 1"}},
		{`EXECUTE DIRECT ON (dn1) 'a\b'`, &ExecuteDirect{Nodes: []string{"dn1"}, SQL: `a\b`}},
		{`EXECUTE DIRECT ON (dn1) U&'\0041'`, &ExecuteDirect{Nodes: []string{"dn1"}, SQL: "A"}},
		{`EXECUTE DIRECT ON (dn1) U&'!0041' UESCAPE '!'`, &ExecuteDirect{Nodes: []string{"dn1"}, SQL: "A"}},
		{"/* c */ execute /* d */ direct -- e\n on (dn1) 'x'", &ExecuteDirect{Nodes: []string{"dn1"}, SQL: "x"}},
		// CLEAN CONNECTION
		{`CLEAN CONNECTION TO ALL`, &CleanConnection{ToAll: true}},
		{`CLEAN CONNECTION TO ALL FORCE FOR DATABASE postgres TO USER "Alice"`,
			&CleanConnection{ToAll: true, Force: true, Database: "postgres", User: "Alice"}},
		{`clean connection to all for db1 to bob`, &CleanConnection{ToAll: true, Database: "db1", User: "bob"}},
		{`CLEAN CONNECTION TO NODE (dn1, dn2) FOR DATABASE Db1`, &CleanConnection{Nodes: []string{"dn1", "dn2"}, Database: "db1"}},
		{`CLEAN CONNECTION TO COORDINATOR (c1) TO USER u1`, &CleanConnection{Coordinators: true, Nodes: []string{"c1"}, User: "u1"}},
		{`CLEAN CONNECTION TO NODE dn1 FORCE`, &CleanConnection{Nodes: []string{"dn1"}, Force: true}},
		// barriers and pause
		{`CREATE BARRIER`, &CreateBarrier{}},
		{`CREATE BARRIER 'b1'`, &CreateBarrier{ID: "b1"}},
		{`create barrier 'it''s';`, &CreateBarrier{ID: "it's"}},
		{`PAUSE CLUSTER`, &PauseCluster{}},
		{`pause   cluster ;`, &PauseCluster{}},
		{`UNPAUSE CLUSTER`, &UnpauseCluster{}},
		{"/* x */ Unpause\n Cluster", &UnpauseCluster{}},
	}
	for _, tc := range tests {
		t.Run(tc.sql, func(t *testing.T) {
			got := mustParse(t, tc.sql)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%q)\n got  %#v\n want %#v", tc.sql, got, tc.want)
			}
			dump(t, got)
		})
	}
}

// dump logs the options of node statements readably.
func dump(t *testing.T, st Statement) {
	t.Helper()
	if cn, ok := st.(*CreateNode); ok {
		o := cn.Options
		t.Logf("type=%v host=%v port=%v primary=%v preferred=%v", deref(o.Type), deref(o.Host), deref(o.Port), deref(o.Primary), deref(o.Preferred))
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestPassthroughUntouched(t *testing.T) {
	tests := []string{
		`SELECT 1`,
		`/* CREATE NODE x */ SELECT 1`,
		`-- CREATE NODE x WITH (TYPE='datanode')
SELECT 1`,
		`SELECT $$EXECUTE DIRECT ON (x) 'y'$$`,
		`SELECT 'CREATE NODE n1'`,
		`SELECT 'DISTRIBUTE BY HASH(a)'`,
		`CREATE TABLE t (a text default 'DISTRIBUTE BY HASH(a)')`,
		`CREATE TABLE t (a text) /* DISTRIBUTE BY HASH(a) */`,
		`CREATE TABLE t (a text) -- DISTRIBUTE BY REPLICATION`,
		`CREATE TABLE t (a text default $x$ TO NODE (n1) $x$)`,
		`CREATE TABLE "DISTRIBUTE" ("BY" int)`,
		`CREATE TABLE t ("distribute" int, "by" int)`,
		`CREATE TABLE distribute (by_ int)`,
		`CREATE TABLE t AS SELECT a AS distribute FROM x GROUP BY distribute`,
		`CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (1) TO (10)`,
		`CREATE TABLE t AS SELECT a SIMILAR TO node(b) FROM x`,
		`EXECUTE myplan(1, 2)`,
		`EXECUTE direct`,
		`EXECUTE direct(1)`,
		`EXECUTE "direct" ON (x) 'y'`,
		`PREPARE direct AS SELECT 1`,
		`DROP TABLE node`,
		`DROP "node" x`,
		`DROP INDEX node_idx`,
		`CREATE "NODE" x`,
		`CREATE INDEX node ON t (a)`,
		`CREATE VIEW node AS SELECT 1`,
		`ALTER TABLE node ADD COLUMN x int`,
		`ALTER TABLE t ADD node int`,
		`ALTER TABLE t ADD COLUMN node int`,
		`ALTER TABLE t RENAME TO node`,
		`ALTER ROLE node WITH LOGIN`,
		`SELECT pgxc_pool_reload()`,
		`PAUSE`,
		`CLEAN`,
		`select distribute by from t`,
		`VACUUM`,
		`CREATE TABLE t (LIKE src)`,
		`CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql`,
		``,
		`   `,
		`/* only a comment */`,
	}
	for _, sql := range tests {
		t.Run(sql, func(t *testing.T) {
			st := mustParse(t, sql)
			pt, ok := st.(*Passthrough)
			if !ok {
				t.Fatalf("Parse(%q) = %#v, want *Passthrough", sql, st)
			}
			if pt.SQL != sql || pt.Distribute != nil {
				t.Errorf("Parse(%q) = %#v, want it unchanged", sql, pt)
			}
		})
	}
}

func TestCreateTableDistribute(t *testing.T) {
	tests := []struct {
		sql     string
		wantSQL string
		want    DistributeClause
	}{
		{`CREATE TABLE t (a int, b text) DISTRIBUTE BY HASH(a)`,
			`CREATE TABLE t (a int, b text) `, DistributeClause{Kind: 'H', Column: "a"}},
		{`create table T (A int) distribute by hash ( A )`,
			`create table T (A int) `, DistributeClause{Kind: 'H', Column: "a"}},
		{`CREATE TABLE t ("Col" int) DISTRIBUTE BY HASH("Col")`,
			`CREATE TABLE t ("Col" int) `, DistributeClause{Kind: 'H', Column: "Col"}},
		{`CREATE TABLE t (a int) DISTRIBUTE BY MODULO(a);`,
			`CREATE TABLE t (a int) ;`, DistributeClause{Kind: 'M', Column: "a"}},
		{`CREATE TABLE t (a int) DISTRIBUTE BY ROUNDROBIN`,
			`CREATE TABLE t (a int) `, DistributeClause{Kind: 'N'}},
		{`CREATE TABLE t (a int) DISTRIBUTE BY REPLICATION`,
			`CREATE TABLE t (a int) `, DistributeClause{Kind: 'R'}},
		{`CREATE TABLE t (a int)DISTRIBUTE BY REPLICATION`,
			`CREATE TABLE t (a int)`, DistributeClause{Kind: 'R'}},
		{"CREATE TABLE t (a int)\nDISTRIBUTE /* how */ BY\n  HASH (a) -- spread\n",
			"CREATE TABLE t (a int)\n -- spread\n", DistributeClause{Kind: 'H', Column: "a"}},
		{`CREATE TABLE t (a int) DISTRIBUTE BY HASH(a) TO NODE (dn1, "DN2")`,
			`CREATE TABLE t (a int) `, DistributeClause{Kind: 'H', Column: "a", ToNodes: []string{"dn1", "DN2"}}},
		{`CREATE TABLE t (a int) DISTRIBUTE BY REPLICATION TO GROUP g1`,
			`CREATE TABLE t (a int) `, DistributeClause{Kind: 'R', ToGroup: "g1"}},
		{`CREATE TABLE t (a int) TO NODE (dn1)`,
			`CREATE TABLE t (a int) `, DistributeClause{ToNodes: []string{"dn1"}}},
		{`CREATE TABLE t (a int) to group "G"`,
			`CREATE TABLE t (a int) `, DistributeClause{ToGroup: "G"}},
		{`CREATE UNLOGGED TABLE u (a int) DISTRIBUTE BY ROUNDROBIN`,
			`CREATE UNLOGGED TABLE u (a int) `, DistributeClause{Kind: 'N'}},
		{`CREATE TEMP TABLE tt (a int) DISTRIBUTE BY REPLICATION`,
			`CREATE TEMP TABLE tt (a int) `, DistributeClause{Kind: 'R'}},
		{`CREATE GLOBAL TEMPORARY TABLE tt (a int) ON COMMIT DELETE ROWS DISTRIBUTE BY HASH(a)`,
			`CREATE GLOBAL TEMPORARY TABLE tt (a int) ON COMMIT DELETE ROWS `, DistributeClause{Kind: 'H', Column: "a"}},
		{`CREATE TABLE IF NOT EXISTS s.t (a int) DISTRIBUTE BY HASH(a)`,
			`CREATE TABLE IF NOT EXISTS s.t (a int) `, DistributeClause{Kind: 'H', Column: "a"}},
		{`CREATE TABLE m (a int, b date) PARTITION BY RANGE (b) DISTRIBUTE BY HASH(a)`,
			`CREATE TABLE m (a int, b date) PARTITION BY RANGE (b) `, DistributeClause{Kind: 'H', Column: "a"}},
		{`CREATE TABLE m (a int, b date) PARTITION BY HASH (a) DISTRIBUTE BY HASH(a)`,
			`CREATE TABLE m (a int, b date) PARTITION BY HASH (a) `, DistributeClause{Kind: 'H', Column: "a"}},
		{`CREATE TABLE w (a int) WITH (fillfactor = 70) DISTRIBUTE BY MODULO(a)`,
			`CREATE TABLE w (a int) WITH (fillfactor = 70) `, DistributeClause{Kind: 'M', Column: "a"}},
		{`CREATE TABLE w (a int) WITH (fillfactor = 70) TABLESPACE pg_default DISTRIBUTE BY REPLICATION`,
			`CREATE TABLE w (a int) WITH (fillfactor = 70) TABLESPACE pg_default `, DistributeClause{Kind: 'R'}},
		{`CREATE TABLE c DISTRIBUTE BY HASH(a) AS SELECT 1 AS a`,
			`CREATE TABLE c  AS SELECT 1 AS a`, DistributeClause{Kind: 'H', Column: "a"}},
		{`CREATE TABLE c (a) WITH (fillfactor=50) DISTRIBUTE BY REPLICATION TO NODE (dn1) AS SELECT 1`,
			`CREATE TABLE c (a) WITH (fillfactor=50)  AS SELECT 1`, DistributeClause{Kind: 'R', ToNodes: []string{"dn1"}}},
		{`CREATE TABLE c AS SELECT a, b FROM src DISTRIBUTE BY HASH(a)`,
			`CREATE TABLE c AS SELECT a, b FROM src `, DistributeClause{Kind: 'H', Column: "a"}},
		{`CREATE TABLE c AS SELECT a FROM src WITH NO DATA DISTRIBUTE BY ROUNDROBIN`,
			`CREATE TABLE c AS SELECT a FROM src WITH NO DATA `, DistributeClause{Kind: 'N'}},
		{`CREATE TABLE c AS SELECT a FROM src DISTRIBUTE BY ROUNDROBIN WITH DATA`,
			`CREATE TABLE c AS SELECT a FROM src  WITH DATA`, DistributeClause{Kind: 'N'}},
		{`CREATE TABLE c AS SELECT a FROM (SELECT 1 AS a) s DISTRIBUTE BY HASH(a)`,
			`CREATE TABLE c AS SELECT a FROM (SELECT 1 AS a) s `, DistributeClause{Kind: 'H', Column: "a"}},
		{`CREATE TABLE t (a text default 'DISTRIBUTE BY HASH(a)') DISTRIBUTE BY HASH(a)`,
			`CREATE TABLE t (a text default 'DISTRIBUTE BY HASH(a)') `, DistributeClause{Kind: 'H', Column: "a"}},
		{`CREATE TABLE "Té" ("ü" int)DISTRIBUTE BY HASH("ü")`,
			`CREATE TABLE "Té" ("ü" int)`, DistributeClause{Kind: 'H', Column: "ü"}},
		{`CREATE TABLE t (a int)DISTRIBUTE BY REPLICATION;`,
			`CREATE TABLE t (a int) ;`, DistributeClause{Kind: 'R'}},
		{`CREATE TABLE t (a int, b int) DISTRIBUTE BY HASH(b) TO GROUP g1 TABLESPACE x`,
			`CREATE TABLE t (a int, b int)  TABLESPACE x`, DistributeClause{Kind: 'H', Column: "b", ToGroup: "g1"}},
		{`CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (1) TO (10) DISTRIBUTE BY HASH(a)`,
			`CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (1) TO (10) `, DistributeClause{Kind: 'H', Column: "a"}},
	}
	for _, tc := range tests {
		t.Run(tc.sql, func(t *testing.T) {
			st := mustParse(t, tc.sql)
			pt, ok := st.(*Passthrough)
			if !ok {
				t.Fatalf("Parse(%q) = %#v, want *Passthrough", tc.sql, st)
			}
			if pt.SQL != tc.wantSQL {
				t.Errorf("SQL\n got  %q\n want %q", pt.SQL, tc.wantSQL)
			}
			if pt.Distribute == nil || !reflect.DeepEqual(*pt.Distribute, tc.want) {
				t.Errorf("Distribute got %#v, want %#v", pt.Distribute, tc.want)
			}
			if _, err := pg_query.Parse(pt.SQL); err != nil {
				t.Errorf("pg_query.Parse(%q): %v", pt.SQL, err)
			}
		})
	}
}

func TestAlterTableDistribution(t *testing.T) {
	tests := []struct {
		sql  string
		want *AlterTableDistribution
	}{
		{`ALTER TABLE t DISTRIBUTE BY HASH(a)`,
			&AlterTableDistribution{Table: "t", Names: []string{"t"}, Distribute: &DistributeClause{Kind: 'H', Column: "a"}}},
		{`alter table Public.T distribute by replication;`,
			&AlterTableDistribution{Table: "public.t", Names: []string{"public", "t"}, Distribute: &DistributeClause{Kind: 'R'}}},
		{`ALTER TABLE "S"."T" DISTRIBUTE BY MODULO("X") TO NODE (dn1, dn2)`,
			&AlterTableDistribution{Table: "S.T", Names: []string{"S", "T"}, Distribute: &DistributeClause{Kind: 'M', Column: "X", ToNodes: []string{"dn1", "dn2"}}}},
		{`ALTER TABLE t TO GROUP g1`,
			&AlterTableDistribution{Table: "t", Names: []string{"t"}, Distribute: &DistributeClause{ToGroup: "g1"}}},
		{`ALTER TABLE t ADD NODE (dn3)`,
			&AlterTableDistribution{Table: "t", Names: []string{"t"}, AddNodes: []string{"dn3"}}},
		{`ALTER TABLE IF EXISTS ONLY t DELETE NODE (dn1, "DN2")`,
			&AlterTableDistribution{Table: "t", Names: []string{"t"}, IfExists: true, DeleteNodes: []string{"dn1", "DN2"}}},
		{"ALTER TABLE t /* x */ ADD NODE (dn3),\n DELETE NODE (dn1)",
			&AlterTableDistribution{Table: "t", Names: []string{"t"}, AddNodes: []string{"dn3"}, DeleteNodes: []string{"dn1"}}},
		{`ALTER TABLE t * DISTRIBUTE BY REPLICATION`,
			&AlterTableDistribution{Table: "t", Names: []string{"t"}, Distribute: &DistributeClause{Kind: 'R'}}},
		{`ALTER TABLE t DISTRIBUTE BY ROUNDROBIN, ADD NODE (dn3)`,
			&AlterTableDistribution{Table: "t", Names: []string{"t"}, Distribute: &DistributeClause{Kind: 'N'}, AddNodes: []string{"dn3"}}},
	}
	for _, tc := range tests {
		t.Run(tc.sql, func(t *testing.T) {
			got := mustParse(t, tc.sql)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		sql  string
		code string
		msg  string
		pos  int32
	}{
		{`CREATE TABLE t (a int) DISTRIBUTE BY HASH`, "42601", `syntax error at end of input`, 42},
		{`CREATE TABLE t (a int) DISTRIBUTE BY HASH ;`, "42601", `syntax error at or near ";"`, 43},
		{`CREATE TABLE t (a int) DISTRIBUTE BY HASH(a`, "42601", `syntax error at end of input`, 44},
		{`CREATE TABLE t (a int) DISTRIBUTE BY HASH(a, b)`, "42601", `syntax error at or near ","`, 44},
		{`CREATE TABLE t (a int) DISTRIBUTE BY HASH()`, "42601", `syntax error at or near ")"`, 43},
		{`CREATE TABLE t (a int) DISTRIBUTE BY RANDOM`, "42601", `syntax error at or near "RANDOM"`, 38},
		{`CREATE TABLE t (a int) DISTRIBUTE BY "hash"(a)`, "42601", `syntax error at or near ""hash""`, 38},
		{`CREATE TABLE t (a int) DISTRIBUTE BY`, "42601", `syntax error at end of input`, 37},
		{`CREATE TABLE t (a int) DISTRIBUTE BY HASH(a) DISTRIBUTE BY REPLICATION`, "42601", `syntax error at or near "DISTRIBUTE"`, 46},
		{`CREATE TABLE t (a int) DISTRIBUTE BY HASH(a) TO NODE dn1`, "42601", `syntax error at or near "dn1"`, 54},
		{`CREATE TABLE t (a int) DISTRIBUTE BY HASH(a) TO NODE (dn1,)`, "42601", `syntax error at or near ")"`, 59},
		{`CREATE TABLE t (a int) TO NODE (dn1) TO GROUP g`, "42601", `syntax error at or near "TO"`, 38},
		{`CREATE TABLE "é" (a int) DISTRIBUTE BY HASH(`, "42601", `syntax error at end of input`, 45},
		{`CREATE NODE`, "42601", `syntax error at end of input`, 12},
		{`CREATE NODE n1 WITH (TYPE = 'datanode'`, "42601", `syntax error at end of input`, 39},
		{`CREATE NODE n1 WITH (TYPE = 'datanode' PORT = 1)`, "42601", `syntax error at or near "PORT"`, 40},
		{`CREATE NODE n1 WITH (colour = 'red')`, "42601", `option "colour" not recognized`, 22},
		{`CREATE NODE n1 WITH (PORT = 1, port = 2)`, "42601", `conflicting or redundant options`, 32},
		{`CREATE NODE n1 WITH (TYPE = 'gtm')`, "22023", `type value is incorrect, specify 'coordinator' or 'datanode'`, 29},
		{`CREATE NODE n1 WITH (PORT = 70000)`, "22023", `port value is out of range`, 29},
		{`CREATE NODE n1 WITH (PORT = -1)`, "22023", `port value is out of range`, 29},
		{`CREATE NODE n1 WITH (PORT = 'abc')`, "42601", `invalid argument for port: "abc"`, 29},
		{`CREATE NODE n1 WITH (PORT = 1.5)`, "42601", `invalid argument for port: "1.5"`, 29},
		{`CREATE NODE n1 WITH (HOST)`, "42601", `host requires a parameter`, 22},
		{`CREATE NODE n1 WITH (PRIMARY = maybe)`, "42601", `primary requires a Boolean value`, 32},
		{`CREATE NODE select WITH (PORT = 1)`, "42601", `syntax error at or near "select"`, 13},
		{`CREATE NODE n1 WITH (PORT = 1) extra`, "42601", `syntax error at or near "extra"`, 32},
		{`ALTER NODE n1`, "42601", `syntax error at end of input`, 14},
		{`alter node "DN1" with (preferred false)`, "42601", `syntax error at or near "false"`, 34},
		{`DROP NODE`, "42601", `syntax error at end of input`, 10},
		{`DROP NODE IF EXISTS`, "42601", `syntax error at end of input`, 20},
		{`DROP NODE a, b`, "42601", `syntax error at or near ","`, 12},
		{`DROP NODE GROUP`, "42601", `syntax error at end of input`, 16},
		{`CREATE NODE GROUP g`, "42601", `syntax error at end of input`, 20},
		{`CREATE NODE GROUP g WITH ()`, "42601", `syntax error at or near ")"`, 27},
		{`EXECUTE DIRECT ON (dn1)`, "42601", `syntax error at end of input`, 24},
		{`EXECUTE DIRECT ON (dn1) SELECT 1`, "42601", `syntax error at or near "SELECT"`, 25},
		{`EXECUTE DIRECT ON (dn1) 'a' 'b'`, "42601", `syntax error at or near "'b'"`, 29},
		{`EXECUTE DIRECT ON 'x'`, "42601", `syntax error at or near "'x'"`, 19},
		{`EXECUTE DIRECT ON (dn1) 'unterminated`, "42601", `unterminated quoted string at or near "'unterminated"`, 25},
		{`CLEAN CONNECTION TO`, "42601", `syntax error at end of input`, 20},
		{`CLEAN CONNECTION TO EVERYONE`, "42601", `syntax error at or near "EVERYONE"`, 21},
		{`CLEAN CONNECTION TO ALL FOR`, "42601", `syntax error at end of input`, 28},
		{`CREATE BARRIER b1`, "42601", `syntax error at or near "b1"`, 16},
		{`PAUSE CLUSTER NOW`, "42601", `syntax error at or near "NOW"`, 15},
		{`ALTER TABLE t DISTRIBUTE BY HASH`, "42601", `syntax error at end of input`, 33},
		{`ALTER TABLE t ADD NODE (dn1) RENAME TO x`, "42601", `syntax error at or near "RENAME"`, 30},
		{`ALTER TABLE t DELETE NODE dn1`, "42601", `syntax error at or near "dn1"`, 27},
		{`ALTER TABLE t ADD NODE (a), ADD NODE (b)`, "42601", `syntax error at or near "ADD"`, 29},
		{"SELECT 'x\x00'", "22021", `invalid byte sequence for encoding "UTF8": 0x00`, 0},
		{`SELECT 'abc`, "42601", `unterminated quoted string at or near "'abc"`, 8},
		{`SELECT /* x`, "42601", `unterminated /* comment at or near "/* x"`, 8},
	}
	for _, tc := range tests {
		t.Run(tc.sql, func(t *testing.T) {
			st, err := Parse(tc.sql)
			if err == nil {
				t.Fatalf("Parse(%q) = %#v, want error", tc.sql, st)
			}
			if st != nil {
				t.Errorf("Parse(%q) returned a statement with its error", tc.sql)
			}
			pe := pgErr(t, tc.sql, err)
			if pe.Code != tc.code || pe.Message != tc.msg || pe.Position != tc.pos {
				t.Errorf("Parse(%q)\n got  %s %q at %d\n want %s %q at %d", tc.sql, pe.Code, pe.Message, pe.Position, tc.code, tc.msg, tc.pos)
			}
		})
	}
}

// TestErrorPositionMatchesPostgres checks our end-of-input position convention against PostgreSQL's
// parser on the same kind of input.
func TestErrorPositionMatchesPostgres(t *testing.T) {
	for _, sql := range []string{`SELECT (`, "SELECT (  \n", `SELECT ( -- c`, `SELECT "é" (`} {
		_, perr := pg_query.Parse(sql)
		if perr == nil {
			t.Fatalf("pg_query.Parse(%q) succeeded", sql)
		}
		want := fromPgQueryError(perr, 0, sql).(*pgconn.PgError)
		p, err := newTokenParser(sql)
		if err != nil {
			t.Fatal(err)
		}
		got := p.syntaxErrorAt(len(p.toks)).(*pgconn.PgError)
		if got.Message != want.Message || got.Position != want.Position {
			t.Errorf("%q: got %q at %d, PostgreSQL says %q at %d", sql, got.Message, got.Position, want.Message, want.Position)
		}
	}
	// "at or near" uses the token's own text and its character position.
	sql := `SELECT "é" "x" 'y' z`
	_, perr := pg_query.Parse(sql)
	want := fromPgQueryError(perr, 0, sql).(*pgconn.PgError)
	p, _ := newTokenParser(sql)
	got := p.syntaxErrorAt(3).(*pgconn.PgError)
	if got.Message != want.Message || got.Position != want.Position {
		t.Errorf("%q: got %q at %d, PostgreSQL says %q at %d", sql, got.Message, got.Position, want.Message, want.Position)
	}
}

func TestIdentifierFolding(t *testing.T) {
	long := strings.Repeat("a", 70)
	st := mustParse(t, `DROP NODE `+long)
	if got := st.(*DropNode).Name; got != strings.Repeat("a", 63) {
		t.Errorf("long name folded to %q (%d bytes)", got, len(got))
	}
	st = mustParse(t, `DROP NODE "A""b"`)
	if got := st.(*DropNode).Name; got != `A"b` {
		t.Errorf("quoted name = %q", got)
	}
	st = mustParse(t, `DROP NODE ÄBC`)
	if got := st.(*DropNode).Name; got != `Äbc` {
		t.Errorf("non-ASCII name = %q, want only ASCII folded", got)
	}
	// A keyword usable as a name (unreserved or column-name keyword).
	st = mustParse(t, `DROP NODE Data`)
	if got := st.(*DropNode).Name; got != `data` {
		t.Errorf("keyword name = %q", got)
	}
}
