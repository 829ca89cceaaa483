package planner

import (
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/xlgo/xlgo/dialect"
)

// FuzzDeparseRoundTrip: SQL the coordinator writes for a datanode is
// generated code. Any statement PostgreSQL's parser reads, written back by
// the planner's deparse, is refused (here or by the datanode) or reads
// back as the very same tree: never as another statement.
func FuzzDeparseRoundTrip(f *testing.F) {
	for _, shape := range deparseStatementShapes {
		f.Add(shape)
	}
	for _, op := range deparseOperands {
		f.Add("SELECT " + op + " FROM t WHERE " + op)
	}
	for _, shape := range deparseOuterShapes {
		f.Add("SELECT 1 FROM t WHERE " + shape)
	}
	f.Add("INSERT INTO t (a, b) SELECT x, y FROM u ON CONFLICT DO NOTHING RETURNING *")
	f.Add("CREATE TABLE t (a int PRIMARY KEY, b text DEFAULT 'x' CHECK (b <> ''))")
	f.Add("COPY t (a, b) FROM STDIN WITH (FORMAT csv, HEADER true, DELIMITER ';')")
	f.Fuzz(func(t *testing.T, sql string) {
		// What the dialect layer refuses never reaches the planner.
		if _, err := dialect.SplitStatements(sql); err != nil {
			return
		}
		res, err := pg_query.Parse(sql)
		if err != nil || len(res.Stmts) != 1 {
			return
		}
		stmt := res.Stmts[0].Stmt
		before := proto.Clone(stmt)
		out, err := deparse(stmt)
		if err != nil {
			return // refused: the statement does not reach a datanode
		}
		if !proto.Equal(before, stmt) {
			t.Fatalf("%s: deparse changed its input", sql)
		}
		// SQL that does not parse back is refused by the datanode: an error
		// either way (pg_query's deparser cannot write some rare forms, such
		// as OPERATOR(a.b.+)). SQL that parses to another tree would run
		// another statement.
		back, err := pg_query.Parse(out)
		if err == nil && (len(back.Stmts) != 1 || !sameTree(stmt, back.Stmts[0].Stmt)) {
			t.Fatalf("%s\n  deparsed: %s\n  parses to another tree", sql, out)
		}
	})
}
