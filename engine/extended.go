package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/xlgo/xlgo/dialect"
	"github.com/xlgo/xlgo/executor"
	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/planner"
	"github.com/xlgo/xlgo/server"
)

// preparedStmt is a statement prepared by Parse or SQL PREPARE.
type preparedStmt struct {
	name       string
	sql        string         // the text as the client sent it
	text       string         // the one statement of it, without a trailing ';'
	node       *pg_query.Node // parsed; nil for an XL statement or an empty one
	empty      bool
	paramOIDs  []uint32
	paramTypes []string                    // each parameter's type, as SQL
	fields     []pgproto3.FieldDescription // nil: no rows
	gen        uint64                      // the catalog generation it was described with
	// cached is the statement as the statement cache knows it: sessions
	// that prepare the same text with the same types share its template.
	cached planner.Statement
	// plain: a SELECT, INSERT, UPDATE or DELETE with parameters of built-in
	// types and no call the coordinator must see (sequences, settings,
	// advisory locks, pgxc_ functions): it may follow a route template.
	plain bool
	// generic is the session's plan of the statement for any parameter
	// values (planner.PlanPrepared), made at an Execute, for the catalog
	// generation genericGen and the route scope genericScope (the
	// session's user does not change); nil: none.
	generic      planner.Plan
	genericGen   uint64
	genericScope string
}

// portal is a prepared statement with its parameters bound.
type portal struct {
	stmt          *preparedStmt
	sql           string   // what runs: the statement with parameters as typed literals
	params        [][]byte // the parameter values in text form (nil values are NULL)
	bound         bool     // params were bound (a statement with none has none)
	resultFormats []int16
	// A portal run with a row limit keeps the rows not sent yet.
	started bool
	rows    [][][]byte
	tag     string
}

// typeMap converts values between text and binary formats.
var typeMap = struct {
	sync.Mutex
	m *pgtype.Map
}{m: pgtype.NewMap()}

