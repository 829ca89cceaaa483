package planner

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/distribution"
	"github.com/xlgo/xlgo/internal/sqlscan"
)

// Route templates let a statement that reads or writes the rows of one
// distribution value skip parsing and planning when the same statement
// comes again with other constants (simple protocol) or other parameter
// values (extended protocol): its node follows from the one value that
// pinned it. A template is good for one catalog generation and one scope
// (database and search path).

// StatementCache holds the route templates of normalised statements, shared
// by every session. It is safe for concurrent use; a template, once
// published, is never changed (learning again publishes a new one).
type StatementCache struct {
	m     sync.Map // key -> *Template
	count atomic.Int64
}

// statementCacheSize bounds the cache: past it, it starts again empty.
const statementCacheSize = 10000

// Statement is a statement as the cache knows it: its key, and the values
// that may pin it to a node.
type Statement struct {
	Key string
	// Text is the statement's text; Consts its constants, when the key is
	// its shape (a simple-protocol text, see ShapeText).
	Text   string
	Consts []Const
	// Params is how many parameters a prepared statement has (see
	// PreparedStatement); 0 for a text.
	Params int
}

// Const is a constant of a statement's text: an integer, or a string
// without a doubled quote or a backslash in it.
type Const struct {
	Start, End int    // its bytes in the text, quotes included
	Value      string // its value: the digits, or the string between its quotes
}

func (c Const) isString() bool { return c.End-c.Start != len(c.Value) }

// ShapeText reads a statement's text made only of names, integers, plain
// strings, whitespace and the operators and punctuation of = < > ( ) , . *
// + - / % ! | & ^ ~ [ ] : — its key is the text with each constant replaced
// by a mark of its kind. ok is false for anything else (quoted names,
// escapes, comments, parameters, dollar quotes, decimals, ';'): such text
// is planned as usual.
func ShapeText(sql string) (st Statement, ok bool) {
	var b strings.Builder
	b.Grow(len(sql))
	var consts []Const
	sc := sqlscan.New(sql)
	// The key is the text, copied in runs up to each constant and each gap
	// between tokens that is not one space: a constant becomes its mark, a
	// gap (whitespace: comments are refused) one space.
	prev, copied := 0, 0
	for t := sc.Next(); t.Kind != sqlscan.EOF; t = sc.Next() {
		if t.Start > prev && (t.Start-prev > 1 || sql[prev] != ' ') {
			b.WriteString(sql[copied:prev])
			b.WriteByte(' ')
			copied = t.Start
		}
		prev = t.End
		mark := ""
		switch t.Kind {
		case sqlscan.Ident:
			continue
		case sqlscan.Integer:
			mark = "?i"
		case sqlscan.String:
			if v := sql[t.Start+1 : t.End-1]; strings.IndexByte(v, '\'') >= 0 || strings.IndexByte(v, '\\') >= 0 {
				return Statement{}, false // '' or a continued string; a backslash reads otherwise without standard_conforming_strings
			}
			mark = "?s"
		case sqlscan.Op, sqlscan.Punct:
			for i := t.Start; i < t.End; i++ {
				if !shapeOps[sql[i]] {
					return Statement{}, false
				}
			}
			continue
		default:
			return Statement{}, false
		}
		if consts == nil {
			consts = make([]Const, 0, 4)
		}
		c := Const{Start: t.Start, End: t.End, Value: sql[t.Start:t.End]}
		if mark == "?s" {
			c.Value = sql[t.Start+1 : t.End-1]
		}
		consts = append(consts, c)
		b.WriteString(sql[copied:t.Start])
		b.WriteString(mark)
		copied = t.End
	}
	b.WriteString(sql[copied:prev])
	return Statement{Key: b.String(), Text: sql, Consts: consts}, true
}

// shapeOps are the bytes of the operators and punctuation ShapeText takes.
var shapeOps = func() (ops [256]bool) {
	for _, c := range []byte("=<>(),.*+-/%!|&^~[]:") {
		ops[c] = true
	}
	return ops
}()

// PreparedStatement is a prepared statement's text (one statement) and
// parameter types as the cache knows them: two sessions that prepare the
// same text with the same types share its template. Its key starts with
// $, which no shape does (ShapeText refuses parameters and lone $).
func PreparedStatement(text string, paramOIDs []uint32) Statement {
	b := make([]byte, 0, len(text)+2+8*len(paramOIDs))
	b = append(b, '$')
	for _, o := range paramOIDs {
		b = strconv.AppendUint(b, uint64(o), 10)
		b = append(b, ',')
	}
	b = append(b, 0)
	b = append(b, text...)
	return Statement{Key: string(b), Text: text, Params: len(paramOIDs)}
}

// Template is what a planned one-node statement leaves for its next run:
// the table whose distribution value pins it, and which value that is.
type Template struct {
	gen   uint64
	scope string
	table *catalog.Table
	k     int // which constant of the text, or which parameter (0-based)
	write bool
	form  *ParamForm
}

// Value is which value decides the node: the index of a constant of the
// text, or of a parameter ($1 is 0).
func (t *Template) Value() int { return t.k }

// Write reports whether the statement writes.
func (t *Template) Write() bool { return t.write }

