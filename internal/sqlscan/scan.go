// Package sqlscan reads SQL text into tokens as PostgreSQL 15's scanner
// (scan.l) does, with standard_conforming_strings on: what a statement's
// tokens are and where each begins and ends, in bytes. It keeps no copy of
// the text and allocates nothing per token; it does not decode values,
// fold names or tell keywords from names.
package sqlscan

// Kind is what a token is.
type Kind uint8

const (
	EOF          Kind = iota // the end of the text
	Ident                    // an unquoted word: a name or a keyword
	QuotedIdent              // "name", with "" for a quote
	UIdent                   // U&"name" with Unicode escapes
	String                   // 'text', with '' for a quote (and pieces continued over a newline)
	EString                  // E'text' with backslash escapes
	UString                  // U&'text' with Unicode escapes
	BitString                // B'0101'
	HexString                // X'1f'
	NString                  // N'text' (PostgreSQL reads it as NCHAR and a string)
	DollarString             // $$text$$ or $tag$text$tag$
	Integer                  // 42 (PostgreSQL reads one beyond int4 as a numeric)
	Numeric                  // 1.5, 1., .5, 1e5, 1.5E-3
	Param                    // $1
	Op                       // an operator: + - * / % ^ < > = <= >= <> != => and runs of ~!@#^&|`?+-*/%<>=
	Punct                    // one of , ( ) [ ] . ; : or :: := ..
	Comment                  // -- to the end of the line, or /* ... */ (nested)
	Other                    // a byte that starts no token: $ alone, \, { and the like
	Invalid                  // text the scanner refuses; Err says why
)

var kindNames = [...]string{"EOF", "Ident", "QuotedIdent", "UIdent", "String", "EString", "UString", "BitString",
	"HexString", "NString", "DollarString", "Integer", "Numeric", "Param", "Op", "Punct", "Comment", "Other", "Invalid"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind?"
}

// Token is one token: its kind and its bytes src[Start:End].
type Token struct {
	Kind       Kind
	Start, End int
}

// Text is the token's text in src.
func (t Token) Text(src string) string { return src[t.Start:t.End] }

