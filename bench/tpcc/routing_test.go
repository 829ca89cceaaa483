package tpcc

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// statementLog records each distinct statement the terminals ran, with the
// arguments of its first run.
type statementLog struct {
	mu   sync.Mutex
	args map[string][]any
}

func (l *statementLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.args[d.SQL]; !ok && d.SQL != "begin" && d.SQL != "commit" && d.SQL != "rollback" {
		l.args[d.SQL] = slices.Clone(d.Args)
	}
	return ctx
}

func (l *statementLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// literal is an argument as an SQL literal.
func literal(t *testing.T, v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case int, int32, int64:
		return fmt.Sprint(v)
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case time.Time:
		return "'" + v.Format("2006-01-02 15:04:05.999999") + "'"
	case pgtype.Numeric:
		cents, err := toInt(v)
		if err != nil {
			t.Fatalf("literal %v: %v", v, err)
		}
		return amount(cents)
	}
	t.Fatalf("literal of %T", v)
	return ""
}

var param = regexp.MustCompile(`\$[0-9]+`)

// oneDatanode is the first line of a plan that runs whole on one datanode:
// a statement sent to one node, or an INSERT of one row of VALUES, which
// goes to the node of its distribution value (its plan lists them all).
var oneDatanode = regexp.MustCompile(`^(Remote Subquery Scan on (any|all) \(datanode[0-9]+\)|Remote Insert on [a-z_]+ \(.*\) distribute HASH by [a-z_]+)$`)

// checkRouting explains every statement of log on conn, its parameters
// replaced by the arguments of its first run, and fails the test for a
// statement that does not run whole on one datanode.
func checkRouting(t *testing.T, ctx context.Context, conn *pgx.Conn, log *statementLog) {
	t.Helper()
	sqls := slices.Sorted(func(yield func(string) bool) {
		for s := range log.args {
			if !yield(s) {
				return
			}
		}
	})
	var report strings.Builder
	for _, sql := range sqls {
		args := log.args[sql]
		text := param.ReplaceAllStringFunc(sql, func(p string) string {
			var i int
			fmt.Sscanf(p, "$%d", &i)
			return literal(t, args[i-1])
		})
		var plan []string
		rows, err := conn.Query(ctx, "EXPLAIN (COSTS OFF) "+text, pgx.QueryExecModeSimpleProtocol)
		if err == nil {
			var line string
			_, err = pgx.ForEachRow(rows, []any{&line}, func() error { plan = append(plan, line); return nil })
		}
		if err != nil {
			t.Errorf("EXPLAIN %s: %v", text, err)
			continue
		}
		fmt.Fprintf(&report, "%s\n    %s\n", sql, plan[0])
		if !oneDatanode.MatchString(plan[0]) {
			t.Errorf("not on one datanode: %s\n%s", text, strings.Join(plan, "\n"))
		}
	}
	t.Logf("xlgo: where each of the %d statements the terminals ran goes:\n%s", len(sqls), report.String())
}
