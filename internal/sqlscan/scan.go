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

// Lower is the token's text folded to lower case (ASCII letters only, as
// PostgreSQL folds names) in buf, or nil when the token is no unquoted word
// or is longer than buf: switch string(t.Lower(src, buf[:])) compares a
// word with keywords without allocating.
func (t Token) Lower(src string, buf []byte) []byte {
	n := t.End - t.Start
	if t.Kind != Ident || n > len(buf) {
		return nil
	}
	for i := 0; i < n; i++ {
		c := src[t.Start+i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return buf[:n]
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

func (s *Scanner) fail(start int, msg string) Token {
	if s.err == nil {
		s.err = &Error{Msg: msg, Pos: start}
	}
	return Token{Kind: Invalid, Start: start, End: s.pos}
}

// Byte classes, looked up in one table: the scanner's hot loops are over
// names and spaces.
const (
	cOther = iota
	cSpace
	cIdent // a letter, _ or a byte of a multibyte character: starts and continues a name
	cDigit
	cDollar
	cOp    // an operator character
	cPunct // , ( ) [ ] ; (and . and :, read apart)
)

var class = func() (t [256]uint8) {
	for _, c := range []byte(" \t\n\r\f") {
		t[c] = cSpace
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = cIdent, cIdent
	}
	t['_'] = cIdent
	for c := 0x80; c < 0x100; c++ {
		t[c] = cIdent
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = cDigit
	}
	t['$'] = cDollar
	for _, c := range []byte("~!@#^&|`?+-*/%<>=") {
		t[c] = cOp
	}
	for _, c := range []byte(",()[];.:") {
		t[c] = cPunct
	}
	return t
}()

func isSpace(c byte) bool      { return class[c] == cSpace }
func isIdentStart(c byte) bool { return class[c] == cIdent }
func isIdentCont(c byte) bool  { return identCont[c] }

// identCont marks the bytes that continue a name: a name's hottest loop.
var identCont = func() (t [256]bool) {
	for c := range t {
		k := class[c]
		t[c] = k == cIdent || k == cDigit || k == cDollar
	}
	return t
}()

func isDigit(c byte) bool  { return class[c] == cDigit }
func isOpChar(c byte) bool { return class[c] == cOp }

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
	switch class[c] {
	case cIdent:
		switch {
		case next == '\'':
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
		case next == '&' && (c == 'u' || c == 'U') && start+2 < len(src):
			switch src[start+2] {
			case '\'':
				return s.quoted(start, start+3, UString)
			case '"':
				return s.quotedIdent(start, start+3, UIdent)
			}
		}
		i := start + 1
		for i < len(src) && isIdentCont(src[i]) {
			i++
		}
		s.pos = i
		return Token{Kind: Ident, Start: start, End: i}
	case cDigit:
		return s.number(start)
	case cDollar:
		return s.dollar(start)
	case cOp:
		switch {
		case c == '-' && next == '-':
			i := start + 2
			for i < len(src) && src[i] != '\n' && src[i] != '\r' {
				i++
			}
			s.pos = i
			return Token{Kind: Comment, Start: start, End: i}
		case c == '/' && next == '*':
			return s.blockComment(start)
		}
		return s.operator(start)
	case cPunct:
		switch {
		case c == '.' && isDigit(next):
			return s.number(start)
		case c == ':' && (next == ':' || next == '='), c == '.' && next == '.':
			s.pos += 2
		default:
			s.pos++
		}
		return Token{Kind: Punct, Start: start, End: s.pos}
	}
	switch c {
	case '\'':
		return s.quoted(start, start+1, String)
	case '"':
		return s.quotedIdent(start, start+1, QuotedIdent)
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
// opening quote). Two quotes in a row stand for one, but in a bit or hex
// string; in an E string a backslash escapes the next byte. A string
// closed and opened again across whitespace with a newline in it is one
// constant.
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
		s.pos = nameEnd(src, i)
		if s.pos > i {
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

// number reads an integer or a numeric constant as PostgreSQL 15 does. A
// name right after it, or after the integer or decimal it starts with, is
// trailing junk when that is longer than the number (1x, 1.5x, 1e5x, 1e5$;
// 0x1F and 1_000 included): an error over the number and the name.
func (s *Scanner) number(start int) Token {
	src := s.src
	i := start
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	junk := nameEnd(src, i)
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
		junk = max(junk, nameEnd(src, i))
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
			junk = max(junk, nameEnd(src, i))
		} else if sign {
			s.pos = j
			return s.fail(start, "trailing junk after numeric literal")
		}
	}
	if junk > i {
		s.pos = junk
		return s.fail(start, "trailing junk after numeric literal")
	}
	s.pos = i
	return Token{Kind: kind, Start: start, End: i}
}

// nameEnd is the end of the name that starts at i, or i when none does.
func nameEnd(src string, i int) int {
	if i >= len(src) || !isIdentStart(src[i]) {
		return i
	}
	for i++; i < len(src) && isIdentCont(src[i]); i++ {
	}
	return i
}

// operator reads a run of operator characters as PostgreSQL cuts it: it
// stops before a comment, and a run of more than one character ends in +
// or - only when it holds one of ~ ! @ # ^ & | ` ? %. An operator is a
// name: it may not be longer than 63 bytes.
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
	if end-start >= 64 { // NAMEDATALEN
		return s.fail(start, "operator too long")
	}
	return Token{Kind: Op, Start: start, End: end}
}