// Node gives the node of a value, or false when the value is not one the
// coordinator reads alone (then the statement is planned as usual).
func (t *Template) Node(value string) (string, bool) {
	loc := &t.table.Locator
	col := t.table.Columns[t.table.DistCol]
	if strings.Contains(col.Type, "(") {
		return "", false
	}
	return nodeOfText(loc, loc.TypeName, value)
}

// nodeOfText gives the node of loc that holds the rows whose distribution
// value, of type typ, is text; false when the coordinator cannot read it.
func nodeOfText(loc *distribution.Locator, typ, text string) (string, bool) {
	canon, ok := distribution.CanonicalText(typ, text)
	if !ok {
		return "", false
	}
	i, err := loc.NodeForCanonical(canon)
	if err != nil {
		return "", false
	}
	return loc.Nodes[i], true
}

// TextParams gives, for a text of the template's shape, the statement a
// datanode may prepare once and run with the text's constants as its
// parameters: that statement, the values and their types. ok is false
// when there is none or a value does not fit (an integer beyond int4).
func (t *Template) TextParams(st *Statement) (sql string, params [][]byte, oids []uint32, ok bool) {
	if t.form == nil {
		return "", nil, nil, false
	}
	params, ok = t.form.params(st.Consts)
	return t.form.sql, params, t.form.oids, ok
}

// Lookup gives the template of a statement for the catalog generation gen
// and the scope, or nil.
func (c *StatementCache) Lookup(st *Statement, gen uint64, scope string) *Template {
	v, ok := c.m.Load(st.Key)
	if !ok {
		return nil
	}
	t := v.(*Template)
	if t.gen != gen || t.scope != scope || t.k >= len(st.Consts)+st.Params {
		return nil
	}
	return t
}

// Learn keeps the template of a statement just planned (with the catalog
// generation gen, in scope) as plan, when plan is one node's and that node
// follows from one of its constants or parameters. stmt is its parse tree
// (for a text: which constants may become parameters).
func (c *StatementCache) Learn(st *Statement, gen uint64, scope string, stmt *pg_query.Node, plan Plan) {
	rq, ok := plan.(*RemoteQuery)
	if !ok || rq.Route == nil || len(rq.Nodes) != 1 || rq.Replicated || rq.Route.Table.DistCol < 0 {
		return
	}
	t := &Template{gen: gen, scope: scope, table: rq.Route.Table, k: -1, write: rq.Write}
	if st.Params > 0 {
		if rq.Route.Param < 1 || rq.Route.Param > st.Params {
			return
		}
		t.k = rq.Route.Param - 1
	} else {
		if rq.Route.ConstAt < 0 {
			return
		}
		for k, ct := range st.Consts {
			if int32(ct.Start) == rq.Route.ConstAt {
				t.k = k
				break
			}
		}
		if t.k < 0 {
			return
		}
		// The template must give this very node for this very value.
		if n, ok := t.Node(st.Consts[t.k].Value); !ok || n != rq.Nodes[0] {
			return
		}
		t.form = newParamForm(st.Text, st.Consts, ParamSlots(stmt))
	}
	if _, loaded := c.m.Swap(st.Key, t); !loaded && c.count.Add(1) > statementCacheSize {
		c.m.Clear()
		c.count.Store(0)
	}
}

// ParamForm is a statement text with its constants made parameters $1, $2 ...
type ParamForm struct {
	sql  string
	oids []uint32 // int4 or unspecified (0), per constant
}

const oidInt4 = 23

// newParamForm makes the parameter form of a text whose constants consts
// are all in slots (ParamSlots); nil when one is not.
func newParamForm(text string, consts []Const, slots map[int32]byte) *ParamForm {
	if len(consts) == 0 {
		return nil
	}
	var b strings.Builder
	f := &ParamForm{oids: make([]uint32, len(consts))}
	last := 0
	for i, t := range consts {
		kind, ok := slots[int32(t.Start)]
		if !ok {
			// A negative integer: its location is its minus sign's.
			j := t.Start - 1
			for j >= 0 && (text[j] == ' ' || text[j] == '\t' || text[j] == '\n' || text[j] == '\r') {
				j--
			}
			if j >= 0 && text[j] == '-' {
				kind, ok = slots[int32(j)]
			}
		}
		switch {
		case !ok:
			return nil
		case kind == SlotInt && !t.isString():
			f.oids[i] = oidInt4
		case kind == SlotString && t.isString():
			f.oids[i] = 0
		default:
			return nil
		}
		b.WriteString(text[last:t.Start])
		b.WriteString("$" + strconv.Itoa(i+1))
		last = t.End
	}
	b.WriteString(text[last:])
	f.sql = b.String()
	return f
}

// params gives the values of a text's constants as the parameters of its
// form, or false when one does not fit its parameter's type (an integer
// beyond int4 is int8 or numeric as a literal).
func (f *ParamForm) params(consts []Const) ([][]byte, bool) {
	if len(consts) != len(f.oids) {
		return nil, false
	}
	vals := make([][]byte, len(consts))
	for i, t := range consts {
		if f.oids[i] == oidInt4 {
			if _, err := strconv.ParseInt(t.Value, 10, 32); err != nil {
				return nil, false
			}
		}
		vals[i] = []byte(t.Value)
	}
	return vals, true
}
