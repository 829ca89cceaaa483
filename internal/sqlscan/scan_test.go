package sqlscan

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// tokens renders src's tokens as "Kind:text" and the error, if any.
func tokens(src string) (string, string) {
	s := New(src)
	var out []string
	for n := 0; ; n++ {
		t := s.Next()
		if t.Kind == EOF {
			break
		}
		if n > len(src) {
			panic("scanner does not advance on " + src)
		}
		out = append(out, t.Kind.String()+":"+t.Text(src))
	}
	msg := ""
	if e := s.Err(); e != nil {
		msg = fmt.Sprintf("%s @%d", e.Msg, e.Pos)
	}
	return strings.Join(out, " "), msg
}

func TestTokenKinds(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"SELECT a_1$x, _b, été FROM t", "Ident:SELECT Ident:a_1$x Punct:, Ident:_b Punct:, Ident:été Ident:FROM Ident:t"},
		{`"a""b" "Q" U&"d\0061t" u&"x"`, `QuotedIdent:"a""b" QuotedIdent:"Q" UIdent:U&"d\0061t" UIdent:u&"x"`},
		{`'it''s' 'a\'`, `String:'it''s' String:'a\'`},
		{"'a'\n'b' 'c' 'd'", "String:'a'\n'b' String:'c' String:'d'"},
		{"'a' -- note\n  -- more\n 'b'", "String:'a' -- note\n  -- more\n 'b'"},
		{"'a' -- note", "String:'a' Comment:-- note"},
		{`E'a\'b\\' e'\n'`, `EString:E'a\'b\\' EString:e'\n'`},
		{`U&'\0041' UESCAPE '!'`, `UString:U&'\0041' Ident:UESCAPE String:'!'`},
		{`B'0101' x'1F' N'nat' b'1''0'`, `BitString:B'0101' HexString:x'1F' NString:N'nat' BitString:b'1' String:'0'`},
		{`$$a;b$$ $f$ $$ $g$ $f$ $x$a$xx$b$x$`, `DollarString:$$a;b$$ DollarString:$f$ $$ $g$ $f$ DollarString:$x$a$xx$b$x$`},
		{`$1 $12+$3`, `Param:$1 Param:$12 Op:+ Param:$3`},
		{`$ $a`, `Other:$ Other:$ Ident:a`},
		{`a$$b$$`, `Ident:a$$b$$`},
		{"1 12.5 .5 1. 1e5 1.5E-3 2e+7 1.e2", "Integer:1 Numeric:12.5 Numeric:.5 Numeric:1. Numeric:1e5 Numeric:1.5E-3 Numeric:2e+7 Numeric:1.e2"},
		{"1..2 a.b 1.5.3", "Integer:1 Punct:.. Integer:2 Ident:a Punct:. Ident:b Numeric:1.5 Numeric:.3"},
		{"a::int x := 1 f(a => 1) t[1:2]", "Ident:a Punct::: Ident:int Ident:x Punct::= Integer:1 Ident:f Punct:( Ident:a Op:=> Integer:1 Punct:) Ident:t Punct:[ Integer:1 Punct:: Integer:2 Punct:]"},
		{"a<=b a>=b a<>b a!=b a<b a||b a->>'k' @>", "Ident:a Op:<= Ident:b Ident:a Op:>= Ident:b Ident:a Op:<> Ident:b Ident:a Op:!= Ident:b Ident:a Op:< Ident:b Ident:a Op:|| Ident:b Ident:a Op:->> String:'k' Op:@>"},
		// A run of operator characters is cut before a comment, and ends
		// in + or - only with one of ~!@#^&|`?% in it.
		{"a=-1 a*-1 a@-1 a+-b a<-- c\nb a*/*c*/b", "Ident:a Op:= Op:- Integer:1 Ident:a Op:* Op:- Integer:1 Ident:a Op:@- Integer:1 Ident:a Op:+ Op:- Ident:b Ident:a Op:< Comment:-- c Ident:b Ident:a Op:* Comment:/*c*/ Ident:b"},
		{"/* a /* nested */ still */ x -- line\ny", "Comment:/* a /* nested */ still */ Ident:x Comment:-- line Ident:y"},
		{"/**/ /***/ /*/ */", "Comment:/**/ Comment:/***/ Comment:/*/ */"},
		{"a;b ; ;", "Ident:a Punct:; Ident:b Punct:; Punct:;"},
		{"\\ { } \v", `Other:\ Other:{ Other:} Other:` + "\v"},
		{"", ""},
		{" \t\r\n\f", ""},
	} {
		got, err := tokens(c.src)
		if err != "" || got != c.want {
			t.Errorf("%q:\n got %s (%s)\nwant %s", c.src, got, err, c.want)
		}
	}
}

