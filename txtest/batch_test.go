package txtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

// pipelineQuery sends one statement of an extended-protocol batch that has
// no Sync yet, asks for its results with a Flush, and returns its rows'
// first values.
func pipelineQuery(t *testing.T, p *pgconn.Pipeline, sql string, args ...string) []string {
	t.Helper()
	params := make([][]byte, len(args))
	for i, a := range args {
		params[i] = []byte(a)
	}
	p.SendQueryParams(sql, params, nil, nil, nil)
	p.SendFlushRequest()
	if err := p.Flush(); err != nil {
		t.Fatalf("%s: flush: %v", sql, err)
	}
	res, err := p.GetResults()
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	rr, ok := res.(*pgconn.ResultReader)
	if !ok {
		t.Fatalf("%s: result %T", sql, res)
	}
	r := rr.Read()
	if r.Err != nil {
		t.Fatalf("%s: %v", sql, r.Err)
	}
	var out []string
	for _, row := range r.Rows {
		out = append(out, string(row[0]))
	}
	return out
}

// endPipeline sends the batch's Sync and reads it.
func endPipeline(t *testing.T, p *pgconn.Pipeline) {
	t.Helper()
	if err := p.Sync(); err != nil {
		t.Fatal(err)
	}
	if res, err := p.GetResults(); err != nil {
		t.Fatal(err)
	} else if _, ok := res.(*pgconn.PipelineSync); !ok {
		t.Fatalf("after Sync: %T", res)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestBatchIsOneTransaction: the statements of an extended-protocol batch
// (up to its Sync) are one transaction, as on PostgreSQL: rows a batch has
// locked FOR UPDATE on one or several datanodes stay locked until its Sync,
// and under REPEATABLE READ two reads of several datanodes in one batch
// share their snapshot, while under READ COMMITTED each sees what committed
// before it.
func TestBatchIsOneTransaction(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	admin := connect(t, c.CoordDSN(0, "postgres"), true)
	batch := connect(t, c.CoordDSN(0, "postgres"), false)
	other := connect(t, c.CoordDSN(0, "postgres"), true)
	twoNodeTable(t, admin, "bt")
	exec(t, other, "SET lock_timeout = '300ms'")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	for _, lock := range []struct{ name, sql string }{
		{"several datanodes", "SELECT id FROM bt WHERE v = $1 FOR UPDATE"},
		{"one datanode", "SELECT id FROM bt WHERE id = $1 FOR UPDATE"},
	} {
		p := batch.PgConn().StartPipeline(ctx)
		rows := pipelineQuery(t, p, lock.sql, map[bool]string{true: "0", false: "1"}[lock.name == "several datanodes"])
		if len(rows) == 0 {
			t.Fatalf("%s: no rows locked", lock.name)
		}
		_, err := other.Exec(ctx, "UPDATE bt SET v = v + 1 WHERE id = 1")
		if sqlState(err) != "55P03" {
			t.Errorf("%s: row 1 locked FOR UPDATE by a batch without its Sync yet: an update got %v, want lock_timeout (55P03)", lock.name, err)
		}
		endPipeline(t, p)
		exec(t, other, "UPDATE bt SET v = 0 WHERE id = 1")
	}

	sum := "SELECT sum(v)::text FROM bt WHERE id > $1"
	for _, iso := range []struct{ level, second string }{
		{"repeatable read", "0"},
		{"read committed", "20"},
	} {
		exec(t, batch, fmt.Sprintf("SET default_transaction_isolation = '%s'", iso.level))
		p := batch.PgConn().StartPipeline(ctx)
		if got := pipelineQuery(t, p, "SELECT id FROM bt WHERE v = $1", "0"); len(got) != 20 {
			t.Fatalf("%s: first read: %d rows, want 20", iso.level, len(got))
		}
		exec(t, other, "UPDATE bt SET v = 1")
		if got := pipelineQuery(t, p, sum, "0"); len(got) != 1 || got[0] != iso.second {
			t.Errorf("%s: a read in the batch after another session committed: sum %v, want %s", iso.level, got, iso.second)
		}
		endPipeline(t, p)
		exec(t, other, "UPDATE bt SET v = 0")
	}
}
