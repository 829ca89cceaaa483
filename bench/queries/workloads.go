package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// workload is one query shape, run with random parameters.
type workload struct {
	name string
	sql  string // with $1 when it takes a parameter
	// param draws the parameter from rng (nil: the query takes none).
	param func(rng *rand.Rand, rows int) int
	// checkParam is the fixed parameter of the correctness check.
	checkParam func(rows int) int
	// ordered: the rows come in an order both sides must agree on.
	ordered bool
}

func workloads() []workload {
	pointID := func(rng *rand.Rand, rows int) int { return 1 + rng.IntN(rows) }
	rangeStart := func(width int) func(*rand.Rand, int) int {
		return func(rng *rand.Rand, rows int) int { return 1 + rng.IntN(max(rows-width, 1)) }
	}
	middle := func(rows int) int { return rows/2 + 7 }
	return []workload{
		{
			name:       "point-select",
			sql:        "SELECT id, cust_id, amount, created, note FROM orders WHERE id = $1",
			param:      pointID,
			checkParam: middle,
			ordered:    true,
		},
		{
			name:       "range-order-limit",
			sql:        "SELECT id, amount FROM orders WHERE id BETWEEN $1 AND $1 + 1000 ORDER BY amount DESC LIMIT 10",
			param:      rangeStart(1000),
			checkParam: middle,
			ordered:    true,
		},
		{
			name:       "group-by-all",
			sql:        "SELECT cust_id % 100, count(*), sum(amount) FROM orders GROUP BY 1",
			checkParam: func(int) int { return 0 },
		},
		{
			name:       "colocated-join",
			sql:        "SELECT o.id, sum(l.qty) FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.id BETWEEN $1 AND $1 + 100 GROUP BY o.id",
			param:      rangeStart(100),
			checkParam: middle,
		},
		{
			name:       "non-colocated-join",
			sql:        "SELECT c.region, count(*) FROM orders o JOIN customers c ON c.id = o.cust_id WHERE o.id BETWEEN $1 AND $1 + 1000 GROUP BY c.region",
			param:      rangeStart(1000),
			checkParam: middle,
		},
	}
}

// literalSQL is the workload's query with its parameter written as a literal
// (for EXPLAIN, which takes no parameters).
func (w workload) literalSQL(p int) string {
	return strings.ReplaceAll(w.sql, "$1", strconv.Itoa(p))
}

func (w workload) args(p int) []any {
	if w.param == nil {
		return nil
	}
	return []any{p}
}

// measurement is one timed run of a workload on one side.
type measurement struct {
	queries int
	elapsed time.Duration
	busy    time.Duration // sum of the queries' latencies
}

func (m measurement) qps() float64 { return float64(m.queries) / m.elapsed.Seconds() }

func (m measurement) meanMS() float64 {
	if m.queries == 0 {
		return 0
	}
	return float64(m.busy.Microseconds()) / 1000 / float64(m.queries)
}

// side is one system under test with its open client connections.
type side struct {
	name  string
	port  int
	conns []*pgx.Conn
}

func (s *side) dsn(role, db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=%s dbname=%s sslmode=disable", s.port, role, db)
}

// connect opens n client connections (pgx's default: extended protocol,
// statements prepared once per connection and cached).
func (s *side) connect(ctx context.Context, role, db string, n int) error {
	for i := 0; i < n; i++ {
		c, err := pgx.Connect(ctx, s.dsn(role, db))
		if err != nil {
			return fmt.Errorf("%s: connect: %w", s.name, err)
		}
		s.conns = append(s.conns, c)
	}
	return nil
}

func (s *side) close() {
	for _, c := range s.conns {
		c.Close(context.Background())
	}
	s.conns = nil
}

// run runs w on every connection at once for d (or, when maxQueries > 0,
// until each connection has run maxQueries). Client i draws its parameters
// from a generator seeded with (seed, stream+i), so both sides see the same
// parameter sequence. A query under way at the deadline is finished and
// counted.
func (s *side) run(ctx context.Context, w workload, rows int, d time.Duration, maxQueries int, seed, stream uint64) (measurement, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total measurement
		errs  []error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	deadline := start.Add(d)
	for i, c := range s.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, stream+uint64(i)))
			var m measurement
			for n := 0; ; n++ {
				if maxQueries > 0 && n >= maxQueries || maxQueries <= 0 && time.Now().After(deadline) || ctx.Err() != nil {
					break
				}
				var args []any
				if w.param != nil {
					args = []any{w.param(rng, rows)}
				}
				t0 := time.Now()
				rs, err := c.Query(ctx, w.sql, args...)
				if err == nil {
					for rs.Next() {
					}
					rs.Close()
					err = rs.Err()
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s, %s: %w", s.name, w.name, err))
					mu.Unlock()
					cancel()
					return
				}
				m.busy += time.Since(t0)
				m.queries++
			}
			mu.Lock()
			total.queries += m.queries
			total.busy += m.busy
			mu.Unlock()
		}()
	}
	wg.Wait()
	total.elapsed = time.Since(start)
	if len(errs) > 0 {
		return total, errs[0]
	}
	if err := ctx.Err(); err != nil {
		return total, err
	}
	return total, nil
}

// resultRows runs w once with parameter p, asking for every column in text
// form, and returns the rows as text (sorted unless the query orders them).
func resultRows(ctx context.Context, c *pgx.Conn, w workload, p int) ([]string, error) {
	args := append([]any{pgx.QueryResultFormats{pgx.TextFormatCode}}, w.args(p)...)
	rs, err := c.Query(ctx, w.sql, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var vals []string
		for _, v := range rs.RawValues() {
			if v == nil {
				vals = append(vals, "NULL")
			} else {
				vals = append(vals, string(v))
			}
		}
		out = append(out, strings.Join(vals, " | "))
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	if !w.ordered {
		slices.Sort(out)
	}
	return out, nil
}

// compareRows returns "" when the two results agree, else a description of
// the first difference.
func compareRows(a, b []string, nameA, nameB string) string {
	if slices.Equal(a, b) {
		return ""
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s returned %d rows, %s %d rows", nameA, len(a), nameB, len(b))
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			fmt.Fprintf(&sb, "; first difference at row %d: %s %q, %s %q", i+1, nameA, x, nameB, y)
			break
		}
	}
	return sb.String()
}

// explain returns EXPLAIN (COSTS OFF) of w with parameter p, run on c.
func explain(ctx context.Context, c *pgx.Conn, w workload, p int) (string, error) {
	rs, err := c.Query(ctx, "EXPLAIN (COSTS OFF) "+w.literalSQL(p), pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return "", err
	}
	lines, err := pgx.CollectRows(rs, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	if len(lines) == 0 {
		return "", errors.New("EXPLAIN returned no rows")
	}
	return strings.Join(lines, "\n"), nil
}
