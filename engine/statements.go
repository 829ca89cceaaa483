package engine

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/xlgo/xlgo/dialect"
	"github.com/xlgo/xlgo/executor"
	"github.com/xlgo/xlgo/internal/sqlscan"
	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/planner"
	"github.com/xlgo/xlgo/pooler"
	"github.com/xlgo/xlgo/server"
)

// passthrough runs a statement of PostgreSQL's grammar.
func (s *session) passthrough(ctx context.Context, p *dialect.Passthrough, w server.ResultWriter, inMulti bool) error {
	// A statement shaped like one planned before, pinned to one node by
	// one of its constants, needs no parse and no plan.
	plain := p.Distribute == nil && plainText(p.SQL)
	if plain {
		if rq, ok := s.routeByText(p.SQL); ok {
			return s.run(ctx, rq, w)
		}
	}
	lower := strings.ToLower(p.SQL)
	gen := s.co.Cache.Generation()
	node, err := parseSQL(p.SQL)
	if err != nil {
		return err
	}
	text := p.SQL // the statement's text, while the tree stays as parsed
	if hasSequenceCallLower(lower) && (node.GetSelectStmt() != nil || node.GetInsertStmt() != nil ||
		node.GetUpdateStmt() != nil || node.GetDeleteStmt() != nil) {
		if err := s.bindSequences(ctx, node); err != nil {
			return err
		}
		text = ""
	}
	if p.Distribute != nil && node.GetCreateStmt() == nil && node.GetCreateTableAsStmt() == nil {
		return pgerr.New(pgerr.SyntaxError, "DISTRIBUTE BY is only allowed in CREATE TABLE")
	}
	switch {
	case node.GetSelectStmt() != nil:
		if handled, err := s.coordinatorFunction(ctx, node.GetSelectStmt(), w); handled {
			return err
		}
		if l := strings.ToLower(text); (text == "" || strings.Contains(l, "set_config") || strings.Contains(l, "advisory")) && pinsSession(node) {
			s.pinned = true
			if strings.Contains(l, "statement_timeout") || strings.Contains(l, "default_transaction_isolation") {
				s.timeoutKnown = false // set_config may change them: learnt again at the next statement
			}
		}
		fallthrough
	case node.GetInsertStmt() != nil, node.GetUpdateStmt() != nil, node.GetDeleteStmt() != nil:
		env, err := s.env(ctx)
		if err != nil {
			return err
		}
		if node.GetSelectStmt() == nil || len(node.GetSelectStmt().LockingClause) > 0 || node.GetSelectStmt().WithClause != nil {
			if err := s.placementMoved(); err != nil {
				return err
			}
		}
		env.SQL = text
		plan, err := planner.PlanStatement(env, node)
		if err != nil {
			return err
		}
		if plain && text != "" {
			s.learnRoute(text, gen, node, plan)
		}
		return s.run(ctx, plan, w)
	case node.GetTransactionStmt() != nil:
		return s.transaction(ctx, node.GetTransactionStmt(), p.SQL, w, inMulti)
	case node.GetVariableSetStmt() != nil:
		return s.set(ctx, node.GetVariableSetStmt(), p.SQL, w)
	case node.GetVariableShowStmt() != nil:
		return s.oneNode(ctx, p.SQL, w)
	case node.GetExplainStmt() != nil:
		return s.explain(ctx, node.GetExplainStmt(), w)
	case node.GetCreateStmt() != nil:
		return s.createTable(ctx, node, p, w)
	case node.GetCreateTableAsStmt() != nil:
		return s.createTableAs(ctx, node, p, w)
	case node.GetCreatedbStmt() != nil, node.GetDropdbStmt() != nil:
		return s.database(ctx, node, p.SQL, w, inMulti)
	case node.GetCopyStmt() != nil:
		return s.copyStatement(ctx, node.GetCopyStmt(), w)
	case node.GetPrepareStmt() != nil:
		return s.sqlPrepare(ctx, node.GetPrepareStmt(), w)
	case node.GetExecuteStmt() != nil:
		return s.sqlExecute(ctx, node.GetExecuteStmt(), w)
	case node.GetDeallocateStmt() != nil:
		return s.sqlDeallocate(node.GetDeallocateStmt(), w)
	case node.GetDiscardStmt() != nil:
		if s.tx.active && node.GetDiscardStmt().Target == pg_query.DiscardMode_DISCARD_ALL {
			return pgerr.New(pgerr.ActiveSqlTransaction, "DISCARD ALL cannot run inside a transaction block")
		}
		dn, ok := s.co.preferredDatanode()
		if !ok {
			return pgerr.New(pgerr.UndefinedObject, "no datanode is defined")
		}
		c, err := s.conn(ctx, dn.Name)
		if err != nil {
			return err
		}
		if _, err := c.Exec(ctx, p.SQL).ReadAll(); err != nil {
			return executor.NodeError(dn.Name, err)
		}
		if node.GetDiscardStmt().Target == pg_query.DiscardMode_DISCARD_ALL {
			c.ForgetPrepared()
			for _, q := range s.startupSets {
				if _, err := c.Exec(ctx, q).ReadAll(); err != nil {
					return executor.NodeError(dn.Name, err)
				}
			}
			s.sets = append([]string(nil), s.startupSets...)
			c.Settings = s.settingsKey()
			s.timeoutKnown = false
			if _, err := s.statementTimeout(ctx); err != nil {
				return err
			}
		}
		return w.CommandComplete(strings.ToUpper("DISCARD " + discardWord(node.GetDiscardStmt().Target)))
	}
	return s.utility(ctx, node, p.SQL, w, inMulti)
}

