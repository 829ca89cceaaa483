package dialect

import (
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// SplitStatements splits a Query message's text into statements, token-aware; empty statements
// (only whitespace or comments) are dropped and each statement is returned without its trailing ';'.
// Text that is not UTF-8 (22021) or nests deeper than MaxNesting (54001) is refused: every
// statement a client sends comes through here before PostgreSQL's parser sees it.
func SplitStatements(sql string) ([]string, error) {
	if err := CheckEncoding(sql); err != nil {
		return nil, err
	}
	if one, ok := singleStatement(sql); ok {
		if err := checkNesting(sql, nil); err != nil {
			return nil, err
		}
		return one, nil
	}
	// Split on ';' tokens of PostgreSQL's own lexer at parenthesis depth 0,
	// so that semicolons in strings, comments, dollar quotes and
	// parenthesised bodies stay. (pg_query's SplitWithScanner drops
	// statements that do not start with a keyword, such as a misspelt one.)
	res, err := pg_query.Scan(sql)
	if err != nil {
		return nil, fromPgQueryError(err, 0, sql)
	}
	if err := checkNesting(sql, res.Tokens); err != nil {
		return nil, err
	}
	if err := checkParams(sql, res.Tokens); err != nil {
		return nil, err
	}
	var out []string
	start, depth := 0, 0
	flush := func(end int) {
		if part := strings.TrimSpace(sql[start:end]); hasTokens(part) {
			out = append(out, part)
		}
	}
	for _, t := range res.Tokens {
		switch t.Token {
		case pg_query.Token_ASCII_40:
			depth++
		case pg_query.Token_ASCII_41:
			if depth > 0 {
				depth--
			}
		case pg_query.Token_ASCII_59:
			if depth == 0 {
				flush(int(t.Start))
				start = int(t.End)
			}
		}
	}
	flush(len(sql))
	return out, nil
}

// checkParams refuses $0, which PostgreSQL's parser reads as a parameter
// but no statement can have ("there is no parameter $0", as PostgreSQL
// says); pg_query's deparser would write it as "?".
func checkParams(sql string, toks []*pg_query.ScanToken) error {
	for _, t := range toks {
		if t.Token != pg_query.Token_PARAM || int(t.End) > len(sql) || t.Start < 0 || t.Start >= t.End {
			continue
		}
		if strings.Trim(sql[t.Start+1:t.End], "0") == "" {
			return &pgconn.PgError{Severity: "ERROR", Code: "42P02", Message: "there is no parameter $0",
				Position: int32(charPos(sql, int(t.Start)))}
		}
	}
	return nil
}

// hasTokens reports whether s holds anything but whitespace and comments.
func hasTokens(s string) bool {
	if strings.TrimSpace(s) == "" {
		return false
	}
	res, err := pg_query.Scan(s)
	if err != nil {
		return true
	}
	for _, t := range res.Tokens {
		if t.Token != pg_query.Token_SQL_COMMENT && t.Token != pg_query.Token_C_COMMENT {
			return true
		}
	}
	return false
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

// singleStatement recognises, without lexing, text that is one statement:
// no ';' but a last one, no comment.
func singleStatement(sql string) ([]string, bool) {
	t := strings.TrimSpace(sql)
	if strings.HasSuffix(t, ";") {
		t = strings.TrimSpace(t[:len(t)-1])
	}
	if t == "" || strings.IndexByte(t, ';') >= 0 || strings.Contains(t, "--") || strings.Contains(t, "/*") ||
		strings.ContainsAny(t, "'\"$\\\x00") {
		return nil, false
	}
	return []string{t}, true
}
