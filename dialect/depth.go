package dialect

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// CodeStatementTooComplex is PostgreSQL's statement_too_complex, the code of
// "stack depth limit exceeded".
const CodeStatementTooComplex = "54001"

// MaxNesting is how deep a statement may nest: operators chained without a
// list between them (a+b+c..., x::t::t..., UNION, JOIN) and brackets,
// CASE ... END and the like inside one another. PostgreSQL's parser, which
// xlgo runs in its own process, recurses once per level on the C stack of
// the calling thread without checking its depth (when it writes the tree
// out, and when a tree is written back as SQL): past a few thousand levels
// it overflows the stack and the coordinator dies. Statements nested deeper
// than MaxNesting are refused first, as PostgreSQL refuses them (54001)
// past its max_stack_depth. The default leaves ample room on a thread stack
// of 8 MB (ulimit -s); the coordinator lowers it on a smaller stack.
var MaxNesting = 1000

// nestingKind says what a token does to the nesting estimate.
type nestingKind int

const (
	nestOperand  nestingKind = iota // an identifier, a constant, a keyword that nests nothing
	nestOperator                    // one more level of the expression (or query) around what precedes it
	nestList                        // a separator of a flat list: what follows is a sibling
	nestOpen                        // a bracket or CASE opens a level
	nestClose                       // and closes it
)

func nestingKindOf(t pg_query.Token) nestingKind {
	switch t {
	case pg_query.Token_ASCII_40, pg_query.Token_ASCII_91, pg_query.Token_CASE:
		return nestOpen
	case pg_query.Token_ASCII_41, pg_query.Token_ASCII_93, pg_query.Token_END_P:
		return nestClose
	// PostgreSQL's grammar flattens AND and OR chains and CASE branches
	// into lists, as it does comma lists.
	case pg_query.Token_ASCII_44, pg_query.Token_ASCII_59, pg_query.Token_AND, pg_query.Token_OR,
		pg_query.Token_WHEN, pg_query.Token_THEN, pg_query.Token_ELSE:
		return nestList
	case pg_query.Token_ASCII_37, pg_query.Token_ASCII_42, pg_query.Token_ASCII_43, pg_query.Token_ASCII_45,
		pg_query.Token_ASCII_47, pg_query.Token_ASCII_60, pg_query.Token_ASCII_61, pg_query.Token_ASCII_62,
		pg_query.Token_ASCII_94, pg_query.Token_Op, pg_query.Token_TYPECAST, pg_query.Token_LESS_EQUALS,
		pg_query.Token_GREATER_EQUALS, pg_query.Token_NOT_EQUALS, pg_query.Token_NOT, pg_query.Token_IS,
		pg_query.Token_ISNULL, pg_query.Token_NOTNULL, pg_query.Token_LIKE, pg_query.Token_ILIKE,
		pg_query.Token_SIMILAR, pg_query.Token_BETWEEN, pg_query.Token_IN_P, pg_query.Token_COLLATE,
		pg_query.Token_AT, pg_query.Token_OVERLAPS, pg_query.Token_OPERATOR, pg_query.Token_UNION,
		pg_query.Token_INTERSECT, pg_query.Token_EXCEPT, pg_query.Token_JOIN:
		return nestOperator
	}
	return nestOperand
}

// nesting is the estimate of nestingDepth, fed one token at a time.
type nesting struct {
	stack []nestLevel
}

type nestLevel struct {
	chain, inner, best int
	isCase             bool
}

func newNesting() *nesting { return &nesting{stack: []nestLevel{{}}} }

func (n *nesting) endRun(l *nestLevel) {
	l.best = max(l.best, l.chain+l.inner)
	l.chain, l.inner = 0, 0
}

// close ends the innermost level.
func (n *nesting) close() {
	top := &n.stack[len(n.stack)-1]
	n.endRun(top)
	d := top.best + 1
	n.stack = n.stack[:len(n.stack)-1]
	parent := &n.stack[len(n.stack)-1]
	parent.inner = max(parent.inner, d)
}

func (n *nesting) add(k nestingKind, isCase, isEnd bool) {
	top := &n.stack[len(n.stack)-1]
	switch k {
	case nestOperator:
		top.chain++
	case nestList:
		n.endRun(top)
	case nestOpen:
		n.stack = append(n.stack, nestLevel{isCase: isCase})
	case nestClose:
		// END closes a CASE only (it also ends a transaction).
		if len(n.stack) > 1 && isEnd == top.isCase {
			n.close()
		}
	}
}

// depth is the estimate for everything added.
func (n *nesting) depth() int {
	for len(n.stack) > 1 {
		n.close()
	}
	n.endRun(&n.stack[0])
	return n.stack[0].best
}

// nestingDepth estimates, from above, how deep the parse tree of the
// statements of toks nests: in each bracket level, the operators of a run
// between list separators, plus the deepest bracket level inside that run.
func nestingDepth(toks []*pg_query.ScanToken) int {
	n := newNesting()
	for _, t := range toks {
		n.add(nestingKindOf(t.Token), t.Token == pg_query.Token_CASE, t.Token == pg_query.Token_END_P)
	}
	return n.depth()
}

// plainNestingDepth is nestingDepth for text without quotes, dollar quotes,
// backslashes or comments (what SplitStatements passes on unscanned), read
// byte by byte: words are keywords or operands, operator characters
// operators. It counts at least what nestingDepth counts.
func plainNestingDepth(sql string) int {
	n := newNesting()
	isWord := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= '0' && c <= '9' || c == '$' || c >= 0x80
	}
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case isWord(c):
			j := i
			for j < len(sql) && isWord(sql[j]) {
				j++
			}
			w := asciiLower(sql[i:j])
			i = j
			switch w {
			case "case":
				n.add(nestOpen, true, false)
			case "end":
				n.add(nestClose, false, true)
			case "and", "or", "when", "then", "else":
				n.add(nestList, false, false)
			case "not", "is", "isnull", "notnull", "like", "ilike", "similar", "between", "in", "collate", "at",
				"overlaps", "operator", "union", "intersect", "except", "join":
				n.add(nestOperator, false, false)
			}
		case c == '(' || c == '[':
			n.add(nestOpen, false, false)
			i++
		case c == ')' || c == ']':
			n.add(nestClose, false, false)
			i++
		case c == ',' || c == ';':
			n.add(nestList, false, false)
			i++
		case strings.IndexByte("+-*/<>=~!@#%^&|`?:", c) >= 0:
			// Each operator character counts as an operator: the lexer
			// splits some runs ("*+" is two), and what is counted over
			// (a scientific number's sign, "<=") only errs upwards.
			n.add(nestOperator, false, false)
			i++
		default:
			i++
		}
	}
	return n.depth()
}

// checkNesting refuses text whose statements nest deeper than MaxNesting.
// toks are its tokens, or nil for text plainNestingDepth can read; text too
// short to nest that deep is not looked at.
func checkNesting(sql string, toks []*pg_query.ScanToken) error {
	if len(sql) <= MaxNesting {
		return nil // every level takes a byte at least
	}
	var d int
	if toks == nil {
		d = plainNestingDepth(sql)
	} else {
		d = nestingDepth(toks)
	}
	if d > MaxNesting {
		e := newError(CodeStatementTooComplex, "stack depth limit exceeded", 0)
		e.Hint = fmt.Sprintf("The statement nests about %d levels deep; xlgo reads statements nested at most %d levels deep.", d, MaxNesting)
		return e
	}
	return nil
}