func discardWord(m pg_query.DiscardMode) string {
	switch m {
	case pg_query.DiscardMode_DISCARD_PLANS:
		return "PLANS"
	case pg_query.DiscardMode_DISCARD_SEQUENCES:
		return "SEQUENCES"
	case pg_query.DiscardMode_DISCARD_TEMP:
		return "TEMP"
	}
	return "ALL"
}

// simpleOutside runs a statement on a held backend, inside the transaction if one is open there.
func (s *session) simpleOutside(ctx context.Context, node, sql string) error {
	c, err := s.Conn(ctx, node, false)
	if err != nil {
		return err
	}
	if _, err := c.Exec(ctx, sql).ReadAll(); err != nil {
		return executor.NodeError(node, err)
	}
	return nil
}

// oneNode runs a statement that any datanode answers alike.
func (s *session) oneNode(ctx context.Context, sql string, w server.ResultWriter) error {
	node, ok := s.co.preferredDatanode()
	if !ok {
		return pgerr.New(pgerr.UndefinedObject, "no datanode is defined")
	}
	return s.run(ctx, &planner.RemoteQuery{Nodes: []string{node.Name}, SQL: map[string]string{node.Name: sql}}, w)
}

// coordinatorFunction answers SELECT pgxc_pool_reload() and kin, which act on
// the coordinator itself.
func (s *session) coordinatorFunction(ctx context.Context, sel *pg_query.SelectStmt, w server.ResultWriter) (bool, error) {
	if len(sel.FromClause) != 0 || len(sel.TargetList) != 1 || sel.WhereClause != nil {
		return false, nil
	}
	rt := sel.TargetList[0].GetResTarget()
	fc := rt.GetVal().GetFuncCall()
	if fc == nil || len(fc.Args) > 1 {
		return false, nil
	}
	name := ""
	if len(fc.Funcname) > 0 {
		name = fc.Funcname[len(fc.Funcname)-1].GetString_().GetSval()
	}
	col := name
	if rt.Name != "" {
		col = rt.Name
	}
	var val string
	switch name {
	case "pgxc_pool_reload":
		if s.tx.active {
			return true, pgerr.New(pgerr.ActiveSqlTransaction, "pgxc_pool_reload cannot run inside a transaction block")
		}
		s.co.Pool.CloseIdle(nil)
		// A catalog read before the nodes were known (a coordinator just
		// added) is read again from them.
		s.co.Cache.Invalidate()
		s.mu.Lock()
		conns := s.conns
		s.conns = map[string]*pooler.Conn{}
		for _, c := range conns {
			s.forgetStmtConnLocked(c)
		}
		s.mu.Unlock()
		for _, c := range conns {
			s.co.Pool.Discard(c)
		}
		val = "t"
	case "pgxc_node_str":
		val = s.co.Name
	case "pgxc_backends":
		// The datanode backends this coordinator's sessions hold, one
		// "session node pid" line each (for distributed deadlock detection).
		var lines []string
		for _, b := range s.co.Backends() {
			lines = append(lines, fmt.Sprintf("%d %s %d", b.Session, b.Node, b.PID))
		}
		if err := w.RowDescription([]pgproto3.FieldDescription{{Name: []byte(col), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1}}); err != nil {
			return true, err
		}
		for _, l := range lines {
			if err := w.DataRow([][]byte{[]byte(l)}); err != nil {
				return true, err
			}
		}
		return true, w.CommandComplete(fmt.Sprintf("SELECT %d", len(lines)))
	case "pgxc_rebalance_abort":
		if len(fc.Args) != 1 {
			return false, nil
		}
		if s.tx.active {
			return true, pgerr.New(pgerr.ActiveSqlTransaction, "pgxc_rebalance_abort cannot run inside a transaction block")
		}
		arg := fc.Args[0]
		if tc := arg.GetTypeCast(); tc != nil {
			arg = tc.Arg
		}
		if arg.GetAConst() == nil || arg.GetAConst().GetSval() == nil {
			return true, pgerr.New(pgerr.InvalidParameterValue, "pgxc_rebalance_abort needs a table name")
		}
		if err := s.abortMove(ctx, arg.GetAConst().GetSval().Sval); err != nil {
			return true, err
		}
		val = "t"
	case "pgxc_cancel_for_deadlock":
		if len(fc.Args) != 1 {
			return false, nil
		}
		id, ok := constInt(fc.Args[0])
		if !ok {
			return true, pgerr.New(pgerr.InvalidParameterValue, "pgxc_cancel_for_deadlock needs a session id")
		}
		val = "f"
		if s.co.CancelForDeadlock(uint64(id)) {
			val = "t"
		}
	default:
		return false, nil
	}
	if len(fc.Args) != 0 && name != "pgxc_cancel_for_deadlock" && name != "pgxc_rebalance_abort" {
		return false, nil
	}
	typ := uint32(16)
	if name == "pgxc_node_str" {
		typ = 19
	}
	if err := w.RowDescription([]pgproto3.FieldDescription{{Name: []byte(col), DataTypeOID: typ, DataTypeSize: -1, TypeModifier: -1}}); err != nil {
		return true, err
	}
	if err := w.DataRow([][]byte{[]byte(val)}); err != nil {
		return true, err
	}
	return true, w.CommandComplete("SELECT 1")
}