// TestMalformed: what the scanner refuses it says, where, and it ends.
func TestMalformed(t *testing.T) {
	for _, c := range []struct{ src, err string }{
		{"SELECT 'abc", "unterminated quoted string @7"},
		{"SELECT 'a'\n'b", "unterminated quoted string @7"},
		{"SELECT E'a\\'", "unterminated quoted string @7"},
		{"SELECT E'a\\", "unterminated quoted string @7"},
		{"SELECT U&'a", "unterminated quoted string @7"},
		{"SELECT N'a", "unterminated quoted string @7"},
		{"SELECT B'01", "unterminated bit string literal @7"},
		{"SELECT X'1f", "unterminated hexadecimal string literal @7"},
		{`SELECT "abc`, "unterminated quoted identifier @7"},
		{`SELECT "a""`, "unterminated quoted identifier @7"},
		{`SELECT U&"a`, "unterminated quoted identifier @7"},
		{`SELECT ""`, "zero-length delimited identifier @7"},
		{`SELECT U&""`, "zero-length delimited identifier @7"},
		{"SELECT /* a /* b */", "unterminated /* comment @7"},
		{"SELECT /*", "unterminated /* comment @7"},
		{"SELECT $$abc", "unterminated dollar-quoted string @7"},
		{"SELECT $a$abc$b$", "unterminated dollar-quoted string @7"},
		{"SELECT 123abc", "trailing junk after numeric literal @7"},
		{"SELECT 0x1F", "trailing junk after numeric literal @7"},
		{"SELECT 1_000", "trailing junk after numeric literal @7"},
		{"SELECT 1.5x", "trailing junk after numeric literal @7"},
		{"SELECT 1e+", "trailing junk after numeric literal @7"},
		{"SELECT 1e", "trailing junk after numeric literal @7"},
		{"SELECT 0E0$", "trailing junk after numeric literal @7"},
		{"SELECT $1a", "trailing junk after parameter @7"},
		{"SELECT 1 " + strings.Repeat("<", 64) + " 2", "operator too long @9"},
	} {
		_, err := tokens(c.src)
		if err != c.err {
			t.Errorf("%q: error %q, want %q", c.src, err, c.err)
		}
	}
	// After junk the scanner goes on.
	if got, _ := tokens("SELECT 0x1F + (2), 1e5$x, 1.5$, 1$"); got != "Ident:SELECT Invalid:0x1F Op:+ Punct:( Integer:2 Punct:) Punct:, Invalid:1e5$x Punct:, Numeric:1.5 Other:$ Punct:, Integer:1 Other:$" {
		t.Errorf("after junk: %s", got)
	}
}

// pgKind is the Kind of one of pg_query's tokens; merged tells that an N
// (NCHAR) and the string after it are one NString here.
func pgKind(src string, t *pg_query.ScanToken) Kind {
	text := src[t.Start:t.End]
	switch t.Token {
	case pg_query.Token_SQL_COMMENT, pg_query.Token_C_COMMENT:
		return Comment
	case pg_query.Token_IDENT:
		if text[0] == '"' {
			return QuotedIdent
		}
		return Ident
	case pg_query.Token_UIDENT:
		return UIdent
	case pg_query.Token_SCONST:
		switch text[0] {
		case 'e', 'E':
			return EString
		case '$':
			return DollarString
		}
		return String
	case pg_query.Token_USCONST:
		return UString
	case pg_query.Token_BCONST:
		return BitString
	case pg_query.Token_XCONST:
		return HexString
	case pg_query.Token_ICONST:
		return Integer
	case pg_query.Token_FCONST:
		if strings.Trim(text, "0123456789") == "" {
			return Integer // PostgreSQL reads an integer beyond int4 as numeric
		}
		return Numeric
	case pg_query.Token_PARAM:
		return Param
	case pg_query.Token_Op, pg_query.Token_LESS_EQUALS, pg_query.Token_GREATER_EQUALS, pg_query.Token_NOT_EQUALS,
		pg_query.Token_EQUALS_GREATER:
		return Op
	case pg_query.Token_TYPECAST, pg_query.Token_COLON_EQUALS, pg_query.Token_DOT_DOT:
		return Punct
	}
	if t.KeywordKind != pg_query.KeywordKind_NO_KEYWORD {
		return Ident
	}
	if t.Token < 256 {
		if strings.IndexByte(",()[].;:", byte(t.Token)) >= 0 {
			return Punct
		}
		if strings.IndexByte("+-*/%^<>=", byte(t.Token)) >= 0 {
			return Op
		}
		return Other
	}
	return Invalid
}

