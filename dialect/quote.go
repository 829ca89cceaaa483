package dialect

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/xlgo/xlgo/internal/sqlscan"
	"github.com/xlgo/xlgo/pgerr"
)

// SplitStatements splits a Query message's text into statements, token-aware; empty statements
// (only whitespace or comments) are dropped and each statement is returned without its trailing ';'.
// Text that is not UTF-8 (22021), that PostgreSQL's scanner refuses (42601), that nests deeper
// than MaxNesting (54001) or that names a parameter $0 (42P02) is refused: every statement a
// client sends comes through here before PostgreSQL's parser sees it.
func SplitStatements(sql string) ([]string, error) {
	if err := CheckEncoding(sql); err != nil {
		return nil, err
	}
	// Split on ';' tokens at parenthesis depth 0, so that semicolons in
	// strings, comments, dollar quotes and parenthesised bodies stay.
	var out []string
	start, depth, any, escapes, param0 := 0, 0, false, false, -1
	sc := sqlscan.New(sql)
	for t := sc.Next(); ; t = sc.Next() {
		if t.Kind == sqlscan.EOF || t.IsByte(sql, ';') && depth == 0 {
			if any {
				out = append(out, strings.TrimSpace(sql[start:t.Start]))
			}
			if t.Kind == sqlscan.EOF {
				break
			}
			start, any = t.End, false
			continue
		}
		switch t.Kind {
		case sqlscan.Comment:
			continue
		case sqlscan.EString:
			escapes = escapes || strings.IndexByte(t.Text(sql), '\\') >= 0
		case sqlscan.Param:
			if param0 < 0 && strings.Trim(sql[t.Start+1:t.End], "0") == "" {
				param0 = t.Start
			}
		case sqlscan.Punct:
			switch sql[t.Start] {
			case '(':
				depth++
			case ')':
				depth = max(depth-1, 0)
			}
		}
		any = true
	}
	if err := sc.Err(); err != nil || escapes {
		// PostgreSQL's own scanner says what is wrong (and checks the
		// escapes of E'' strings); what only PostgreSQL 15 refuses (0x1F,
		// 1_000, $1x) is said here.
		if _, pgErr := pg_query.Scan(sql); pgErr != nil {
			return nil, fromPgQueryError(pgErr, 0, sql)
		}
		if err != nil {
			return nil, newError(pgerr.SyntaxError, scanErrorText(sql, err), charPos(sql, err.Pos))
		}
	}
	if err := checkNesting(sql); err != nil {
		return nil, err
	}
	if param0 >= 0 {
		// PostgreSQL's parser reads $0 as a parameter no statement can
		// have; pg_query's deparser would write it as "?".
		return nil, &pgconn.PgError{Severity: "ERROR", Code: "42P02", Message: "there is no parameter $0",
			Position: int32(charPos(sql, param0))}
	}
	return out, nil
}

// scanErrorText is a scanner error as PostgreSQL words it: the message at
// or near the refused text.
func scanErrorText(sql string, e *sqlscan.Error) string {
	sc := sqlscan.New(sql[e.Pos:])
	t := sc.Next()
	return fmt.Sprintf("%s at or near \"%s\"", e.Msg, t.Text(sql[e.Pos:]))
}

// QuoteIdent quotes an identifier as PostgreSQL's quote_ident does: only when it is not all
// lower-case letters, digits and underscores starting with a letter or underscore, or is a keyword
// other than an unreserved one.
func QuoteIdent(s string) string {
	safe := s != ""
	for i := 0; i < len(s) && safe; i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case c >= '0' && c <= '9':
			safe = i > 0
		default:
			safe = false
		}
	}
	if safe && isKeyword(s) {
		safe = false
	}
	if safe {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// isKeyword reports whether the word s is a keyword that quote_ident must quote.
func isKeyword(s string) bool {
	res, err := pg_query.Scan(s)
	if err != nil || len(res.Tokens) != 1 {
		return false
	}
	kw := res.Tokens[0].KeywordKind
	return kw != pg_query.KeywordKind_NO_KEYWORD && kw != pg_query.KeywordKind_UNRESERVED_KEYWORD
}

// QuoteLiteral quotes s as a standard SQL string literal ('...' with ' doubled), as read with
// standard_conforming_strings on.
func QuoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