// transaction handles BEGIN, COMMIT, ROLLBACK and their kin.
func (s *session) transaction(ctx context.Context, ts *pg_query.TransactionStmt, sql string, w server.ResultWriter, inMulti bool) error {
	switch ts.Kind {
	case pg_query.TransactionStmtKind_TRANS_STMT_BEGIN, pg_query.TransactionStmtKind_TRANS_STMT_START:
		if s.tx.explicit {
			w.Notice(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: pgerr.ActiveSqlTransaction,
				Message: "there is already a transaction in progress"})
			return w.CommandComplete("BEGIN")
		}
		if err := checkIsolation(ts.Options); err != nil {
			return err
		}
		if s.tx.active {
			// BEGIN inside a multi-statement message turns it into a block.
			s.tx.explicit = true
			s.tx.beginSQL = sql
		} else {
			s.begin(true, sql)
		}
		if iso := isolationOf(ts.Options); iso != "" {
			s.tx.rr = iso == "repeatable read"
		}
		return w.CommandComplete("BEGIN")
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT:
		if !s.tx.explicit {
			w.Notice(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: pgerr.NoActiveSqlTransaction,
				Message: "there is no transaction in progress"})
			if s.tx.active {
				if err := s.commit(ctx); err != nil {
					return err
				}
			}
			return w.CommandComplete("COMMIT")
		}
		if s.tx.failed {
			s.rollback(ctx)
			return w.CommandComplete("ROLLBACK")
		}
		if err := s.commit(ctx); err != nil {
			return err
		}
		return w.CommandComplete("COMMIT")
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK:
		if !s.tx.explicit {
			w.Notice(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: pgerr.NoActiveSqlTransaction,
				Message: "there is no transaction in progress"})
		}
		if s.tx.active {
			s.rollback(ctx)
		}
		return w.CommandComplete("ROLLBACK")
	case pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT, pg_query.TransactionStmtKind_TRANS_STMT_RELEASE,
		pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		return s.savepoint(ctx, ts, w)
	case pg_query.TransactionStmtKind_TRANS_STMT_PREPARE, pg_query.TransactionStmtKind_TRANS_STMT_COMMIT_PREPARED,
		pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_PREPARED:
		return planner.Unsupported("PREPARE TRANSACTION by clients is not supported: xlgo uses two-phase commit itself")
	}
	return planner.Unsupported("this transaction statement")
}