// newerSyntax tells text PostgreSQL 16 reads as a number and 15 refuses:
// 0x1F, 0o17, 0b101, 1_000.
func newerSyntax(text string) bool {
	l := strings.ToLower(text)
	return strings.Contains(l, "_") || strings.HasPrefix(l, "0x") || strings.HasPrefix(l, "0o") || strings.HasPrefix(l, "0b")
}

// compareWithPostgres checks that src's tokens (kinds and byte spans) are
// PostgreSQL's, as pg_query's scanner gives them, and that both refuse
// the same texts.
func compareWithPostgres(t *testing.T, src string) {
	t.Helper()
	if !utf8.ValidString(src) || strings.ContainsAny(src, "\x00\v") {
		return // refused before scanning; \v is a space to PostgreSQL 16 only
	}
	s := New(src)
	var mine []Token
	for {
		tok := s.Next()
		if tok.Kind == EOF {
			break
		}
		if len(mine) > len(src) {
			t.Fatalf("%q: the scanner does not advance", src)
		}
		mine = append(mine, tok)
	}
	res, pgErr := pg_query.Scan(src)
	if myErr := s.Err(); myErr != nil || pgErr != nil {
		switch {
		case myErr != nil && pgErr != nil:
			return
		case myErr != nil:
			if myErr.Msg == "trailing junk after parameter" {
				return // PostgreSQL 15 refuses $1x; pg_query's scanner (17) reads $1 and x
			}
			for _, tok := range mine {
				if tok.Kind == Invalid && newerSyntax(tok.Text(src)) {
					return
				}
			}
			t.Fatalf("%q: scanner says %s @%d; PostgreSQL scans it", src, myErr.Msg, myErr.Pos)
		default:
			for _, tok := range mine {
				// Escapes PostgreSQL checks as it reads an E'' string.
				if tok.Kind == EString && strings.Contains(tok.Text(src), `\`) {
					return
				}
			}
			t.Fatalf("%q: PostgreSQL says %v; scanner reads %v", src, pgErr, mine)
		}
	}
	var theirs []Token
	toks := res.Tokens
	for i := 0; i < len(toks); i++ {
		pt := toks[i]
		tok := Token{Kind: pgKind(src, pt), Start: int(pt.Start), End: int(pt.End)}
		// N'...' is NCHAR and a string to PostgreSQL.
		if pt.Token == pg_query.Token_NCHAR && pt.End-pt.Start == 1 && i+1 < len(toks) &&
			toks[i+1].Token == pg_query.Token_SCONST && toks[i+1].Start == pt.End {
			tok = Token{Kind: NString, Start: int(pt.Start), End: int(toks[i+1].End)}
			i++
		}
		theirs = append(theirs, tok)
	}
	theirs = continued(mine, theirs)
	render := func(ts []Token) string {
		var b strings.Builder
		for _, tok := range ts {
			fmt.Fprintf(&b, "%s[%d:%d]%q ", tok.Kind, tok.Start, tok.End, tok.Text(src))
		}
		return b.String()
	}
	if a, b := render(mine), render(theirs); a != b {
		t.Fatalf("%q:\nscanner    %s\nPostgreSQL %s", src, a, b)
	}
}

// continued gives theirs with the pieces of each of mine's continued
// strings as one token: a string continued across a -- comment is one
// constant to PostgreSQL, but pg_query's scanner, which returns comments,
// gives its pieces and the comment.
func continued(mine, theirs []Token) []Token {
	var out []Token
	j := 0
	for _, m := range mine {
		for j < len(theirs) && theirs[j].End <= m.Start {
			out = append(out, theirs[j])
			j++
		}
		if m.Kind < String || m.Kind > NString {
			continue
		}
		k := j
		for k < len(theirs) && theirs[k].End <= m.End && (theirs[k].Kind == m.Kind || theirs[k].Kind == String ||
			theirs[k].Kind == Comment) {
			k++
		}
		if k-j > 1 && theirs[j].Start == m.Start && theirs[k-1].End == m.End {
			out = append(out, m)
			j = k
		}
	}
	return append(out, theirs[j:]...)
}

// Seeds are texts of every kind of token and statement split, and the
// regression suite's SQL.
func Seeds(t testing.TB) []string {
	out := []string{
		"SELECT a_1$x, _b, été FROM t WHERE x = 'it''s' AND y <> $1::int",
		`SELECT "a""b", U&"d\0061t" UESCAPE '!', u&'\0041', E'a\'b\\', B'01', X'1F', N'n', b'1''0'`,
		"SELECT 'a'\n'b', 'a' -- c\n 'b', 'a' /* c */ 'b', 'a'\r\n\t'b', 'a'  \n -- x\n\n 'b', 'a' -- x",
		"SELECT $$a;b$$, $f$ $$ $g$ $f$, $x$a$xx$b$x$, $1, $12+$3, a$$b$$, $ a",
		"SELECT 1, 12.5, .5, 1., 1e5, 1.5E-3, 2e+7, 1.e2, 1..2, 1.5.3, a.b, 1.x, 1e, 1e+, 0x1F, 1_000, 123abc, $1a",
		"SELECT a::int, f(a => 1), t[1:2], a<=b, a>=b, a<>b, a!=b, a||b, a->>'k', x @> y, a=-1, a*-1, a@-1, a+-b, a<-- c\nb",
		"SELECT a*/*c*/b, a/**/b, /* a /* nested */ still */ 1 -- line\n; ;",
		"SELECT \\, {, }, ?, `, #, ~, !",
		"SELECT 'abc", "SELECT \"abc", "SELECT /* a", "SELECT $$abc", "SELECT \"\"", "SELECT U&\"\"", "SELECT E'a\\",
		"SELECT 'a'\n'b", "SELECT E'\\u00'", "SELECT E'\\xff'", "SELECT -- only\n",
		"SELECT 1; SELECT 2", "SELECT ';'; SELECT $$;$$; SELECT $a$ ; $a$; SELECT \";\"", "SELECT (1; 2); SELECT 3",
		"/* ; */ SELECT 1 -- ;\n; ; ;", "SELECT 'a'\n';' ; SELECT 'a' -- x\n';'", "SELECT E'\\';' ; SELECT 2",
		"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$; SELECT f()", "SELECT 'abc; SELECT 2",
		"SELECT 1)); SELECT 2", "SELECT U&'\\0041;' UESCAPE '!'; SELECT B'1';", "SELECT 1 /* a /* b */ ; */ ; 2",
	}
	files, _ := filepath.Glob("../../regress/sql/*.sql")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// TestAgainstPostgres: on every seed, and on each of its lines, the
// tokens are PostgreSQL's.
func TestAgainstPostgres(t *testing.T) {
	for _, src := range Seeds(t) {
		compareWithPostgres(t, src)
		for _, line := range strings.Split(src, "\n") {
			compareWithPostgres(t, line)
		}
	}
}

// FuzzAgainstPostgres: on any text, the tokens are PostgreSQL's.
func FuzzAgainstPostgres(f *testing.F) {
	for _, src := range Seeds(f) {
		if len(src) < 2000 {
			f.Add(src)
		}
	}
	for _, piece := range []string{"'", "''", `"`, "$$", "$a$", "/*", "*/", "--", "\n", "E'", "U&'", "U&\"", "B'",
		"X'", "N'", "\\", "1", ".", "e", "+", "-", "$1", "::", ":=", "=>", "<>", "!=", "@", "#"} {
		f.Add("SELECT " + piece + "x" + piece + " y")
	}
	f.Fuzz(func(t *testing.T, src string) {
		compareWithPostgres(t, src)
	})
}

func BenchmarkScan(b *testing.B) {
	src := "UPDATE pgbench_accounts SET abalance = abalance + -2236 WHERE aid = 545573 AND note = 'x'"
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for i := 0; i < b.N; i++ {
		s := New(src)
		for s.Next().Kind != EOF {
		}
	}
}
