package engine

import (
	"strconv"
	"strings"
	"sync"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/distribution"
	"github.com/xlgo/xlgo/planner"
)

// Route templates let a statement that reads or writes the rows of one
// distribution value skip parsing and planning when the same statement
// comes again with other constants (or other parameter values): its node
// follows from the one value that pinned it. A template is good for one
// catalog generation, database and search path.

// route is what a planned one-node statement leaves for its next run.
type route struct {
	gen   uint64
	scope string // database and search path
	table *catalog.Table
	k     int // which constant of the text (or which parameter) is the value
	write bool
	// With every constant of the text a parameter, the datanode prepares
	// the statement once per backend and runs it with the constants' values.
	prepared *paramForm
}

// paramForm is a statement text with its constants made parameters $1, $2 ...
type paramForm struct {
	sql  string
	oids []uint32 // int4 or unspecified (0), per constant
}

const oidInt4 = 23

// newParamForm makes the parameter form of a text whose constants consts
// are all in slots (planner.ParamSlots); nil when one is not.
func newParamForm(text string, consts []constTok, slots map[int32]byte) *paramForm {
	if len(consts) == 0 {
		return nil
	}
	var b strings.Builder
	f := &paramForm{oids: make([]uint32, len(consts))}
	last := 0
	for i, t := range consts {
		kind, ok := slots[int32(t.start)]
		if !ok {
			// A negative integer: its location is its minus sign's.
			j := t.start - 1
			for j >= 0 && (text[j] == ' ' || text[j] == '\t' || text[j] == '\n' || text[j] == '\r') {
				j--
			}
			if j >= 0 && text[j] == '-' {
				kind, ok = slots[int32(j)]
			}
		}
		isString := text[t.start] == '\''
		switch {
		case !ok:
			return nil
		case kind == planner.SlotInt && !isString:
			f.oids[i] = oidInt4
		case kind == planner.SlotString && isString:
			f.oids[i] = 0
		default:
			return nil
		}
		end := t.start + len(t.value)
		if isString {
			end += 2
		}
		b.WriteString(text[last:t.start])
		b.WriteString("$" + strconv.Itoa(i+1))
		last = end
	}
	b.WriteString(text[last:])
	f.sql = b.String()
	return f
}

// params gives the values of a text's constants as the parameters of its
// form, or false when one does not fit its parameter's type (an integer
// beyond int4 is int8 or numeric as a literal).
func (f *paramForm) params(consts []constTok) ([][]byte, bool) {
	if len(consts) != len(f.oids) {
		return nil, false
	}
	vals := make([][]byte, len(consts))
	for i, t := range consts {
		if f.oids[i] == oidInt4 {
			if _, err := strconv.ParseInt(t.value, 10, 32); err != nil {
				return nil, false
			}
		}
		vals[i] = []byte(t.value)
	}
	return vals, true
}

// node gives the node of a value, or false when the value is not one the
// coordinator reads alone (then the statement is planned as usual).
func (r *route) node(value string) (string, bool) {
	loc := &r.table.Locator
	col := r.table.Columns[r.table.DistCol]
	if strings.Contains(col.Type, "(") {
		return "", false
	}
	canon, ok := distribution.CanonicalText(loc.TypeName, value)
	if !ok {
		return "", false
	}
	i, err := loc.NodeForCanonical(canon)
	if err != nil {
		return "", false
	}
	return loc.Nodes[i], true
}

// routeCache holds the templates of statement texts, by shape.
type routeCache struct {
	mu sync.RWMutex
	m  map[string]*route
}

func (c *routeCache) get(key string) *route {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[key]
}

func (c *routeCache) put(key string, r *route) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 10000 {
		c.m = map[string]*route{}
	}
	c.m[key] = r
}

// constTok is a constant of a statement's text.
type constTok struct {
	start int
	value string
}