// isolationOf is the isolation level a BEGIN names ("" for none).
func isolationOf(opts []*pg_query.Node) string {
	for _, o := range opts {
		if d := o.GetDefElem(); d != nil && d.Defname == "transaction_isolation" {
			if c := d.Arg.GetAConst(); c != nil {
				return strings.ToLower(c.GetSval().GetSval())
			}
		}
	}
	return ""
}

// plainText tells whether a statement text calls nothing the coordinator
// must see: sequences, set_config, advisory locks, pgxc_ functions. No
// token of it (name, quoted name or string) holds one of those names in
// any case, and no name is spelt with Unicode escapes. Only such a
// statement may follow a route template.
func plainText(sql string) bool {
	sc := sqlscan.New(sql)
	for t := sc.Next(); t.Kind != sqlscan.EOF; t = sc.Next() {
		switch t.Kind {
		case sqlscan.Comment, sqlscan.Op, sqlscan.Punct, sqlscan.Integer, sqlscan.Numeric, sqlscan.Param:
		case sqlscan.UIdent:
			return false
		default:
			text := t.Text(sql)
			for _, name := range coordinatorNames {
				if containsFold(text, name) {
					return false
				}
			}
		}
	}
	return true
}

// coordinatorNames are what names of functions the coordinator must see
// hold.
var coordinatorNames = []string{"nextval", "currval", "setval", "lastval", "pgxc_", "set_config", "advisory"}

// containsFold reports whether s holds sub (in lower case) in any case of
// ASCII letters.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for ; j < len(sub); j++ {
			c := s[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

// hasSequenceCallLower is a cheap test for nextval/currval/setval/lastval
// in SQL text in lower case.
func hasSequenceCallLower(l string) bool {
	return strings.Contains(l, "nextval") || strings.Contains(l, "currval") || strings.Contains(l, "setval") ||
		strings.Contains(l, "lastval")
}

// checkIsolation refuses SERIALIZABLE, which cannot hold across datanodes.
func checkIsolation(opts []*pg_query.Node) error {
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil || d.Defname != "transaction_isolation" {
			continue
		}
		if c := d.Arg.GetAConst(); c != nil && strings.EqualFold(c.GetSval().GetSval(), "serializable") {
			return planner.Unsupported("SERIALIZABLE isolation across datanodes is not supported; use REPEATABLE READ")
		}
	}
	return nil
}

