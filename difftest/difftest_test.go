package difftest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

var updateRefused = flag.Bool("update-refused", false, "rewrite testdata/refused.txt with the queries the coordinator refuses now")

var only = flag.String("only", "", "run only the corpus queries whose `#N [section] SQL` matches this regular expression")

// queryTimeout bounds one query on one side.
const queryTimeout = 30 * time.Second

// side is one connection under test: the coordinator or plain PostgreSQL.
type side struct {
	name    string
	dsn     string
	conn    *pgx.Conn
	timeout time.Duration // of one query; queryTimeout when 0
}

func (s *side) connect(t *testing.T) {
	t.Helper()
	cfg, err := pgx.ParseConfig(s.dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to %s: %v", s.name, err)
	}
	s.conn = conn
}

func (s *side) close() {
	if s.conn != nil {
		s.conn.Close(context.Background())
	}
}

// outcome is what one side answered.
type outcome struct {
	rows []Row
	code string // SQLSTATE when the statement failed
	err  error
}

// query runs sql and reads every row in text form. A broken connection is
// reopened for the next query.
func (s *side) query(t *testing.T, sql string) outcome {
	timeout := s.timeout
	if timeout == 0 {
		timeout = queryTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var o outcome
	rows, err := s.conn.Query(ctx, sql)
	if err == nil {
		for rows.Next() {
			raw := rows.RawValues()
			r := make(Row, len(raw))
			for i, v := range raw {
				if v != nil {
					str := string(v)
					r[i] = &str
				}
			}
			o.rows = append(o.rows, r)
		}
		rows.Close()
		err = rows.Err()
	}
	if err != nil {
		o.rows = nil
		o.err = err
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			o.code = pe.Code
		}
	}
	if s.conn.IsClosed() {
		s.connect(t)
	}
	return o
}

func (s *side) exec(t *testing.T, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := s.conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v\n%s", s.name, err, sql)
	}
}

func readStatements(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	qs, err := ParseCorpus(string(data))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []string
	for _, q := range qs {
		out = append(out, q.SQL)
	}
	return out
}

// startSides starts a cluster (one coordinator, two datanodes) and one
// plain PostgreSQL, loads the schema and the data into both and connects.
func startSides(t *testing.T) (coord, pg *side) {
	t.Helper()
	start := time.Now()
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	plain := clustertest.StartPlain(t)
	coord = &side{name: "coordinator", dsn: c.CoordDSN(0, "postgres")}
	pg = &side{name: "postgres", dsn: plain.DSN("postgres")}
	coord.connect(t)
	t.Cleanup(coord.close)
	pg.connect(t)
	t.Cleanup(pg.close)

	for _, stmt := range readStatements(t, "schema.sql") {
		coord.exec(t, stmt)
		p, err := PlainSQL(stmt)
		if err != nil {
			t.Fatal(err)
		}
		pg.exec(t, p)
	}
	for _, stmt := range readStatements(t, "data.sql") {
		coord.exec(t, stmt)
		pg.exec(t, stmt)
	}
	t.Logf("cluster, plain PostgreSQL, schema and data ready in %s", time.Since(start).Round(time.Millisecond))
	return coord, pg
}

// verdictKind classifies a statement run on both sides.
type verdictKind int

const (
	verdictMatch      verdictKind = iota // the same rows
	verdictBothFailed                    // an error of the same SQLSTATE on both sides
	verdictSlow                          // PostgreSQL itself ran past its timeout
	verdictRefused                       // 0A000 where PostgreSQL answered
	verdictFailed                        // another error on one side, or different errors
	verdictWrong                         // different rows
)

// verdict is what compareSides found.
type verdict struct {
	kind    verdictKind
	ordered bool   // the rows were compared in order
	reason  string // for refused, failed and wrong
}

// compareSides runs sql on the coordinator and on PostgreSQL at once and
// compares what they answered.
func compareSides(t *testing.T, coord, pg *side, sql string) verdict {
	var co, po outcome
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); co = coord.query(t, sql) }()
	po = pg.query(t, sql)
	wg.Wait()
	switch {
	case co.err == nil && po.err == nil:
		inOrder := OrderedTotally(sql)
		if diff := CompareRows(co.rows, po.rows, inOrder); diff != "" {
			return verdict{kind: verdictWrong, ordered: inOrder, reason: diff}
		}
		return verdict{kind: verdictMatch, ordered: inOrder}
	case co.err != nil && po.err != nil && co.code == po.code && co.code != "":
		return verdict{kind: verdictBothFailed}
	case errors.Is(po.err, context.DeadlineExceeded):
		return verdict{kind: verdictSlow}
	case co.code == "0A000" && po.err == nil:
		return verdict{kind: verdictRefused, reason: co.err.Error()}
	case co.err != nil && po.err == nil:
		return verdict{kind: verdictFailed, reason: "coordinator failed: " + co.err.Error()}
	case co.err == nil:
		return verdict{kind: verdictFailed, reason: fmt.Sprintf("postgres failed: %v; coordinator returned %d rows", po.err, len(co.rows))}
	}
	return verdict{kind: verdictFailed, reason: fmt.Sprintf("both failed differently: coordinator: %v; postgres: %v", co.err, po.err)}
}