func convertFormat(oid uint32, from, to int16, src []byte) ([]byte, error) {
	if src == nil || from == to {
		return src, nil
	}
	typeMap.Lock()
	defer typeMap.Unlock()
	t, ok := typeMap.m.TypeForOID(oid)
	if !ok {
		return nil, pgerr.New(pgerr.FeatureNotSupported, "binary format for the type with OID %d is not supported", oid)
	}
	v, err := t.Codec.DecodeValue(typeMap.m, oid, from, src)
	if err != nil {
		return nil, pgerr.New(pgerr.InvalidBinaryRepresentation, "invalid %s value: %v", t.Name, err)
	}
	out, err := typeMap.m.Encode(oid, to, v, nil)
	if err != nil {
		return nil, pgerr.New(pgerr.InvalidBinaryRepresentation, "cannot convert a %s value: %v", t.Name, err)
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

func formatOf(formats []int16, i int) int16 {
	switch len(formats) {
	case 0:
		return 0
	case 1:
		return formats[0]
	}
	if i < len(formats) {
		return formats[i]
	}
	return 0
}

// describable statements return rows a datanode can describe.
func describable(n *pg_query.Node) bool {
	return n.GetSelectStmt() != nil || n.GetInsertStmt() != nil || n.GetUpdateStmt() != nil || n.GetDeleteStmt() != nil
}

// failBlock marks an explicit transaction block failed after an error, as
// PostgreSQL does for any error inside one.
func (s *session) failBlock(err error) error {
	if err != nil && s.tx.explicit && !s.tx.failed {
		s.failTx(context.Background())
	}
	return err
}

func (s *session) Parse(ctx context.Context, name, sql string, paramOIDs []uint32) (err error) {
	defer func() { err = s.failBlock(err) }()
	s.inBatch = true
	if name != "" {
		if _, ok := s.stmts[name]; ok {
			return pgerr.New(pgerr.DuplicatePreparedStatement, "prepared statement %q already exists", name)
		}
	}
	st, err := s.prepare(ctx, name, sql, paramOIDs)
	if err != nil {
		return err
	}
	s.stmts[name] = st
	return nil
}

// prepare parses a statement and asks a datanode for its parameter and
// result types.
func (s *session) prepare(ctx context.Context, name, sql string, paramOIDs []uint32) (*preparedStmt, error) {
	// The same text prepared before (by any session) with the same catalog
	// and search path: its description and parse tree are reused.
	key := describeKey(s, sql, paramOIDs)
	if !s.tx.failed && s.sharedPlans() {
		if d, ok := s.co.described.Load(key); ok {
			st := d.(*preparedStmt)
			if st.gen == s.co.Cache.Generation() {
				c := *st
				c.name = name
				return &c, nil
			}
		}
	}
	gen := s.co.Cache.Generation()
	st, err := s.prepareNew(ctx, name, sql, paramOIDs)
	if err != nil {
		return nil, err
	}
	if st.node != nil && describable(st.node) && s.sharedPlans() {
		st.gen = gen
		// Published: other sessions copy it; nobody changes it.
		pub := *st
		s.co.described.Store(key, &pub)
		if n := s.co.describedCount.Add(1); n > 10000 {
			s.co.described.Clear()
			s.co.describedCount.Store(0)
		}
	}
	return st, nil
}

func describeKey(s *session, sql string, oids []uint32) string {
	var b strings.Builder
	b.WriteString(s.routeScope())
	b.WriteByte(0)
	for _, o := range oids {
		fmt.Fprintf(&b, "%d,", o)
	}
	b.WriteByte(0)
	b.WriteString(sql)
	return b.String()
}

func (s *session) prepareNew(ctx context.Context, name, sql string, paramOIDs []uint32) (*preparedStmt, error) {
	texts, err := dialect.SplitStatements(sql)
	if err != nil {
		return nil, err
	}
	if len(texts) > 1 {
		return nil, pgerr.New(pgerr.SyntaxError, "cannot insert multiple commands into a prepared statement")
	}
	if s.tx.failed && (len(texts) == 0 || !isTxEnd(texts[0])) {
		return nil, pgerr.New(pgerr.InFailedSqlTransaction, "current transaction is aborted, commands ignored until end of transaction block")
	}
	st := &preparedStmt{name: name, sql: sql, paramOIDs: paramOIDs}
	if len(texts) == 0 {
		st.empty = true
		return st, nil
	}
	st.text = texts[0]
	parsed, err := dialect.Parse(texts[0])
	if err != nil {
		return nil, err
	}
	p, ok := parsed.(*dialect.Passthrough)
	if !ok {
		if ed, ok := parsed.(*dialect.ExecuteDirect); ok && len(ed.Nodes) > 0 {
			// Its rows are those of its statement on its nodes.
			if st.fields, err = s.describeOn(ctx, ed.Nodes[0], ed.SQL); err != nil {
				return nil, err
			}
		}
		return st, nil
	}
	node, err := parseSQL(p.SQL)
	if err != nil {
		return nil, err
	}
	st.node = node
	if !describable(node) {
		if n := maxParam(node); n > 0 {
			return nil, planner.Unsupported("parameters in a utility statement")
		}
		switch {
		case node.GetExplainStmt() != nil:
			st.fields = []pgproto3.FieldDescription{{Name: []byte("QUERY PLAN"), DataTypeOID: textOID, DataTypeSize: -1, TypeModifier: -1}}
		case node.GetVariableShowStmt() != nil, node.GetCallStmt() != nil:
			// A datanode names the setting's column as PostgreSQL does
			// (SHOW timezone is "TimeZone").
			dn, ok := s.co.preferredDatanode()
			if !ok {
				return nil, pgerr.New(pgerr.UndefinedObject, "no datanode is defined")
			}
			if st.fields, err = s.describeOn(ctx, dn.Name, st.text); err != nil {
				return nil, err
			}
		}
		return st, nil
	}
	env, err := s.env(ctx)
	if err != nil {
		return nil, err
	}
	descSQL, err := planner.DescribeSQL(env, node)
	if err != nil {
		return nil, err
	}
	dn, ok := s.co.preferredDatanode()
	if !ok {
		return nil, pgerr.New(pgerr.UndefinedObject, "no datanode is defined")
	}
	c, err := s.Conn(ctx, dn.Name, false)
	if err != nil {
		return nil, err
	}
	sd, err := c.Prepare(ctx, "", descSQL, paramOIDs)
	if err != nil {
		return nil, executor.NodeError(dn.Name, err)
	}
	st.paramOIDs = sd.ParamOIDs
	st.fields = fieldsOf(sd.Fields)
	if len(st.paramOIDs) > 0 {
		if st.paramTypes, err = s.typeNames(ctx, c.PgConn, dn.Name, st.paramOIDs); err != nil {
			return nil, err
		}
	}
	if st.plain = plainStatement(st); st.plain {
		st.cached = planner.PreparedStatement(st.text, st.paramOIDs)
	}
	return st, nil
}

// textOID is the OID of type text.
const textOID = 25

// describeOn is the row description datanode node gives sql (nil for no
// rows), from a Parse and Describe there: nothing runs.
func (s *session) describeOn(ctx context.Context, node, sql string) ([]pgproto3.FieldDescription, error) {
	if n, ok := s.co.Nodes.Node(node); !ok || !n.IsDatanode() {
		return nil, nil // the statement reports what is wrong when it runs
	}
	c, err := s.Conn(ctx, node, false)
	if err != nil {
		return nil, err
	}
	sd, err := c.Prepare(ctx, "", sql, nil)
	if err != nil {
		return nil, executor.NodeError(node, err)
	}
	return fieldsOf(sd.Fields), nil
}

// fieldsOf is a datanode's row description as the client is sent it.
func fieldsOf(fds []pgconn.FieldDescription) []pgproto3.FieldDescription {
	if len(fds) == 0 {
		return nil
	}
	out := make([]pgproto3.FieldDescription, len(fds))
	for i, f := range fds {
		out[i] = pgproto3.FieldDescription{Name: []byte(f.Name), TableOID: f.TableOID,
			TableAttributeNumber: f.TableAttributeNumber, DataTypeOID: f.DataTypeOID,
			DataTypeSize: f.DataTypeSize, TypeModifier: f.TypeModifier}
	}
	return out
}

func plainStatement(st *preparedStmt) bool {
	if st.node.GetSelectStmt() == nil && st.node.GetUpdateStmt() == nil && st.node.GetDeleteStmt() == nil &&
		st.node.GetInsertStmt() == nil {
		return false
	}
	if !plainText(st.text) {
		return false
	}
	for _, o := range st.paramOIDs {
		if o >= 16384 {
			return false // a user type's OID may differ between datanodes
		}
	}
	return true
}

// typeNames gives the SQL names of types by OID (as the datanode that
// described them knows them: user types may have other OIDs elsewhere).
func (s *session) typeNames(ctx context.Context, c *pgconn.PgConn, node string, oids []uint32) ([]string, error) {
	out := make([]string, len(oids))
	// The types not known yet, each once: a statement may have 65,535
	// parameters of a few types.
	var missing []uint32
	seen := map[uint32]bool{}
	for i, o := range oids {
		if v, ok := s.co.typeNames.Load(o); ok && o < 16384 {
			out[i] = v.(string)
		} else if !seen[o] {
			seen[o] = true
			missing = append(missing, o)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	res, err := c.Exec(ctx, typeNamesQuery(missing)).ReadAll()
	if err != nil {
		return nil, executor.NodeError(node, err)
	}
	names := map[uint32]string{}
	for _, r := range res[0].Rows {
		if o, err := strconv.ParseUint(string(r[0]), 10, 32); err == nil {
			names[uint32(o)] = string(r[1])
		}
	}
	for i, o := range oids {
		if out[i] != "" {
			continue
		}
		n, ok := names[o]
		if !ok {
			return nil, pgerr.New(pgerr.UndefinedObject, "type with OID %d does not exist", o)
		}
		out[i] = n
		s.co.typeNames.Store(o, n)
	}
	return out, nil
}

// typeNamesQuery is the query of the SQL names of the types oids, built in
// one buffer (a statement may have 65,535 parameters).
func typeNamesQuery(oids []uint32) string {
	const head = "SELECT oid, format_type(oid, NULL) FROM pg_catalog.pg_type WHERE oid IN ("
	q := make([]byte, 0, len(head)+11*len(oids)+1)
	q = append(q, head...)
	for i, o := range oids {
		if i > 0 {
			q = append(q, ',')
		}
		q = strconv.AppendUint(q, uint64(o), 10)
	}
	return string(append(q, ')'))
}

// maxParam is the highest $n a statement uses.
func maxParam(n proto.Message) int {
	max := 0
	walkParams(n, func(p *pg_query.Node) {
		if v := int(p.GetParamRef().Number); v > max {
			max = v
		}
	})
	return max
}

func walkParams(m proto.Message, fn func(*pg_query.Node)) {
	planner.Walk(m, func(x proto.Message) bool {
		if n, ok := x.(*pg_query.Node); ok && n.GetParamRef() != nil {
			fn(n)
			return false
		}
		return true
	})
}

// typeNameNode parses a type's SQL name into a TypeName.
func typeNameNode(name string) (*pg_query.TypeName, error) {
	res, err := pg_query.Parse("SELECT NULL::" + name)
	if err != nil {
		return nil, pgerr.New(pgerr.UndefinedObject, "type %q does not exist", name)
	}
	return res.Stmts[0].Stmt.GetSelectStmt().TargetList[0].GetResTarget().Val.GetTypeCast().TypeName, nil
}

// bindParams replaces each $n by its value: a literal cast to the
// parameter's type, or an expression (SQL EXECUTE).
func bindParams(node *pg_query.Node, values []*pg_query.Node, types []string) (string, error) {
	c := proto.Clone(node).(*pg_query.Node)
	var err error
	walkParams(c, func(p *pg_query.Node) {
		n := int(p.GetParamRef().Number)
		if n < 1 || n > len(values) {
			err = pgerr.New(pgerr.UndefinedParameter, "there is no parameter $%d", n)
			return
		}
		v := proto.Clone(values[n-1]).(*pg_query.Node)
		if n-1 < len(types) && types[n-1] != "" {
			tn, e := typeNameNode(types[n-1])
			if e != nil {
				err = e
				return
			}
			v = &pg_query.Node{Node: &pg_query.Node_TypeCast{TypeCast: &pg_query.TypeCast{Arg: v, TypeName: tn}}}
		}
		p.Node = v.Node
	})
	if err != nil {
		return "", err
	}
	return planner.DeparseNode(c)
}

func literal(text []byte) *pg_query.Node {
	if text == nil {
		return &pg_query.Node{Node: &pg_query.Node_AConst{AConst: &pg_query.A_Const{Isnull: true}}}
	}
	return &pg_query.Node{Node: &pg_query.Node_AConst{AConst: &pg_query.A_Const{
		Val: &pg_query.A_Const_Sval{Sval: &pg_query.String{Sval: string(text)}}}}}
}

func (s *session) Bind(ctx context.Context, name, stmtName string, paramFormats []int16, params [][]byte, resultFormats []int16) (err error) {
	defer func() { err = s.failBlock(err) }()
	s.inBatch = true
	st, ok := s.stmts[stmtName]
	if !ok {
		return pgerr.New(pgerr.InvalidSqlStatementName, "prepared statement %q does not exist", stmtName)
	}
	if len(params) != len(st.paramOIDs) {
		return pgerr.New(pgerr.ProtocolViolation, "bind message supplies %d parameters, but prepared statement %q requires %d",
			len(params), stmtName, len(st.paramOIDs))
	}
	if len(paramFormats) > 1 && len(paramFormats) != len(params) {
		return pgerr.New(pgerr.ProtocolViolation, "bind message has %d parameter formats but %d parameters", len(paramFormats), len(params))
	}
	if len(resultFormats) > 1 && len(resultFormats) != len(st.fields) {
		return pgerr.New(pgerr.ProtocolViolation, "bind message has %d result formats but query has %d columns", len(resultFormats), len(st.fields))
	}
	if name != "" {
		if _, ok := s.portals[name]; ok {
			return pgerr.New(pgerr.DuplicateCursor, "cursor %q already exists", name)
		}
	}
	if s.tx.failed && (st.empty || !isTxEnd(st.text)) {
		return pgerr.New(pgerr.InFailedSqlTransaction, "current transaction is aborted, commands ignored until end of transaction block")
	}
	p := &portal{stmt: st, sql: st.sql, resultFormats: resultFormats}
	if len(params) > 0 {
		p.params = make([][]byte, len(params))
		for i, v := range params {
			text, err := convertFormat(st.paramOIDs[i], formatOf(paramFormats, i), 0, v)
			if err != nil {
				return err
			}
			p.params[i] = text
		}
		p.bound = true
		p.sql = ""
	}
	s.portals[name] = p
	return nil
}

func (s *session) DescribeStatement(ctx context.Context, name string) ([]uint32, []pgproto3.FieldDescription, error) {
	s.inBatch = true
	st, ok := s.stmts[name]
	if !ok {
		return nil, nil, s.failBlock(pgerr.New(pgerr.InvalidSqlStatementName, "prepared statement %q does not exist", name))
	}
	oids := st.paramOIDs
	if oids == nil {
		oids = []uint32{}
	}
	return oids, st.fields, nil
}

func (s *session) DescribePortal(ctx context.Context, name string) ([]pgproto3.FieldDescription, error) {
	s.inBatch = true
	p, ok := s.portals[name]
	if !ok {
		return nil, s.failBlock(pgerr.New(pgerr.InvalidCursorName, "portal %q does not exist", name))
	}
	return p.describe(), nil
}

func (p *portal) describe() []pgproto3.FieldDescription {
	if p.stmt.fields == nil {
		return nil
	}
	out := make([]pgproto3.FieldDescription, len(p.stmt.fields))
	for i, f := range p.stmt.fields {
		f.Format = formatOf(p.resultFormats, i)
		out[i] = f
	}
	return out
}

// binaryFormats is formats when one of them is binary, else nil: rows in
// text are sent as the datanodes gave them.
func binaryFormats(formats []int16) []int16 {
	for _, f := range formats {
		if f != 0 {
			return formats
		}
	}
	return nil
}

// portalWriter sends a portal's rows in its result formats, without the
// RowDescription (Describe sends that).
type portalWriter struct {
	server.ResultWriter
	formats []int16
	oids    []uint32
	noRows  bool        // the statement was described as returning no rows
	collect *[][][]byte // when set, rows are kept instead of sent
}

func (w *portalWriter) RowDescription(fields []pgproto3.FieldDescription) error {
	if w.noRows && len(fields) > 0 {
		// Rows after a Describe that said there are none would be read by
		// no driver as they are meant.
		return planner.Unsupported("rows of a statement whose result the extended protocol described as none (run it with the simple query protocol)")
	}
	if w.formats == nil {
		return nil // text: the types are not needed
	}
	w.oids = make([]uint32, len(fields))
	for i, f := range fields {
		w.oids[i] = f.DataTypeOID
	}
	return nil
}

func (w *portalWriter) DataRow(values [][]byte) error {
	row := values
	if len(w.formats) > 0 || w.collect != nil {
		row = make([][]byte, len(values))
		for i, v := range values {
			f := formatOf(w.formats, i)
			if f != 0 && i < len(w.oids) {
				b, err := convertFormat(w.oids[i], 0, f, v)
				if err != nil {
					return err
				}
				row[i] = b
			} else if v != nil {
				row[i] = append([]byte{}, v...)
			}
		}
	}
	if w.collect != nil {
		*w.collect = append(*w.collect, row)
		return nil
	}
	return w.ResultWriter.DataRow(row)
}

// tagWriter keeps the command tag instead of sending it.
type tagWriter struct {
	*portalWriter
	tag   string
	empty bool
}

func (w *tagWriter) CommandComplete(tag string) error { w.tag = tag; return nil }
func (w *tagWriter) EmptyQuery() error                { w.empty = true; return nil }

func (s *session) Execute(ctx context.Context, name string, maxRows uint32, w server.ResultWriter) (suspended bool, err error) {
	defer func() { err = s.failBlock(err) }()
	s.inBatch = true
	p, ok := s.portals[name]
	if !ok {
		return false, pgerr.New(pgerr.InvalidCursorName, "portal %q does not exist", name)
	}
	s.w = w
	defer func() { s.w = nil }()
	if !p.started {
		p.started = true
		if p.stmt.empty {
			return false, w.EmptyQuery()
		}
		pw := &portalWriter{ResultWriter: w, formats: binaryFormats(p.resultFormats), noRows: p.stmt.fields == nil}
		if maxRows == 0 {
			// Stream: nothing to keep.
			return false, s.runPortal(ctx, p, pw)
		}
		pw.collect = &p.rows
		tw := &tagWriter{portalWriter: pw}
		if err := s.runPortal(ctx, p, tw); err != nil {
			return false, err
		}
		p.tag = tw.tag
	}
	n := len(p.rows)
	if maxRows > 0 && uint32(n) > maxRows {
		n = int(maxRows)
	}
	for _, r := range p.rows[:n] {
		if err := w.DataRow(r); err != nil {
			return false, err
		}
	}
	p.rows = p.rows[n:]
	if maxRows > 0 && len(p.rows) > 0 {
		return true, nil
	}
	if p.tag == "" {
		return false, nil
	}
	tag := p.tag
	p.tag = ""
	return false, w.CommandComplete(tag)
}

// runPortal runs a bound statement as one statement of a batch.
func (s *session) runPortal(ctx context.Context, p *portal, w server.ResultWriter) error {
	s.newStatement()
	ctx, guard, done := s.statementRuns(ctx)
	defer done()
	var handled bool
	err := s.whileMoving(ctx, func() error {
		var err error
		handled, err = s.runBound(ctx, p, w)
		return err
	})
	err = s.deadlockError(guard.clientError(err))
	if handled {
		s.statementEnded(p.stmt.text, err)
	} else {
		// s.statement counts it.
		if p.sql == "" && p.bound {
			// The general path: the values become typed literals of the statement.
			values := make([]*pg_query.Node, len(p.params))
			for i, v := range p.params {
				values[i] = literal(v)
			}
			if p.sql, err = bindParams(p.stmt.node, values, p.stmt.paramTypes); err != nil {
				return err
			}
		}
		err = guard.clientError(s.statement(ctx, p.sql, w, false))
	}
	if err != nil && s.tx.active {
		if s.tx.explicit {
			s.failTx(ctx)
		} else {
			s.rollback(ctx)
		}
	}
	return err
}

func (s *session) CloseObject(ctx context.Context, kind byte, name string) error {
	s.inBatch = true
	if kind == 'S' {
		delete(s.stmts, name)
	} else {
		delete(s.portals, name)
	}
	return nil
}

func (s *session) Sync(ctx context.Context) error {
	s.inBatch = false
	if !s.tx.explicit {
		s.portals = map[string]*portal{}
	}
	var err error
	if s.tx.active && !s.tx.explicit {
		if s.tx.failed {
			s.rollback(ctx)
		} else {
			err = s.commit(ctx)
		}
	}
	s.releaseConns()
	return err
}

// sqlPrepare is SQL PREPARE name [(types)] AS statement.
func (s *session) sqlPrepare(ctx context.Context, ps *pg_query.PrepareStmt, w server.ResultWriter) error {
	if _, ok := s.stmts[ps.Name]; ok || ps.Name == "" {
		return pgerr.New(pgerr.DuplicatePreparedStatement, "prepared statement %q already exists", ps.Name)
	}
	var oids []uint32
	if len(ps.Argtypes) > 0 {
		// The datanode resolves the declared types: ask it through a PREPARE of its own.
		return s.sqlPrepareTyped(ctx, ps, w)
	}
	return s.prepareSQL(ctx, ps, oids, w)
}

// prepareSQL makes the statement of SQL PREPARE with its parameter types.
func (s *session) prepareSQL(ctx context.Context, ps *pg_query.PrepareStmt, oids []uint32, w server.ResultWriter) error {
	sql, err := planner.DeparseNode(ps.Query)
	if err != nil {
		return err
	}
	st, err := s.prepare(ctx, ps.Name, sql, oids)
	if err != nil {
		return err
	}
	s.stmts[ps.Name] = st
	return w.CommandComplete("PREPARE")
}

func (s *session) sqlPrepareTyped(ctx context.Context, ps *pg_query.PrepareStmt, w server.ResultWriter) error {
	dn, ok := s.co.preferredDatanode()
	if !ok {
		return pgerr.New(pgerr.UndefinedObject, "no datanode is defined")
	}
	c, err := s.Conn(ctx, dn.Name, false)
	if err != nil {
		return err
	}
	var casts []string
	for _, t := range ps.Argtypes {
		sel := &pg_query.SelectStmt{LimitOption: pg_query.LimitOption_LIMIT_OPTION_DEFAULT, Op: pg_query.SetOperation_SETOP_NONE,
			TargetList: []*pg_query.Node{{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Val: &pg_query.Node{
				Node: &pg_query.Node_TypeCast{TypeCast: &pg_query.TypeCast{Arg: literal(nil), TypeName: t.GetTypeName()}}}}}}}}
		sql, err := planner.DeparseNode(&pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: sel}})
		if err != nil {
			return err
		}
		casts = append(casts, "pg_typeof("+sql[len("SELECT "):]+")::oid")
	}
	res, err := c.Exec(ctx, "SELECT "+strings.Join(casts, ", ")).ReadAll()
	if err != nil {
		return executor.NodeError(dn.Name, err)
	}
	var oids []uint32
	for _, v := range res[0].Rows[0] {
		var o uint32
		fmt.Sscan(string(v), &o)
		oids = append(oids, o)
	}
	return s.prepareSQL(ctx, ps, oids, w)
}