// learntSetting tells whether a setting is one the session learns from a
// datanode (statement_timeout, default_transaction_isolation, which SET
// SESSION CHARACTERISTICS sets too): a SET of it makes the session learn it
// again.
func learntSetting(name string) bool {
	switch strings.ToLower(name) {
	case "statement_timeout", "default_transaction_isolation", "session characteristics":
		return true
	}
	return false
}

// set handles SET and RESET: every backend of the session gets it, and new
// ones replay it.
func (s *session) set(ctx context.Context, vs *pg_query.VariableSetStmt, sql string, w server.ResultWriter) error {
	if learntSetting(vs.Name) || vs.Kind == pg_query.VariableSetKind_VAR_RESET_ALL {
		// Learnt again when needed (outside a transaction, right below).
		s.timeoutKnown = false
	}
	tag := "SET"
	if vs.Kind == pg_query.VariableSetKind_VAR_RESET || vs.Kind == pg_query.VariableSetKind_VAR_RESET_ALL {
		tag = "RESET"
	}
	if vs.Kind == pg_query.VariableSetKind_VAR_SET_MULTI {
		// SET TRANSACTION / SET SESSION CHARACTERISTICS
		if err := checkIsolation(vs.Args); err != nil {
			return err
		}
	}
	if vs.Name == "transaction_isolation" || vs.Name == "default_transaction_isolation" {
		if c := firstConst(vs.Args); strings.EqualFold(c, "serializable") {
			return planner.Unsupported("SERIALIZABLE isolation across datanodes is not supported; use REPEATABLE READ")
		}
	}
	local := vs.IsLocal || vs.Kind == pg_query.VariableSetKind_VAR_SET_MULTI && strings.HasPrefix(vs.Name, "TRANSACTION")
	if local {
		if !s.tx.active {
			w.Notice(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: pgerr.NoActiveSqlTransaction,
				Message: fmt.Sprintf("%s can only be used in transaction blocks", strings.Split(sql, " ")[0]+" LOCAL")})
			return w.CommandComplete(tag)
		}
		for n := range s.tx.begun {
			if err := s.simpleOutside(ctx, n, sql); err != nil {
				return err
			}
		}
		s.tx.localSets = append(s.tx.localSets, sql)
		if vs.Kind == pg_query.VariableSetKind_VAR_SET_MULTI && !s.tx.snapshotTaken && len(s.tx.begun) == 0 {
			// SET TRANSACTION ISOLATION LEVEL, as BEGIN ISOLATION LEVEL:
			// REPEATABLE READ takes its snapshots on every node at once.
			if iso := isolationOf(vs.Args); iso != "" {
				s.tx.rr = iso == "repeatable read"
			}
		}
		return w.CommandComplete(tag)
	}
	resetAll := vs.Kind == pg_query.VariableSetKind_VAR_RESET_ALL
	run := []string{sql}
	if resetAll {
		// RESET ALL returns to the session's defaults, those of its startup packet included.
		run = append(run, s.startupSets...)
	}
	if s.tx.active {
		// Kept by the transaction's nodes (and replayed on nodes it joins
		// later); the session's own once the transaction commits.
		for n := range s.tx.begun {
			for _, q := range run {
				if err := s.simpleOutside(ctx, n, q); err != nil {
					return err
				}
			}
		}
		s.tx.sets = append(s.tx.sets, run...)
	} else {
		// Checked on one backend, then every backend of the session gets it.
		node, ok := s.co.preferredDatanode()
		if !ok {
			return pgerr.New(pgerr.UndefinedObject, "no datanode is defined")
		}
		c, err := s.conn(ctx, node.Name)
		if err != nil {
			return err
		}
		for _, q := range run {
			if _, err := c.Exec(ctx, q).ReadAll(); err != nil {
				return executor.NodeError(node.Name, err)
			}
		}
		s.sets = s.normalizeSets(append(s.sets, run...))
		c.Settings = s.settingsKey()
		if !s.timeoutKnown {
			if _, err := s.statementTimeout(ctx); err != nil {
				return err
			}
		}
	}
	if vs.Name == "default_transaction_isolation" || vs.Name == "session_characteristics" || resetAll {
		s.defaultRR = strings.Contains(strings.ToLower(sql), "repeatable read") || strings.Contains(strings.ToLower(sql), "'repeatable read'")
		if resetAll {
			s.defaultRR = false
		}
	}
	if vs.Name == "transaction_isolation" && s.tx.active && !s.tx.snapshotTaken {
		s.tx.rr = strings.Contains(strings.ToLower(sql), "repeatable read")
	}
	if vs.Name == "idle_in_transaction_session_timeout" || resetAll {
		s.idleInTx = s.readIdleTimeout(ctx)
	}
	if vs.Name == "search_path" || resetAll {
		if err := s.refreshSearchPath(ctx); err != nil {
			return err
		}
	}
	return w.CommandComplete(tag)
}

