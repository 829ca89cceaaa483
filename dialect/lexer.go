package dialect

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"
	"github.com/xlgo/xlgo/pgerr"
)

// namedatalen is PostgreSQL's NAMEDATALEN: identifiers are truncated to namedatalen-1 bytes.
const namedatalen = 64

// token is one lexical token of the statement (comments are dropped).
type token struct {
	kind  pg_query.Token
	kw    pg_query.KeywordKind
	start int // byte offset
	end   int // byte offset, exclusive
}

// tokenParser is a recursive-descent reader over the tokens of one statement.
type tokenParser struct {
	sql  string
	toks []token
	i    int
}

// CheckEncoding returns PostgreSQL's error for text that is not valid
// UTF-8 or holds a zero byte (what pg_verify_mbstr refuses in a query, a
// name or a text parameter), naming the bytes of the first bad character as
// PostgreSQL does; nil when s is good.
func CheckEncoding(s string) *pgconn.PgError {
	for i := 0; i < len(s); {
		c := s[i]
		if c != 0 && c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if c != 0 && !(r == utf8.RuneError && size == 1) {
			i += size
			continue
		}
		// pg_utf_mblen: the length the first byte announces.
		n := 1
		switch {
		case c&0xe0 == 0xc0:
			n = 2
		case c&0xf0 == 0xe0:
			n = 3
		case c&0xf8 == 0xf0:
			n = 4
		}
		n = min(n, len(s)-i)
		var b strings.Builder
		for j := 0; j < n; j++ {
			if j > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "0x%02x", s[i+j])
		}
		return newError(pgerr.CharacterNotInRepertoire, `invalid byte sequence for encoding "UTF8": `+b.String(), 0)
	}
	return nil
}

func newTokenParser(sql string) (*tokenParser, error) {
	if err := CheckEncoding(sql); err != nil {
		return nil, err
	}
	res, err := pg_query.Scan(sql)
	if err != nil {
		return nil, fromPgQueryError(err, 0, sql)
	}
	if err := checkNesting(sql); err != nil {
		return nil, err
	}
	p := &tokenParser{sql: sql, toks: make([]token, 0, len(res.Tokens))}
	for _, t := range res.Tokens {
		if t.Token == pg_query.Token_SQL_COMMENT || t.Token == pg_query.Token_C_COMMENT {
			continue
		}
		s, e := int(t.Start), int(t.End)
		if s < 0 || e < s || e > len(sql) {
			return nil, newError(pgerr.SyntaxError, "invalid token offsets", 0)
		}
		p.toks = append(p.toks, token{kind: t.Token, kw: t.KeywordKind, start: s, end: e})
	}
	return p, nil
}

// newError builds a PostgreSQL-style ERROR; pos is a 1-based character position or 0.
func newError(code, msg string, pos int) *pgconn.PgError {
	return &pgconn.PgError{
		Severity:            "ERROR",
		SeverityUnlocalized: "ERROR",
		Code:                code,
		Message:             msg,
		Position:            int32(pos),
	}
}

// fromPgQueryError turns a pg_query scanner/parser error into a 42601 PgError. A nonzero
// pos replaces the error's own cursor position.
func fromPgQueryError(err error, pos int, sql string) error {
	var pe *parser.Error
	if errors.As(err, &pe) {
		if pos == 0 {
			pos = pe.Cursorpos
		}
		if max := utf8.RuneCountInString(sql) + 1; pos > max {
			pos = max
		}
		return newError(pgerr.SyntaxError, pe.Message, pos)
	}
	return newError(pgerr.SyntaxError, err.Error(), pos)
}

// charPos converts a byte offset of sql to PostgreSQL's 1-based character position.
func charPos(sql string, off int) int {
	if off > len(sql) {
		off = len(sql)
	}
	return utf8.RuneCountInString(sql[:off]) + 1
}

func (p *tokenParser) text(t token) string { return p.sql[t.start:t.end] }