// sqlExecute is SQL EXECUTE name [(args)].
func (s *session) sqlExecute(ctx context.Context, es *pg_query.ExecuteStmt, w server.ResultWriter) error {
	st, ok := s.stmts[es.Name]
	if !ok || es.Name == "" {
		return pgerr.New(pgerr.InvalidSqlStatementName, "prepared statement %q does not exist", es.Name)
	}
	if len(es.Params) != len(st.paramOIDs) {
		return pgerr.New(pgerr.SyntaxError, "wrong number of parameters for prepared statement %q", es.Name)
	}
	sql := st.sql
	if len(es.Params) > 0 {
		var err error
		if sql, err = bindParams(st.node, es.Params, st.paramTypes); err != nil {
			return err
		}
	}
	return s.statement(ctx, sql, w, false)
}

// sqlDeallocate is SQL DEALLOCATE [ALL | name].
func (s *session) sqlDeallocate(ds *pg_query.DeallocateStmt, w server.ResultWriter) error {
	if ds.Isall || ds.Name == "" {
		for k := range s.stmts {
			if k != "" {
				delete(s.stmts, k)
			}
		}
		return w.CommandComplete("DEALLOCATE ALL")
	}
	if _, ok := s.stmts[ds.Name]; !ok {
		return pgerr.New(pgerr.InvalidSqlStatementName, "prepared statement %q does not exist", ds.Name)
	}
	delete(s.stmts, ds.Name)
	return w.CommandComplete("DEALLOCATE")
}