// normalizeSets drops what a RESET ALL undid.
func (s *session) normalizeSets(sets []string) []string {
	last := -1
	for i, q := range sets {
		if q == "RESET ALL" || strings.EqualFold(strings.TrimSpace(q), "RESET ALL") {
			last = i
		}
	}
	if last < 0 {
		return sets
	}
	return append([]string(nil), sets[last+1:]...)
}

func firstConst(args []*pg_query.Node) string {
	if len(args) == 0 {
		return ""
	}
	if c := args[0].GetAConst(); c != nil {
		return c.GetSval().GetSval()
	}
	return ""
}

// explain prints the distributed plan, with the datanode's own plan of the
// remote statement beneath each remote step.
func (s *session) explain(ctx context.Context, es *pg_query.ExplainStmt, w server.ResultWriter) error {
	var o executor.ExplainOptions
	for _, opt := range es.Options {
		d := opt.GetDefElem()
		if d == nil {
			continue
		}
		v := ""
		on := true
		if c := d.Arg.GetAConst(); c != nil {
			if c.GetSval() != nil {
				v = " " + c.GetSval().GetSval()
				on = !strings.EqualFold(c.GetSval().GetSval(), "false") && c.GetSval().GetSval() != "off"
			} else if c.GetBoolval() != nil {
				v = fmt.Sprintf(" %t", c.GetBoolval().Boolval)
				on = c.GetBoolval().Boolval
			}
		} else if d.Arg != nil && d.Arg.GetString_() != nil {
			v = " " + d.Arg.GetString_().Sval
			switch strings.ToLower(d.Arg.GetString_().Sval) {
			case "false", "off", "0", "no":
				on = false
			}
		}
		switch d.Defname {
		case "analyze":
			o.Analyze = on
			continue
		case "verbose":
			o.Verbose = on
		case "timing":
			o.NoTiming = !on
		case "format":
			if !strings.EqualFold(strings.TrimSpace(v), "text") {
				return planner.Unsupported("EXPLAIN (FORMAT %s) through the coordinator", strings.TrimSpace(v))
			}
		}
		o.Options = append(o.Options, strings.ToUpper(d.Defname)+v)
	}
	env, err := s.env(ctx)
	if err != nil {
		return err
	}
	plan, err := planner.PlanStatement(env, es.Query)
	if err != nil {
		return err
	}
	var lines []string
	run := func() error {
		var err error
		lines, err = executor.Explain(ctx, plan, s, o)
		return err
	}
	if o.Analyze {
		// It runs the statement: writes commit as the statement would.
		err = s.autocommit(ctx, run)
	} else {
		err = run()
	}
	if err != nil {
		return err
	}
	if err := w.RowDescription([]pgproto3.FieldDescription{{Name: []byte("QUERY PLAN"), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1}}); err != nil {
		return err
	}
	for _, l := range lines {
		if err := w.DataRow([][]byte{[]byte(l)}); err != nil {
			return err
		}
	}
	return w.CommandComplete("EXPLAIN")
}

