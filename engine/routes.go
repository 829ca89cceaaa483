package engine

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/xlgo/xlgo/planner"
)

// Statements pinned to one node by one value follow a route template of
// the planner's StatementCache (shared by the sessions) rather than being
// parsed and planned again: the simple protocol's by the shape of their
// text, the extended protocol's by their prepared text.

// sharedPlans tells whether the session may use and learn what sessions
// share of the catalog generation (route templates, descriptions, generic
// plans): while the gtm tells the coordinator of catalog changes, and not
// in a transaction that has changed the catalog itself, which sees what
// the others do not see yet.
func (s *session) sharedPlans() bool {
	return s.co.catalogFresh() && !s.tx.ddl && !(s.tx.rr && s.tx.rel != nil && s.tx.relGen != s.co.Cache.Generation())
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
	if !s.sharedPlans() {
		return nil, false
	}
	st, ok := planner.ShapeText(text)
	if !ok {
		return nil, false
	}
	t := s.co.statements.Lookup(&st, s.co.Cache.Generation(), s.routeScope())
	if t == nil {
		return nil, false
	}
	node, ok := t.Node(st.Consts[t.Value()].Value)
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
	*rq = planner.RemoteQuery{Nodes: s.routedNode[:], SQL: rq.SQL, Write: t.Write()}
	sql := text
	if form, params, oids, ok := t.TextParams(&st); ok {
		sql, rq.Params, rq.ParamOIDs = form, params, oids
	}
	rq.SQL[node] = sql
	return rq, true
}

// learnRoute keeps the template of a statement text just planned.
func (s *session) learnRoute(text string, gen uint64, stmt *pg_query.Node, plan planner.Plan) {
	if !s.sharedPlans() {
		return
	}
	if st, ok := planner.ShapeText(text); ok {
		s.co.statements.Learn(&st, gen, s.routeScope(), stmt, plan)
	}
}

// learnParamRoute keeps a prepared statement's template: which parameter
// decides its node.
func (s *session) learnParamRoute(st *preparedStmt, gen uint64, plan planner.Plan) {
	if s.sharedPlans() {
		s.co.statements.Learn(&st.cached, gen, s.routeScope(), st.node, plan)
	}
}
