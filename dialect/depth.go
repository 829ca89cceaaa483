package dialect

import (
	"fmt"

	"github.com/xlgo/xlgo/internal/sqlscan"
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

// nestingKindOf says what token t of src does to the nesting estimate.
func nestingKindOf(src string, t sqlscan.Token) nestingKind {
	switch t.Kind {
	case sqlscan.Op:
		return nestOperator
	case sqlscan.Punct:
		switch src[t.Start] {
		case '(', '[':
			return nestOpen
		case ')', ']':
			return nestClose
		case ',', ';':
			return nestList
		}
		if t.End-t.Start == 2 && src[t.Start+1] == ':' {
			return nestOperator // ::
		}
	case sqlscan.Ident:
		var buf [9]byte
		switch string(t.Lower(src, buf[:])) {
		case "case":
			return nestOpen
		case "end":
			return nestClose
		// PostgreSQL's grammar flattens AND and OR chains and CASE
		// branches into lists, as it does comma lists.
		case "and", "or", "when", "then", "else":
			return nestList
		case "not", "is", "isnull", "notnull", "like", "ilike", "similar", "between", "in", "collate", "at",
			"overlaps", "operator", "union", "intersect", "except", "join":
			return nestOperator
		}
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
// statements of sql nests: in each bracket level, the operators of a run
// between list separators, plus the deepest bracket level inside that run.
func nestingDepth(sql string) int {
	n := newNesting()
	sc := sqlscan.New(sql)
	for t := sc.Next(); t.Kind != sqlscan.EOF; t = sc.Next() {
		k := nestingKindOf(sql, t)
		n.add(k, k == nestOpen && t.Kind == sqlscan.Ident, k == nestClose && t.Kind == sqlscan.Ident)
	}
	return n.depth()
}

// checkNesting refuses text whose statements nest deeper than MaxNesting;
// text too short to nest that deep is not looked at.
func checkNesting(sql string) error {
	if len(sql) <= MaxNesting {
		return nil // every level takes a byte at least
	}
	if d := nestingDepth(sql); d > MaxNesting {
		e := newError(CodeStatementTooComplex, "stack depth limit exceeded", 0)
		e.Hint = fmt.Sprintf("The statement nests about %d levels deep; xlgo reads statements nested at most %d levels deep.", d, MaxNesting)
		return e
	}
	return nil
}