// at returns the token n places after the current one.
func (p *tokenParser) at(n int) (token, bool) {
	j := p.i + n
	if j < 0 || j >= len(p.toks) {
		return token{}, false
	}
	return p.toks[j], true
}

func (p *tokenParser) eof() bool { return p.i >= len(p.toks) }

// isWordTok reports whether t is an unquoted identifier or keyword spelled w (w in lower case).
func (p *tokenParser) isWordTok(t token, w string) bool {
	if t.kw == pg_query.KeywordKind_NO_KEYWORD {
		if t.kind != pg_query.Token_IDENT || p.sql[t.start] == '"' {
			return false
		}
	}
	return t.end-t.start == len(w) && asciiLower(p.text(t)) == w
}

// isWord reports whether the token n places ahead is the unquoted word w.
func (p *tokenParser) isWord(n int, w string) bool {
	t, ok := p.at(n)
	return ok && p.isWordTok(t, w)
}

// isKind reports whether the token n places ahead has kind k.
func (p *tokenParser) isKind(n int, k pg_query.Token) bool {
	t, ok := p.at(n)
	return ok && t.kind == k
}

// acceptWord consumes the current token when it is the word w.
func (p *tokenParser) acceptWord(w string) bool {
	if p.isWord(0, w) {
		p.i++
		return true
	}
	return false
}

// acceptKind consumes the current token when it has kind k.
func (p *tokenParser) acceptKind(k pg_query.Token) bool {
	if p.isKind(0, k) {
		p.i++
		return true
	}
	return false
}

func (p *tokenParser) expectWord(w string) error {
	if p.acceptWord(w) {
		return nil
	}
	return p.syntaxError()
}

func (p *tokenParser) expectKind(k pg_query.Token) error {
	if p.acceptKind(k) {
		return nil
	}
	return p.syntaxError()
}

// syntaxError reports a syntax error at the current token (or at end of input).
func (p *tokenParser) syntaxError() error { return p.syntaxErrorAt(p.i) }

func (p *tokenParser) syntaxErrorAt(i int) error {
	if i >= len(p.toks) {
		return newError(pgerr.SyntaxError, "syntax error at end of input", charPos(p.sql, len(p.sql)))
	}
	t := p.toks[i]
	return newError(pgerr.SyntaxError, fmt.Sprintf("syntax error at or near \"%s\"", p.text(t)), charPos(p.sql, t.start))
}

// errorAt reports msg at token i.
func (p *tokenParser) errorAt(i int, code, msg string) error {
	pos := charPos(p.sql, len(p.sql))
	if i < len(p.toks) {
		pos = charPos(p.sql, p.toks[i].start)
	}
	return newError(code, msg, pos)
}

// end accepts trailing semicolons and then requires the end of the statement.
func (p *tokenParser) end() error {
	for p.acceptKind(pg_query.Token_ASCII_59) {
	}
	if !p.eof() {
		return p.syntaxError()
	}
	return nil
}

// isColID reports whether t can be a ColId: an identifier, or an unreserved or column-name keyword.
func isColID(t token) bool {
	switch t.kind {
	case pg_query.Token_IDENT, pg_query.Token_UIDENT:
		return true
	}
	return t.kw == pg_query.KeywordKind_UNRESERVED_KEYWORD || t.kw == pg_query.KeywordKind_COL_NAME_KEYWORD
}

// isColLabel reports whether t can be a ColLabel: any identifier or keyword.
func isColLabel(t token) bool {
	return t.kind == pg_query.Token_IDENT || t.kind == pg_query.Token_UIDENT || t.kw != pg_query.KeywordKind_NO_KEYWORD
}

// colID reads a ColId and returns it folded.
func (p *tokenParser) colID() (string, error) {
	t, ok := p.at(0)
	if !ok || !isColID(t) {
		return "", p.syntaxError()
	}
	return p.identifier()
}