// Is reports whether the token is the unquoted word w (w in lower case),
// in any case.
func (t Token) Is(src string, w string) bool {
	if t.Kind != Ident || t.End-t.Start != len(w) {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := src[t.Start+i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[i] {
			return false
		}
	}
	return true
}

// IsByte reports whether the token is the one byte c.
func (t Token) IsByte(src string, c byte) bool {
	return t.End-t.Start == 1 && src[t.Start] == c && t.Kind != Invalid
}

// Error is what the scanner refuses, in PostgreSQL's words, and where: the
// byte offset of the token it is about.
type Error struct {
	Msg string
	Pos int
}

func (e *Error) Error() string { return e.Msg }

// Scanner reads the tokens of one text. The zero value reads "".
type Scanner struct {
	src string
	pos int
	err *Error
}

// New gives a scanner of src.
func New(src string) Scanner { return Scanner{src: src} }

// Err is the first error met so far, or nil. The scanner goes on after an
// error: an unterminated string or comment is one Invalid token to the end
// of the text, a number with trailing junk one Invalid token over the junk.
func (s *Scanner) Err() *Error { return s.err }

// Pos is the byte offset after the last token read.
func (s *Scanner) Pos() int { return s.pos }

func (s *Scanner) fail(start int, msg string) Token {
	if s.err == nil {
		s.err = &Error{Msg: msg, Pos: start}
	}
	return Token{Kind: Invalid, Start: start, End: s.pos}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isIdentCont(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '$' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isOpChar(c byte) bool {
	switch c {
	case '~', '!', '@', '#', '^', '&', '|', '`', '?', '+', '-', '*', '/', '%', '<', '>', '=':
		return true
	}
	return false
}

// Next reads the next token; whitespace is skipped, comments are tokens.
// At the end it returns EOF, again and again.
func (s *Scanner) Next() Token {
	src := s.src
	for s.pos < len(src) && isSpace(src[s.pos]) {
		s.pos++
	}
	start := s.pos
	if start >= len(src) {
		return Token{Kind: EOF, Start: start, End: start}
	}
	c := src[start]
	var next byte
	if start+1 < len(src) {
		next = src[start+1]
	}
	switch {
	case c == '-' && next == '-':
		s.pos += 2
		for s.pos < len(src) && src[s.pos] != '\n' && src[s.pos] != '\r' {
			s.pos++
		}
		return Token{Kind: Comment, Start: start, End: s.pos}
	case c == '/' && next == '*':
		return s.blockComment(start)
	case c == '\'':
		return s.quoted(start, start+1, String)
	case c == '"':
		return s.quotedIdent(start, start+1, QuotedIdent)
	case c == '$':
		return s.dollar(start)
	case isDigit(c) || c == '.' && isDigit(next):
		return s.number(start)
	case isIdentStart(c):
		if next == '\'' {
			switch c {
			case 'e', 'E':
				return s.quoted(start, start+2, EString)
			case 'b', 'B':
				return s.quoted(start, start+2, BitString)
			case 'x', 'X':
				return s.quoted(start, start+2, HexString)
			case 'n', 'N':
				return s.quoted(start, start+2, NString)
			}
		}
		if (c == 'u' || c == 'U') && next == '&' && start+2 < len(src) {
			switch src[start+2] {
			case '\'':
				return s.quoted(start, start+3, UString)
			case '"':
				return s.quotedIdent(start, start+3, UIdent)
			}
		}
		s.pos++
		for s.pos < len(src) && isIdentCont(src[s.pos]) {
			s.pos++
		}
		return Token{Kind: Ident, Start: start, End: s.pos}
	case c == ':' && (next == ':' || next == '='), c == '.' && next == '.':
		s.pos += 2
		return Token{Kind: Punct, Start: start, End: s.pos}
	case c == ',' || c == '(' || c == ')' || c == '[' || c == ']' || c == '.' || c == ';' || c == ':':
		s.pos++
		return Token{Kind: Punct, Start: start, End: s.pos}
	case isOpChar(c):
		return s.operator(start)
	}
	s.pos++
	return Token{Kind: Other, Start: start, End: s.pos}
}

// blockComment reads /* ... */, which nests.
func (s *Scanner) blockComment(start int) Token {
	src := s.src
	depth := 1
	s.pos = start + 2
	for s.pos < len(src) {
		switch {
		case src[s.pos] == '/' && s.pos+1 < len(src) && src[s.pos+1] == '*':
			depth++
			s.pos += 2
		case src[s.pos] == '*' && s.pos+1 < len(src) && src[s.pos+1] == '/':
			depth--
			s.pos += 2
			if depth == 0 {
				return Token{Kind: Comment, Start: start, End: s.pos}
			}
		default:
			s.pos++
		}
	}
	return s.fail(start, "unterminated /* comment")
}

// quoted reads a string constant whose text begins at body (after its
// opening quote): ” is a quote (but in B” and X”), and in an E” string a backslash escapes
// the next byte. A string closed and opened again across whitespace with
// a newline in it is one constant.
func (s *Scanner) quoted(start, body int, kind Kind) Token {
	src := s.src
	i := body
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\\' && kind == EString:
			i += 2
		case c != '\'':
			i++
		case i+1 < len(src) && src[i+1] == '\'' && kind != BitString && kind != HexString:
			i += 2 // a quote ('' does not quote in B'' and X'')
		default:
			// The closing quote, unless the string goes on.
			if j, ok := continuation(src, i+1); ok {
				i = j + 1
				continue
			}
			s.pos = i + 1
			return Token{Kind: kind, Start: start, End: s.pos}
		}
	}
	s.pos = len(src)
	switch kind {
	case BitString:
		return s.fail(start, "unterminated bit string literal")
	case HexString:
		return s.fail(start, "unterminated hexadecimal string literal")
	}
	return s.fail(start, "unterminated quoted string")
}

// continuation reports whether, after a string's closing quote at i-1,
// whitespace holding a newline (and perhaps -- comments) leads to another
// quote that continues the string, and where that quote is.
func continuation(src string, i int) (int, bool) {
	newline := false
	for i < len(src) {
		switch c := src[i]; {
		case c == '\n' || c == '\r':
			newline = true
			i++
		case isSpace(c):
			i++
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' && src[i] != '\r' {
				i++
			}
			if i == len(src) {
				return 0, false // a comment must end with a newline
			}
		case c == '\'':
			return i, newline
		default:
			return 0, false
		}
	}
	return 0, false
}

