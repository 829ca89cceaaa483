package dialect

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"
)

func FuzzParse(f *testing.F) {
	seeds := []string{
		`SELECT 1`,
		`CREATE TABLE t (a int) DISTRIBUTE BY HASH(a) TO NODE (dn1, dn2)`,
		`CREATE TABLE t (a int)DISTRIBUTE BY REPLICATION;`,
		`CREATE TABLE c AS SELECT 1-a FROM x DISTRIBUTE BY ROUNDROBIN WITH NO DATA`,
		`CREATE TABLE t (a text default 'DISTRIBUTE BY HASH(a)') TO GROUP g`,
		`ALTER TABLE s.t DISTRIBUTE BY MODULO(a), ADD NODE (dn3), DELETE NODE (dn1)`,
		`CREATE NODE "DN1" WITH (TYPE = 'datanode', HOST = 'h', PORT = 20008, PRIMARY, PREFERRED = false)`,
		`ALTER NODE dn1 WITH (PORT = -5)`,
		`DROP NODE IF EXISTS dn1`,
		`CREATE NODE GROUP g WITH dn1, dn2`,
		`DROP NODE GROUP g`,
		`EXECUTE DIRECT ON (dn1) E'SELECT \'x\''`,
		`EXECUTE DIRECT ON dn1 $q$SELECT 1$q$`,
		`EXECUTE DIRECT ON (dn1) U&'!0041' UESCAPE '!'`,
		`CREATE NODE U&"!0041" UESCAPE '!'`,
		`CLEAN CONNECTION TO ALL FORCE FOR DATABASE d TO USER u`,
		`CREATE BARRIER 'b'`,
		`PAUSE CLUSTER`,
		`/* CREATE NODE x */ SELECT $$EXECUTE DIRECT ON (x) 'y'$$`,
		`SELECT 'abc`,
		`CREATE TABLE t (a int) DISTRIBUTE BY HASH(`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		st, err := Parse(sql)
		if err != nil {
			var pe *pgconn.PgError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q): error %T is not a *pgconn.PgError", sql, err)
			}
			if pe.Code == "" || pe.Message == "" {
				t.Fatalf("Parse(%q): incomplete error %#v", sql, pe)
			}
			if pe.Position < 0 || int(pe.Position) > utf8.RuneCountInString(sql)+1 {
				t.Fatalf("Parse(%q): position %d out of range", sql, pe.Position)
			}
			if st != nil {
				t.Fatalf("Parse(%q): statement returned with an error", sql)
			}
			return
		}
		if st == nil {
			t.Fatalf("Parse(%q): nil statement and nil error", sql)
		}
		pt, ok := st.(*Passthrough)
		if !ok {
			return
		}
		if pt.Distribute == nil && pt.SQL != sql {
			t.Fatalf("Parse(%q): SQL changed to %q without a distribution clause", sql, pt.SQL)
		}
		if _, err := pg_query.Scan(pt.SQL); err != nil {
			t.Fatalf("Parse(%q): output %q does not scan: %v", sql, pt.SQL, err)
		}
	})
}