// colLabel reads a ColLabel and returns it folded.
func (p *tokenParser) colLabel() (string, error) {
	t, ok := p.at(0)
	if !ok || !isColLabel(t) {
		return "", p.syntaxError()
	}
	return p.identifier()
}

// identifier consumes the current identifier-like token (with a UESCAPE clause for U&"...") and folds it.
func (p *tokenParser) identifier() (string, error) {
	t := p.toks[p.i]
	raw := p.text(t)
	p.i++
	if t.kind == pg_query.Token_UIDENT {
		end := t.end
		if p.isKind(0, pg_query.Token_UESCAPE) {
			if !p.isKind(1, pg_query.Token_SCONST) {
				p.i++
				return "", p.syntaxError()
			}
			end = p.toks[p.i+1].end
			p.i += 2
		}
		return unicodeIdent(p.sql[t.start:end], charPos(p.sql, t.start), p.sql)
	}
	if t.kind == pg_query.Token_IDENT && raw[0] == '"' {
		return truncateIdent(strings.ReplaceAll(raw[1:len(raw)-1], `""`, `"`)), nil
	}
	return truncateIdent(asciiLower(raw)), nil
}

// unicodeIdent decodes a U&"..." identifier with PostgreSQL's own parser.
func unicodeIdent(raw string, pos int, sql string) (string, error) {
	tree, err := pg_query.Parse("SELECT 1 AS " + raw)
	if err != nil {
		return "", fromPgQueryError(err, pos, sql)
	}
	stmts := tree.GetStmts()
	if len(stmts) == 1 {
		if tl := stmts[0].GetStmt().GetSelectStmt().GetTargetList(); len(tl) == 1 {
			if name := tl[0].GetResTarget().GetName(); name != "" {
				return name, nil
			}
		}
	}
	return "", newError(pgerr.SyntaxError, fmt.Sprintf("syntax error at or near \"%s\"", raw), pos)
}

// stringLiteral consumes a string constant ('...', E'...', $$...$$, U&'...' [UESCAPE '.'])
// and returns its value as PostgreSQL reads it.
func (p *tokenParser) stringLiteral() (string, error) {
	t, ok := p.at(0)
	if !ok || (t.kind != pg_query.Token_SCONST && t.kind != pg_query.Token_USCONST) {
		return "", p.syntaxError()
	}
	end := t.end
	p.i++
	if t.kind == pg_query.Token_USCONST && p.isKind(0, pg_query.Token_UESCAPE) {
		if !p.isKind(1, pg_query.Token_SCONST) {
			p.i++
			return "", p.syntaxError()
		}
		end = p.toks[p.i+1].end
		p.i += 2
	}
	return literalValue(p.sql[t.start:end], charPos(p.sql, t.start), p.sql)
}

// literalValue reads a string literal's value with PostgreSQL's own parser, so every escape
// form is handled exactly as the server would.
func literalValue(raw string, pos int, sql string) (string, error) {
	tree, err := pg_query.Parse("SELECT " + raw)
	if err != nil {
		return "", fromPgQueryError(err, pos, sql)
	}
	stmts := tree.GetStmts()
	if len(stmts) == 1 {
		if tl := stmts[0].GetStmt().GetSelectStmt().GetTargetList(); len(tl) == 1 {
			if s := tl[0].GetResTarget().GetVal().GetAConst().GetSval(); s != nil {
				return s.GetSval(), nil
			}
		}
	}
	return "", newError(pgerr.SyntaxError, fmt.Sprintf("syntax error at or near \"%s\"", raw), pos)
}

// asciiLower folds ASCII upper-case letters only, as PostgreSQL's downcase_identifier does
// for a multibyte server encoding.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// truncateIdent cuts an identifier to NAMEDATALEN-1 bytes on a character boundary, as PostgreSQL does.
func truncateIdent(s string) string {
	if len(s) < namedatalen {
		return s
	}
	n := namedatalen - 1
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