// finding is a query that did not match.
type finding struct {
	q      Query
	reason string
}

func TestDifferential(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "queries.sql"))
	if err != nil {
		t.Fatal(err)
	}
	corpus, err := ParseCorpus(string(data))
	if err != nil {
		t.Fatalf("queries.sql: %v", err)
	}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			t.Fatalf("-only: %v", err)
		}
		var keep []Query
		for _, q := range corpus {
			if re.MatchString(fmt.Sprintf("#%d [%s] %s", q.N, q.Section, q.SQL)) {
				keep = append(keep, q)
			}
		}
		corpus = keep
	}

	start := time.Now()
	coord, pg := startSides(t)

	var match, ordered int
	var wrong, refused []finding
	for _, q := range corpus {
		v := compareSides(t, coord, pg, q.SQL)
		switch v.kind {
		case verdictMatch, verdictBothFailed:
			match++
			if v.ordered {
				ordered++
			}
		case verdictRefused:
			refused = append(refused, finding{q, v.reason})
		case verdictSlow:
			wrong = append(wrong, finding{q, "postgres ran past its timeout"})
		default:
			wrong = append(wrong, finding{q, v.reason})
		}
	}

	for i := range wrong {
		if o := coord.query(t, "EXPLAIN (COSTS OFF) "+wrong[i].q.SQL); o.err == nil {
			var plan []string
			for _, r := range o.rows {
				if len(r) == 1 && r[0] != nil {
					plan = append(plan, "    "+*r[0])
				}
			}
			wrong[i].reason += "\n  coordinator plan:\n" + strings.Join(plan, "\n")
		}
	}

	var b strings.Builder
	for _, f := range wrong {
		fmt.Fprintf(&b, "WRONG #%d [%s] %s\n  %s\n", f.q.N, f.q.Section, oneLine(f.q.SQL), indent(f.reason))
	}
	for _, f := range refused {
		fmt.Fprintf(&b, "REFUSED #%d [%s] %s\n  %s\n", f.q.N, f.q.Section, oneLine(f.q.SQL), indent(f.reason))
	}
	summary := fmt.Sprintf("%d match, %d refused, %d wrong (%d queries in %s)", match, len(refused), len(wrong),
		len(corpus), time.Since(start).Round(time.Second))
	fmt.Printf("%s%s\n", b.String(), summary)
	t.Logf("%s; %d of the answered queries compared in order", summary, ordered)
	if len(wrong) > 0 {
		t.Errorf("%d queries answered differently by the coordinator (listed above)", len(wrong))
	}
	checkRefusedBaseline(t, corpus, refused)
}

// refusedBaseline is the file of the queries the coordinator is known to
// refuse (0A000), one a line in oneLine form: a query refused and not in
// it has regressed from answered to refused; a query in it that is
// answered now is taken out with -update-refused.
const refusedBaseline = "testdata/refused.txt"

func checkRefusedBaseline(t *testing.T, corpus []Query, refused []finding) {
	t.Helper()
	now := map[string]bool{}
	for _, f := range refused {
		now[oneLine(f.q.SQL)] = true
	}
	if *updateRefused {
		if *only != "" {
			t.Fatal("-update-refused needs the whole corpus: drop -only")
		}
		var b strings.Builder
		b.WriteString("# Queries of queries.sql the coordinator refuses with 0A000 (go test ./difftest -args -update-refused).\n")
		for _, f := range refused {
			b.WriteString(oneLine(f.q.SQL) + "\n")
		}
		if err := os.WriteFile(refusedBaseline, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(refusedBaseline)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			known[l] = true
		}
	}
	for _, f := range refused {
		if !known[oneLine(f.q.SQL)] {
			t.Errorf("refused, and answered before (not in %s): #%d %s", refusedBaseline, f.q.N, oneLine(f.q.SQL))
		}
	}
	for _, q := range corpus {
		if l := oneLine(q.SQL); known[l] && !now[l] {
			t.Errorf("answered now, still listed in %s (rerun with -args -update-refused): #%d %s", refusedBaseline, q.N, l)
		}
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func indent(s string) string {
	return strings.ReplaceAll(s, "\n", "\n  ")
}
