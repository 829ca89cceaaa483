package difftest

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	randomN      = flag.Int("random", 300, "how many random queries TestRandomQueries runs")
	randomWrites = flag.Int("writes", 150, "how many random writes TestRandomQueries runs after its queries")
	randomSeed   = flag.Uint64("seed", 1, "the seed of TestRandomQueries' generator")
)

// TestRandomQueries runs generated SELECTs (gen.go) on the cluster and on
// plain PostgreSQL and classifies each: match, refused (0A000 where
// PostgreSQL answers), failed (another error where PostgreSQL answers, or
// a different error) or wrong (different rows). It fails on any failed or
// wrong query. `make fuzz-sql N=20000 SEED=7` runs a longer one.
func TestRandomQueries(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	schema, err := ParseSchema(string(data))
	if err != nil {
		t.Fatal(err)
	}
	coord, pg := startSides(t)
	// A generated query that runs long on PostgreSQL is a join that
	// multiplies rows: it is counted, not waited for. The coordinator may
	// take a few times PostgreSQL's time (it moves rows between nodes).
	coord.timeout, pg.timeout = 40*time.Second, 10*time.Second
	gen := NewGenerator(schema, *randomSeed)
	start := time.Now()
	var match, refused, bothFailed, bothSlow int
	var bad []string
	refusedBy := map[string]int{}
	for i := 0; i < *randomN; i++ {
		q := gen.Query()
		switch v := compareSides(t, coord, pg, q); v.kind {
		case verdictMatch:
			match++
		case verdictBothFailed:
			match++
			bothFailed++
		case verdictSlow:
			bothSlow++
		case verdictRefused:
			refused++
			refusedBy[v.reason[:min(len(v.reason), 90)]]++
		case verdictWrong:
			bad = append(bad, fmt.Sprintf("WRONG seed %d #%d: %s\n  %s", *randomSeed, i, q, indent(v.reason)))
		default:
			bad = append(bad, fmt.Sprintf("FAILED seed %d #%d: %s\n  %s", *randomSeed, i, q, v.reason))
		}
	}
	for msg, n := range refusedBy {
		t.Logf("refused %d×: %s", n, msg)
	}
	summary := fmt.Sprintf("%d match (%d of them errors on both sides), %d refused, %d failed or wrong, %d too slow on PostgreSQL (%d random queries, seed %d, in %s)",
		match, bothFailed, refused, len(bad), bothSlow, *randomN, *randomSeed, time.Since(start).Round(time.Second))
	fmt.Println(strings.Join(bad, "\n"))
	fmt.Println(summary)
	t.Log(summary)
	if len(bad) > 0 {
		t.Errorf("%d random queries answered differently by the coordinator (listed above)", len(bad))
	}
	randomWritesOn(t, gen, coord, pg)
}

// randomWritesOn runs generated INSERT, UPDATE and DELETE statements on
// both sides (PostgreSQL's in a transaction it rolls back when the
// coordinator did not apply the statement), compares their RETURNING rows,
// then every write table.
func randomWritesOn(t *testing.T, gen *Generator, coord, pg *side) {
	for _, stmt := range WriteSchema() {
		coord.exec(t, stmt)
		p, err := PlainSQL(stmt)
		if err != nil {
			t.Fatal(err)
		}
		pg.exec(t, p)
	}
	start := time.Now()
	var match, refused, bothFailed int
	var refusals []string
	for i := 0; i < *randomWrites; i++ {
		q := gen.Write()
		co := coord.query(t, q)
		pg.exec(t, "BEGIN")
		po := pg.query(t, q)
		if co.err == nil {
			pg.exec(t, "COMMIT")
		} else {
			pg.exec(t, "ROLLBACK")
		}
		switch {
		case co.err == nil && po.err == nil:
			if diff := CompareRows(co.rows, po.rows, false); diff != "" {
				t.Fatalf("WRONG write seed %d #%d: %s\n  %s", *randomSeed, i, q, indent(diff))
			}
			match++
		case co.err != nil && po.err != nil && co.code == po.code && co.code != "":
			match++
			bothFailed++
		case co.code == "0A000" && po.err == nil:
			refused++
			refusals = append(refusals, fmt.Sprintf("%s\n    %v", q, co.err))
			continue
		case co.err == nil:
			t.Fatalf("FAILED write seed %d #%d: %s\n  postgres: %v; the coordinator applied it", *randomSeed, i, q, po.err)
		default:
			t.Fatalf("FAILED write seed %d #%d: %s\n  coordinator: %v\n  postgres: %v", *randomSeed, i, q, co.err, po.err)
		}
		for _, table := range WriteTables {
			all := "SELECT id, k, v, n, d, b FROM " + table
			c, p := coord.query(t, all), pg.query(t, all)
			if c.err != nil || p.err != nil {
				t.Fatalf("read %s after write #%d: coordinator %v, postgres %v", table, i, c.err, p.err)
			}
			if diff := CompareRows(c.rows, p.rows, false); diff != "" {
				t.Fatalf("WRONG table %s after write seed %d #%d: %s\n  %s", table, *randomSeed, i, q, indent(diff))
			}
		}
	}
	for _, r := range refusals {
		t.Logf("refused write: %s", r)
	}
	summary := fmt.Sprintf("%d writes match (%d of them errors on both sides), %d refused, 0 failed or wrong (%d random writes, seed %d, in %s)",
		match, bothFailed, refused, *randomWrites, *randomSeed, time.Since(start).Round(time.Second))
	fmt.Println(summary)
	t.Log(summary)
}