// pinsSession tells whether a statement leaves state in the backends that
// must stay with the session: session advisory locks, set_config.
func pinsSession(node *pg_query.Node) bool {
	found := false
	planner.Walk(node, func(m proto.Message) bool {
		if fc, ok := m.(*pg_query.FuncCall); ok && len(fc.Funcname) > 0 {
			switch fc.Funcname[len(fc.Funcname)-1].GetString_().GetSval() {
			case "set_config", "pg_advisory_lock", "pg_advisory_lock_shared", "pg_try_advisory_lock",
				"pg_try_advisory_lock_shared":
				found = true
			}
		}
		return !found
	})
	return found
}

// savepoint runs SAVEPOINT, RELEASE and ROLLBACK TO on every node of the
// transaction; nodes that join later get the open savepoints when they do.
func (s *session) savepoint(ctx context.Context, ts *pg_query.TransactionStmt, w server.ResultWriter) error {
	verb := map[pg_query.TransactionStmtKind]string{
		pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT:   "SAVEPOINT",
		pg_query.TransactionStmtKind_TRANS_STMT_RELEASE:     "RELEASE",
		pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO: "ROLLBACK",
	}[ts.Kind]
	if !s.tx.explicit {
		what := verb
		if ts.Kind == pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO {
			what = "ROLLBACK TO SAVEPOINT"
		}
		return pgerr.New(pgerr.NoActiveSqlTransaction, "%s can only be used in transaction blocks", what)
	}
	name := ts.SavepointName
	idx := -1
	for i := len(s.tx.savepoints) - 1; i >= 0; i-- {
		if s.tx.savepoints[i] == name {
			idx = i
			break
		}
	}
	var sql string
	switch ts.Kind {
	case pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
		sql = "SAVEPOINT " + quoteIdent(name)
	case pg_query.TransactionStmtKind_TRANS_STMT_RELEASE:
		if idx < 0 {
			return pgerr.New(pgerr.InvalidSavepointSpecification, "savepoint %q does not exist", name)
		}
		sql = "RELEASE SAVEPOINT " + quoteIdent(name)
	default:
		if idx < 0 {
			return pgerr.New(pgerr.InvalidSavepointSpecification, "savepoint %q does not exist", name)
		}
		sql = "ROLLBACK TO SAVEPOINT " + quoteIdent(name)
	}
	nodes := make([]string, 0, len(s.tx.begun))
	for n := range s.tx.begun {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		if _, err := s.simple(ctx, n, sql); err != nil {
			return err
		}
	}
	switch ts.Kind {
	case pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
		s.tx.savepoints = append(s.tx.savepoints, name)
	case pg_query.TransactionStmtKind_TRANS_STMT_RELEASE:
		s.tx.savepoints = s.tx.savepoints[:idx]
	default:
		s.tx.savepoints = s.tx.savepoints[:idx+1]
		s.tx.failed = false
	}
	return w.CommandComplete(verb)
}

// readIdleTimeout reads the session's idle_in_transaction_session_timeout
// as a datanode understands it.
func (s *session) readIdleTimeout(ctx context.Context) time.Duration {
	dn, ok := s.co.preferredDatanode()
	if !ok {
		return 0
	}
	c, err := s.Conn(ctx, dn.Name, false)
	if err != nil {
		return 0
	}
	res, err := c.Exec(ctx, "SELECT (extract(epoch FROM (CASE WHEN s ~ '^[0-9]+$' THEN s || 'ms' ELSE s END)::interval) * 1000)::bigint FROM current_setting('idle_in_transaction_session_timeout') AS s").ReadAll()
	if err != nil || len(res) != 1 || len(res[0].Rows) != 1 {
		return 0
	}
	ms, _ := strconv.ParseInt(string(res[0].Rows[0][0]), 10, 64)
	return time.Duration(ms) * time.Millisecond
}