// quotedIdent reads "name" (or U&"name") whose text begins at body.
func (s *Scanner) quotedIdent(start, body int, kind Kind) Token {
	src := s.src
	for i := body; i < len(src); i++ {
		if src[i] != '"' {
			continue
		}
		if i+1 < len(src) && src[i+1] == '"' {
			i++
			continue
		}
		s.pos = i + 1
		if i == body {
			return s.fail(start, "zero-length delimited identifier")
		}
		return Token{Kind: kind, Start: start, End: s.pos}
	}
	s.pos = len(src)
	return s.fail(start, "unterminated quoted identifier")
}

// dollar reads what begins with $: a parameter, a dollar-quoted string, or
// a lone $.
func (s *Scanner) dollar(start int) Token {
	src := s.src
	i := start + 1
	if i < len(src) && isDigit(src[i]) {
		for i < len(src) && isDigit(src[i]) {
			i++
		}
		s.pos = i
		if i < len(src) && isIdentStart(src[i]) {
			s.skipJunk()
			return s.fail(start, "trailing junk after parameter")
		}
		return Token{Kind: Param, Start: start, End: i}
	}
	// $tag$: the tag is a name without $.
	if i < len(src) && isIdentStart(src[i]) {
		i++
		for i < len(src) && (isIdentStart(src[i]) || isDigit(src[i])) {
			i++
		}
	}
	if i >= len(src) || src[i] != '$' {
		s.pos = start + 1
		return Token{Kind: Other, Start: start, End: s.pos}
	}
	delim := src[start : i+1]
	body := i + 1
	for j := body; j+len(delim) <= len(src); j++ {
		if src[j] == '$' && src[j:j+len(delim)] == delim {
			s.pos = j + len(delim)
			return Token{Kind: DollarString, Start: start, End: s.pos}
		}
	}
	s.pos = len(src)
	return s.fail(start, "unterminated dollar-quoted string")
}

// number reads an integer or a numeric constant as PostgreSQL 15 does: a
// name character right after it is an error (0x1F and 1_000 included).
func (s *Scanner) number(start int) Token {
	src := s.src
	i := start
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	kind := Integer
	if i < len(src) && src[i] == '.' {
		if i+1 < len(src) && src[i+1] == '.' {
			// 1..2: the integer, then "..".
			s.pos = i
			return Token{Kind: Integer, Start: start, End: i}
		}
		kind = Numeric
		i++
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		j := i + 1
		sign := j < len(src) && (src[j] == '+' || src[j] == '-')
		if sign {
			j++
		}
		if j < len(src) && isDigit(src[j]) {
			for j < len(src) && isDigit(src[j]) {
				j++
			}
			kind, i = Numeric, j
		} else if sign {
			s.pos = j
			return s.fail(start, "trailing junk after numeric literal")
		}
	}
	s.pos = i
	if i < len(src) && isIdentStart(src[i]) {
		s.skipJunk()
		return s.fail(start, "trailing junk after numeric literal")
	}
	return Token{Kind: kind, Start: start, End: i}
}

// skipJunk passes over the name characters after a refused number.
func (s *Scanner) skipJunk() {
	for s.pos < len(s.src) && (isIdentCont(s.src[s.pos]) || s.src[s.pos] == '.') {
		s.pos++
	}
}

// operator reads a run of operator characters as PostgreSQL cuts it: it
// stops before a comment, and a run of more than one character ends in +
// or - only when it holds one of ~ ! @ # ^ & | ` ? %.
func (s *Scanner) operator(start int) Token {
	src := s.src
	end := start + 1
	for end < len(src) && isOpChar(src[end]) {
		if (src[end] == '*' && src[end-1] == '/') || (src[end] == '-' && src[end-1] == '-') {
			end--
			break
		}
		end++
	}
	if n := end - start; n > 1 && (src[end-1] == '+' || src[end-1] == '-') {
		keep := false
		for k := start; k < end-1; k++ {
			switch src[k] {
			case '~', '!', '@', '#', '^', '&', '|', '`', '?', '%':
				keep = true
			}
		}
		if !keep {
			for end-start > 1 && (src[end-1] == '+' || src[end-1] == '-') {
				end--
			}
		}
	}
	s.pos = end
	return Token{Kind: Op, Start: start, End: end}
}
