package sqlscan_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/xlgo/xlgo/dialect"
	"github.com/xlgo/xlgo/internal/sqlscan"
)

// splitByPostgres splits text on the ';' tokens of PostgreSQL's own scanner
// (pg_query's) at parenthesis depth 0, dropping statements of nothing but
// comments: what SplitStatements must give.
func splitByPostgres(sql string) ([]string, error) {
	res, err := pg_query.Scan(sql)
	if err != nil {
		return nil, err
	}
	var out []string
	start, depth, any := 0, 0, false
	flush := func(end int) {
		if any {
			out = append(out, strings.TrimSpace(sql[start:end]))
		}
	}
	for _, t := range res.Tokens {
		switch t.Token {
		case pg_query.Token_SQL_COMMENT, pg_query.Token_C_COMMENT:
			continue
		case pg_query.Token_ASCII_40:
			depth++
		case pg_query.Token_ASCII_41:
			if depth > 0 {
				depth--
			}
		case pg_query.Token_ASCII_59:
			if depth == 0 {
				flush(int(t.Start))
				start, any = int(t.End), false
				continue
			}
		}
		any = true
	}
	flush(len(sql))
	return out, nil
}

// compareSplit checks dialect.SplitStatements, which splits with this
// scanner, against PostgreSQL's scanner on sql.
func compareSplit(t *testing.T, sql string) {
	t.Helper()
	if dialect.CheckEncoding(sql) != nil || strings.ContainsRune(sql, '\v') {
		return // refused first; \v is a space to PostgreSQL 16 only
	}
	old := dialect.MaxNesting
	dialect.MaxNesting = 1 << 30
	defer func() { dialect.MaxNesting = old }()
	got, err := dialect.SplitStatements(sql)
	want, pgErr := splitByPostgres(sql)
	if pe, ok := err.(*pgconn.PgError); ok && (pe.Code == "42P02" ||
		strings.HasPrefix(pe.Message, "trailing junk after") && pgErr == nil) {
		return // $0, and what PostgreSQL 15 refuses but pg_query's scanner (17) reads
	}
	if (err != nil) != (pgErr != nil) {
		t.Fatalf("%q: SplitStatements error %v; PostgreSQL's scanner: %v", sql, err, pgErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\nSplitStatements %q\nPostgreSQL      %q", sql, got, want)
	}
}

// TestSplitAgainstPostgres: on the regression suite's files and the seeds,
// statements split where PostgreSQL's scanner splits them.
func TestSplitAgainstPostgres(t *testing.T) {
	for _, sql := range sqlscan.Seeds(t) {
		compareSplit(t, sql)
	}
}

func FuzzSplitAgainstPostgres(f *testing.F) {
	for _, sql := range sqlscan.Seeds(f) {
		if len(sql) < 2000 {
			f.Add(sql)
		}
	}
	f.Fuzz(func(t *testing.T, sql string) {
		compareSplit(t, sql)
	})
}