// runBound runs a portal whose statement goes to the datanodes whole: the
// statement is sent as prepared, its parameters along (no re-parsing, no
// rewriting). It reports false when the portal needs the general path.
func (s *session) runBound(ctx context.Context, p *portal, w server.ResultWriter) (bool, error) {
	st := p.stmt
	if p.params == nil || st.node == nil || s.tx.failed || !st.plain {
		return false, nil
	}
	if s.sharedPlans() {
		t := s.co.statements.Lookup(&st.cached, s.co.Cache.Generation(), s.routeScope())
		if t != nil && t.Value() < len(p.params) && p.params[t.Value()] != nil {
			if node, ok := t.Node(string(p.params[t.Value()])); ok {
				rq := &planner.RemoteQuery{Nodes: []string{node}, SQL: map[string]string{node: st.text}, Write: t.Write(),
					Params: p.params, ParamOIDs: st.paramOIDs}
				return true, s.run(ctx, rq, w)
			}
		}
	}
	gen := s.co.Cache.Generation()
	if st.generic != nil && st.genericGen == gen && st.genericScope == s.routeScope() && s.sharedPlans() {
		// Planned before for any values: run with these.
		planner.SetParams(st.generic, p.params, st.paramOIDs)
		return true, s.run(ctx, st.generic, w)
	}
	st.generic = nil
	env, err := s.env(ctx)
	if err != nil {
		return true, err
	}
	env.SQL = st.text
	env.Params = make([]planner.Param, len(p.params))
	for i, v := range p.params {
		env.Params[i] = planner.Param{Text: v, Type: st.paramTypes[i]}
	}
	plan, generic, err := planner.PlanPrepared(env, st.node)
	if err != nil {
		return false, nil // the general path gives the error with the values bound
	}
	rq, ok := plan.(*planner.RemoteQuery)
	if !ok && !planner.TakesParams(plan) {
		return false, nil
	}
	// A plan no value decided runs again with the next values; one
	// pinned to a node by a value follows a route template instead.
	if generic && s.sharedPlans() {
		st.generic, st.genericGen, st.genericScope = plan, gen, s.routeScope()
	}
	if !ok {
		// Primitives over remote scans, or a subquery's value and the
		// statement run with it, that read the values.
		planner.SetParams(plan, p.params, st.paramOIDs)
		return true, s.run(ctx, plan, w)
	}
	rq.Params, rq.ParamOIDs = p.params, st.paramOIDs
	s.learnParamRoute(st, gen, plan)
	return true, s.run(ctx, rq, w)
}
