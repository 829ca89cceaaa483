package dialect

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
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
			// An XL statement written back reads as the same statement.
			text := deparseXL(st)
			again, err := Parse(text)
			if err != nil || !reflect.DeepEqual(again, st) {
				t.Fatalf("Parse(%q) = %#v\nwritten back: %s\nparsed again: %#v, %v", sql, st, text, again, err)
			}
			return
		}
		if pt.Distribute == nil && pt.SQL != sql {
			t.Fatalf("Parse(%q): SQL changed to %q without a distribution clause", sql, pt.SQL)
		}
		// A statement plainStatement passes on unlexed gets its lexer errors
		// from pg_query.Parse later; any other output scans.
		if _, err := pg_query.Scan(pt.SQL); err != nil && !plainStatement(sql) {
			t.Fatalf("Parse(%q): output %q does not scan: %v", sql, pt.SQL, err)
		}
		if pt.Distribute == nil {
			return
		}
		// What is left has no XL clause any more ...
		rest, err := Parse(pt.SQL)
		if err != nil || !reflect.DeepEqual(rest, &Passthrough{SQL: pt.SQL}) {
			t.Fatalf("Parse(%q) left %q, which parses to %#v, %v", sql, pt.SQL, rest, err)
		}
		// ... and the clause written back after it (when it is SQL at all)
		// reads as the same clause.
		if _, err := pg_query.Parse(pt.SQL); err != nil {
			return
		}
		text := pt.SQL + "\n" + deparseDistribute(pt.Distribute)
		again, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q): clause written back: %s: %v", sql, text, err)
		}
		if apt, ok := again.(*Passthrough); !ok || !reflect.DeepEqual(apt.Distribute, pt.Distribute) {
			t.Fatalf("Parse(%q) = %#v\nwritten back: %s\nparsed again: %#v", sql, pt.Distribute, text, again)
		}
	})
}

// deparseXL writes an XL statement as SQL.
func deparseXL(st Statement) string {
	idents := func(names []string) string {
		q := make([]string, len(names))
		for i, n := range names {
			q[i] = QuoteIdent(n)
		}
		return "(" + strings.Join(q, ", ") + ")"
	}
	options := func(o NodeOptions) string {
		var opts []string
		if o.Type != nil {
			opts = append(opts, "TYPE = "+QuoteLiteral(*o.Type))
		}
		if o.Host != nil {
			opts = append(opts, "HOST = "+QuoteLiteral(*o.Host))
		}
		if o.Port != nil {
			opts = append(opts, "PORT = "+strconv.Itoa(*o.Port))
		}
		if o.Primary != nil {
			opts = append(opts, "PRIMARY = "+strconv.FormatBool(*o.Primary))
		}
		if o.Preferred != nil {
			opts = append(opts, "PREFERRED = "+strconv.FormatBool(*o.Preferred))
		}
		if opts == nil {
			return ""
		}
		return " WITH (" + strings.Join(opts, ", ") + ")"
	}
	switch s := st.(type) {
	case *CreateNode:
		return "CREATE NODE " + QuoteIdent(s.Name) + options(s.Options)
	case *AlterNode:
		return "ALTER NODE " + QuoteIdent(s.Name) + options(s.Options)
	case *DropNode:
		if s.IfExists {
			return "DROP NODE IF EXISTS " + QuoteIdent(s.Name)
		}
		return "DROP NODE " + QuoteIdent(s.Name)
	case *CreateNodeGroup:
		return "CREATE NODE GROUP " + QuoteIdent(s.Name) + " WITH " + idents(s.Members)
	case *DropNodeGroup:
		return "DROP NODE GROUP " + QuoteIdent(s.Name)
	case *ExecuteDirect:
		return "EXECUTE DIRECT ON " + idents(s.Nodes) + " " + QuoteLiteral(s.SQL)
	case *CleanConnection:
		text := "CLEAN CONNECTION TO "
		switch {
		case s.ToAll:
			text += "ALL"
		case s.Coordinators:
			text += "COORDINATOR " + idents(s.Nodes)
		default:
			text += "NODE " + idents(s.Nodes)
		}
		if s.Force {
			text += " FORCE"
		}
		if s.Database != "" {
			text += " FOR DATABASE " + QuoteIdent(s.Database)
		}
		if s.User != "" {
			text += " TO USER " + QuoteIdent(s.User)
		}
		return text
	case *CreateBarrier:
		if s.ID != "" {
			return "CREATE BARRIER " + QuoteLiteral(s.ID)
		}
		return "CREATE BARRIER"
	case *PauseCluster:
		return "PAUSE CLUSTER"
	case *UnpauseCluster:
		return "UNPAUSE CLUSTER"
	case *AlterTableDistribution:
		q := make([]string, len(s.Names))
		for i, n := range s.Names {
			q[i] = QuoteIdent(n)
		}
		text := "ALTER TABLE "
		if s.IfExists {
			text += "IF EXISTS "
		}
		var parts []string
		if s.Distribute != nil {
			parts = append(parts, deparseDistribute(s.Distribute))
		}
		if s.AddNodes != nil {
			parts = append(parts, "ADD NODE "+idents(s.AddNodes))
		}
		if s.DeleteNodes != nil {
			parts = append(parts, "DELETE NODE "+idents(s.DeleteNodes))
		}
		return text + strings.Join(q, ".") + " " + strings.Join(parts, ", ")
	}
	panic(fmt.Sprintf("deparseXL: %T", st))
}

// deparseDistribute writes a DISTRIBUTE BY clause and its subcluster.
func deparseDistribute(dc *DistributeClause) string {
	var parts []string
	switch dc.Kind {
	case DistHash:
		parts = append(parts, "DISTRIBUTE BY HASH ("+QuoteIdent(dc.Column)+")")
	case DistModulo:
		parts = append(parts, "DISTRIBUTE BY MODULO ("+QuoteIdent(dc.Column)+")")
	case DistRoundRobin:
		parts = append(parts, "DISTRIBUTE BY ROUNDROBIN")
	case DistReplication:
		parts = append(parts, "DISTRIBUTE BY REPLICATION")
	}
	switch {
	case dc.ToNodes != nil:
		q := make([]string, len(dc.ToNodes))
		for i, n := range dc.ToNodes {
			q[i] = QuoteIdent(n)
		}
		parts = append(parts, "TO NODE ("+strings.Join(q, ", ")+")")
	case dc.ToGroup != "":
		parts = append(parts, "TO GROUP "+QuoteIdent(dc.ToGroup))
	}
	return strings.Join(parts, " ")
}