// shape reads a statement's text with a small lexer of the plain subset of
// SQL (names, numbers, simple strings, operators): it gives the text with
// every constant replaced by a mark, and the constants. ok is false for
// anything else (quoted names, escapes, comments, parameters, dollar
// quotes): such text is planned as usual.
func shape(sql string) (string, []constTok, bool) {
	var b strings.Builder
	b.Grow(len(sql))
	var consts []constTok
	isWord := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case isWord(c):
			j := i
			for j < len(sql) && (isWord(sql[j]) || isDigit(sql[j])) {
				j++
			}
			if j < len(sql) && (sql[j] == '\'' || sql[j] == '$') {
				return "", nil, false // E'...', B'...', U&'...' and kin
			}
			b.WriteString(sql[i:j])
			i = j
		case isDigit(c):
			j := i
			for j < len(sql) && isDigit(sql[j]) {
				j++
			}
			if j < len(sql) && sql[j] == '.' {
				return "", nil, false
			}
			if j < len(sql) && (isWord(sql[j]) || sql[j] >= 0x80) {
				return "", nil, false
			}
			consts = append(consts, constTok{start: i, value: sql[i:j]})
			b.WriteString("?i")
			i = j
		case c == '\'':
			j := i + 1
			for j < len(sql) && sql[j] != '\'' {
				if sql[j] == '\\' {
					return "", nil, false
				}
				j++
			}
			if j >= len(sql) || j+1 < len(sql) && sql[j+1] == '\'' {
				return "", nil, false
			}
			consts = append(consts, constTok{start: i, value: sql[i+1 : j]})
			b.WriteString("?s")
			i = j + 1
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			b.WriteByte(' ')
			i++
		case strings.IndexByte("=<>(),.*+/%!|&^~[]:", c) >= 0:
			b.WriteByte(c)
			i++
		case c == '-':
			if i+1 < len(sql) && sql[i+1] == '-' {
				return "", nil, false
			}
			b.WriteByte(c)
			i++
		default:
			return "", nil, false
		}
	}
	return b.String(), consts, true
}

// routeScope names what a template depends on besides the catalog.
func (s *session) routeScope() string {
	if s.scope == "" {
		s.scope = s.db + "\x00" + strings.Join(s.searchPath, ",")
	}
	return s.scope
}

// routeByText runs a statement text that matches a template: no parse, no
// plan. It reports false when there is none (or the value needs a look).
func (s *session) routeByText(text string) (*planner.RemoteQuery, bool) {
	if !s.co.catalogFresh() {
		return nil, false
	}
	key, consts, ok := shape(text)
	if !ok {
		return nil, false
	}
	r := s.co.routes.get(key)
	if r == nil || r.gen != s.co.Cache.Generation() || r.scope != s.routeScope() || r.k >= len(consts) {
		return nil, false
	}
	node, ok := r.node(consts[r.k].value)
	if !ok {
		return nil, false
	}
	// The session's one plan of this kind, made anew each time (the
	// statement runs before the next is read).
	rq := &s.routed
	if rq.SQL == nil {
		rq.SQL = map[string]string{}
	}
	clear(rq.SQL)
	s.routedNode[0] = node
	*rq = planner.RemoteQuery{Nodes: s.routedNode[:], SQL: rq.SQL, Write: r.write}
	sql := text
	if r.prepared != nil {
		if params, ok := r.prepared.params(consts); ok {
			sql, rq.Params, rq.ParamOIDs = r.prepared.sql, params, r.prepared.oids
		}
	}
	rq.SQL[node] = sql
	return rq, true
}

// learnRoute keeps the template of a statement text just planned.
func (s *session) learnRoute(text string, gen uint64, stmt *pg_query.Node, plan planner.Plan) {
	rq, ok := plan.(*planner.RemoteQuery)
	if !ok || rq.Route == nil || len(rq.Nodes) != 1 || rq.Replicated || !s.co.catalogFresh() {
		return
	}
	if rq.Route.ConstAt < 0 || rq.Route.Table.DistCol < 0 {
		return
	}
	key, consts, ok := shape(text)
	if !ok {
		return
	}
	for k, t := range consts {
		if int32(t.start) == rq.Route.ConstAt {
			// The template must give this very node for this very value.
			r := &route{gen: gen, scope: s.routeScope(), table: rq.Route.Table, k: k, write: rq.Write,
				prepared: newParamForm(text, consts, planner.ParamSlots(stmt))}
			if n, ok := r.node(t.value); ok && n == rq.Nodes[0] {
				s.co.routes.put(key, r)
			}
			return
		}
	}
}

// learnParamRoute keeps a prepared statement's template: which parameter
// decides its node.
func (s *session) learnParamRoute(st *preparedStmt, gen uint64, plan planner.Plan) {
	rq, ok := plan.(*planner.RemoteQuery)
	if !ok || rq.Route == nil || len(rq.Nodes) != 1 || rq.Replicated || !s.co.catalogFresh() {
		return
	}
	n := rq.Route.Param
	if n < 1 || n > len(st.paramTypes) || rq.Route.Table.DistCol < 0 {
		return
	}
	if st.route != nil {
		st.route.r.Store(&route{gen: gen, scope: s.routeScope(), table: rq.Route.Table, k: n - 1, write: rq.Write})
	}
}
