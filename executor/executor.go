package executor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xlgo/xlgo/executor/ops"
	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/planner"
	"github.com/xlgo/xlgo/pooler"
)

// Backends gives the executor the session's connection to a datanode,
// joined to the session's transaction when one is open. write tells that
// the statement about to run there may write.
type Backends interface {
	Conn(ctx context.Context, node string, write bool) (*pooler.Conn, error)
	// NextVal is the next value of a global sequence (named as a column
	// default names it).
	NextVal(ctx context.Context, sequence string) (int64, error)
	// ReadGate is entered before a read of several datanodes sends its
	// statements and left once each node answered: no distributed commit is
	// half seen. It joins the backends of nodes first: the read never waits
	// for a backend inside the gate. release is never nil.
	ReadGate(ctx context.Context, nodes []string) (release func(), err error)
	// Sent is told of a connection that has just been sent a statement: a
	// cancel of the client's statement that came before it was busy
	// reaches it too.
	Sent(c *pooler.Conn)
	// ConnBegin is Conn for a statement sent next: when the node has not
	// started the open transaction yet, begin is the BEGIN to send in the
	// same round trip before the statement (the node counts as started),
	// perhaps followed by more statements, each after BeginSep.
	ConnBegin(ctx context.Context, node string, write bool) (c *pooler.Conn, begin string, err error)
}

// BeginSep separates the statements of a ConnBegin's begin.
const BeginSep = ";\n"

// Sink receives the rows a plan returns. Values are only valid during the call.
type Sink interface {
	RowDescription(fields []pgproto3.FieldDescription) error
	DataRow(values [][]byte) error
}

// MaxGatherBytes bounds the rows one statement may pull to the coordinator.
var MaxGatherBytes int64 = 1 << 30

// Run executes a plan and returns its command tag.
func Run(ctx context.Context, p planner.Plan, b Backends, sink Sink) (string, error) {
	return run(ctx, p, b, sink, nil)
}

// run executes a plan whose statements are sent the parameters bd, when
// not nil, in place of their own.
func run(ctx context.Context, p planner.Plan, b Backends, sink Sink, bd *binding) (string, error) {
	switch p := p.(type) {
	case *planner.RemoteQuery:
		return runRemote(ctx, p, b, sink, bd)
	case *planner.GatherEval:
		return runGather(ctx, p, b, sink, bd)
	case *planner.InsertRows:
		return runInsert(ctx, p, b, sink)
	case *planner.SubPlan:
		main, bd, _, err := runSubPlan(ctx, p, b)
		if err != nil {
			return "", err
		}
		return run(ctx, main, b, sink, bd)
	}
	return runTree(ctx, p, b, sink, bd)
}

// paramsOf are the parameters a remote query sends to node.
func paramsOf(p *planner.RemoteQuery, node string, bd *binding) ([][]byte, []uint32) {
	if bd != nil {
		return bd.forNode(node)
	}
	return p.Params, p.ParamOIDs
}

// NodeError gives a datanode's error the node's name, keeping its SQLSTATE.
func NodeError(node string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Severity == "FATAL" || pe.Severity == "PANIC") {
		// The datanode ended its backend (shut down, crashed, terminated):
		// that ends the client's statement, not the client's session.
		return &pgconn.PgError{Severity: "ERROR", Code: pgerr.ConnectionFailure,
			Message: fmt.Sprintf("lost connection to datanode %s: %s", node, pe.Message),
			Detail:  fmt.Sprintf("The datanode ended the connection with %s %s.", pe.Severity, pe.Code)}
	}
	if errors.As(err, &pe) {
		c := *pe
		// The datanode's position points into the SQL it was sent, which
		// is not the client's text.
		c.Position = 0
		if strings.HasPrefix(c.Where, "unnamed portal parameter $") {
			// A constant the coordinator sent as a parameter: PostgreSQL
			// names no parameter for the constant of the client's text.
			c.Where = ""
		}
		if c.Where == "" {
			c.Where = "datanode " + node
		}
		return &c
	}
	if pgconn.Timeout(err) {
		return &pgconn.PgError{Severity: "ERROR", Code: pgerr.QueryCanceled, Message: "canceling statement due to user request"}
	}
	return &pgconn.PgError{Severity: "ERROR", Code: pgerr.ConnectionFailure, Message: fmt.Sprintf("lost connection to datanode %s: %v", node, err)}
}

func fieldsOf(fds []pgconn.FieldDescription) []pgproto3.FieldDescription {
	out := make([]pgproto3.FieldDescription, len(fds))
	for i, f := range fds {
		out[i] = pgproto3.FieldDescription{Name: []byte(f.Name), TableOID: f.TableOID, TableAttributeNumber: f.TableAttributeNumber,
			DataTypeOID: f.DataTypeOID, DataTypeSize: f.DataTypeSize, TypeModifier: f.TypeModifier, Format: f.Format}
	}
	return out
}

// tagCounter adds up the command tags of one statement run on several nodes.
type tagCounter struct {
	verb  string
	count int64
	seen  bool
	other string
}

func (t *tagCounter) add(tag string) {
	f := strings.Fields(tag)
	if len(f) == 0 {
		return
	}
	n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
	if err != nil || len(f) < 2 {
		t.other = tag
		return
	}
	t.verb = strings.Join(f[:len(f)-1], " ")
	t.count += n
	t.seen = true
}

func (t *tagCounter) String() string {
	if !t.seen {
		return t.other
	}
	return fmt.Sprintf("%s %d", t.verb, t.count)
}

// exec runs one statement on one node and streams its rows; it sends a
// RowDescription only when described is false, and tells whether it did.
func exec(ctx context.Context, c *pooler.Conn, node, sql string, sink Sink, described bool, discard bool) (string, bool, error) {
	mrr := c.Exec(ctx, sql)
	return consume(mrr, mrr.NextResult(), node, sink, described, discard)
}

// results is what a statement sent to a datanode answers: one or more results.
type results interface {
	NextResult() bool
	ResultReader() *pgconn.ResultReader
	Close() error
}

// oneResult is the answer of a statement sent with parameters.
type oneResult struct {
	rr   *pgconn.ResultReader
	used bool
}

func (o *oneResult) NextResult() bool {
	if o.used {
		return false
	}
	o.used = true
	return true
}
func (o *oneResult) ResultReader() *pgconn.ResultReader { return o.rr }
func (o *oneResult) Close() error {
	if !o.used {
		o.used = true
		_, err := o.rr.Close()
		return err
	}
	return nil
}

// forgetLostPrepared makes a backend prepare its statements anew when one of
// them is gone (a DEALLOCATE or DISCARD sent to it behind the coordinator's
// back): the statement that found out fails, the next ones work.
func forgetLostPrepared(c *pooler.Conn, err error) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == pgerr.InvalidSqlStatementName && strings.Contains(pe.Message, `"xlgo_`) {
		c.ForgetPrepared()
	}
}

// afterBegin is the answer of a BEGIN sent with a statement: the BEGIN's
// own result is read first and not shown; an error of it ends the answer.
type afterBegin struct {
	mrr  *pgconn.MultiResultReader
	skip int // results of the begin statements not read yet
}

func (a *afterBegin) NextResult() bool {
	for ; a.skip > 0; a.skip-- {
		if !a.mrr.NextResult() {
			return false
		}
		if _, err := a.mrr.ResultReader().Close(); err != nil {
			return false
		}
	}
	return a.mrr.NextResult()
}
func (a *afterBegin) ResultReader() *pgconn.ResultReader { return a.mrr.ResultReader() }
func (a *afterBegin) Close() error                       { return a.mrr.Close() }

// send sends a statement, with its parameters when it has them, after
// begin (a transaction's BEGIN on the node) when it is not "": both go in
// one round trip (one Sync: an error skips what follows it).
func send(ctx context.Context, c *pooler.Conn, begin, sql string, params [][]byte, oids []uint32) results {
	// With parameters it is prepared once per backend: the datanode parses
	// and plans it once, and its description is known (no Describe with
	// each run).
	var sd *pgconn.StatementDescription
	if params != nil {
		sd, _ = c.Prepared(ctx, sql, oids)
	}
	if begin == "" {
		switch {
		case sd != nil:
			return &oneResult{rr: c.ExecStatement(ctx, sd, params, nil, nil)}
		case params != nil:
			return &oneResult{rr: c.ExecParams(ctx, sql, params, oids, nil, nil)}
		}
		return c.Exec(ctx, sql)
	}
	b := &pgconn.Batch{}
	parts := strings.Split(begin, BeginSep)
	for _, q := range parts {
		b.ExecParams(q, nil, nil, nil, nil)
	}
	if sd != nil {
		b.ExecStatement(sd, params, nil, nil)
	} else {
		b.ExecParams(sql, params, oids, nil, nil)
	}
	return &afterBegin{mrr: c.ExecBatch(ctx, b), skip: len(parts)}
}

// consume streams the results of a statement already sent; has tells
// whether NextResult was called and found the first result.
func consume(mrr results, has bool, node string, sink Sink, described, discard bool) (string, bool, error) {
	var tag string
	for ; has; has = mrr.NextResult() {
		rr := mrr.ResultReader()
		fds := rr.FieldDescriptions()
		if len(fds) > 0 && !described && !discard && sink != nil {
			if err := sink.RowDescription(fieldsOf(fds)); err != nil {
				rr.Close()
				mrr.Close()
				return "", described, err
			}
			described = true
		}
		for rr.NextRow() {
			if discard || sink == nil {
				continue
			}
			if err := sink.DataRow(rr.Values()); err != nil {
				rr.Close()
				mrr.Close()
				return "", described, err
			}
		}
		ct, err := rr.Close()
		if err != nil {
			mrr.Close()
			return "", described, NodeError(node, err)
		}
		tag = ct.String()
	}
	if err := mrr.Close(); err != nil {
		return "", described, NodeError(node, err)
	}
	return tag, described, nil
}

// runRemoteRead reads several datanodes: the statements are sent to all of
// them inside the read gate, which is left once each has answered (each has
// taken its snapshot by then); the rows are streamed after.
func runRemoteRead(ctx context.Context, p *planner.RemoteQuery, b Backends, sink Sink, bd *binding) (string, error) {
	conns := make([]*pooler.Conn, len(p.Nodes))
	begins := make([]string, len(p.Nodes))
	for i, node := range p.Nodes {
		var err error
		if conns[i], begins[i], err = b.ConnBegin(ctx, node, false); err != nil {
			return "", err
		}
	}
	release, err := b.ReadGate(ctx, p.Nodes)
	if err != nil {
		return "", err
	}
	mrrs := make([]results, len(p.Nodes))
	for i, node := range p.Nodes {
		params, oids := paramsOf(p, node, bd)
		mrrs[i] = send(ctx, conns[i], begins[i], p.SQL[node], params, oids)
		b.Sent(conns[i])
	}
	has := make([]bool, len(p.Nodes))
	for i := range mrrs {
		has[i] = mrrs[i].NextResult()
	}
	release()
	var tags tagCounter
	described := false
	var firstErr error
	for i, node := range p.Nodes {
		if firstErr != nil {
			mrrs[i].Close()
			continue
		}
		tag, d, err := consume(mrrs[i], has[i], node, sink, described, false)
		if err != nil {
			firstErr = err
			continue
		}
		described = d
		tags.add(tag)
	}
	if firstErr != nil {
		return "", firstErr
	}
	if p.Tag != "" {
		return p.Tag, nil
	}
	return tags.String(), nil
}

func runRemote(ctx context.Context, p *planner.RemoteQuery, b Backends, sink Sink, bd *binding) (string, error) {
	if !p.Write && len(p.Nodes) > 1 {
		return runRemoteRead(ctx, p, b, sink, bd)
	}
	var tags tagCounter
	described := false
	firstTag := ""
	for i, node := range p.Nodes {
		c, begin, err := b.ConnBegin(ctx, node, p.Write)
		if err != nil {
			return "", err
		}
		discard := p.Replicated && i > 0
		params, oids := paramsOf(p, node, bd)
		res := send(ctx, c, begin, p.SQL[node], params, oids)
		tag, d, err := consume(res, res.NextResult(), node, sink, described, discard)
		if err != nil {
			forgetLostPrepared(c, err)
			return "", err
		}
		described = d
		if i == 0 {
			firstTag = tag
		}
		tags.add(tag)
	}
	if p.Tag != "" {
		return p.Tag, nil
	}
	if p.Replicated || len(p.Nodes) == 1 {
		return firstTag, nil
	}
	return tags.String(), nil
}

// collector keeps rows in memory (copies of the values).
type collector struct {
	fields []pgproto3.FieldDescription
	rows   [][][]byte
	bytes  int64
}

// RowDescription keeps the first node's description: the OIDs of user
// types in it are that node's (each datanode numbers its own), and the
// final query's types are looked up there.
func (c *collector) RowDescription(f []pgproto3.FieldDescription) error {
	if c.fields == nil {
		c.fields = f
	}
	return nil
}

func (c *collector) DataRow(values [][]byte) error {
	row := make([][]byte, len(values))
	for i, v := range values {
		if v != nil {
			row[i] = append(make([]byte, 0, len(v)), v...)
			c.bytes += int64(len(v))
		}
	}
	c.rows = append(c.rows, row)
	if c.bytes > MaxGatherBytes {
		return ops.GatherLimit(MaxGatherBytes)
	}
	return nil
}

// arrayLiteral makes a text[] literal of text values (nil is NULL).
func arrayLiteral(vals [][]byte) []byte { return []byte(planner.ArrayLiteral(vals)) }

// pull fetches the rows of every gather input as the text[] parameters of
// the final query; counts are rows per input. Every statement is sent inside
// the read gate, which is left once each has answered (a node that serves
// several inputs gets its next statement once the previous one is read:
// REPEATABLE READ, not the gate, then keeps its snapshots together).
func pull(ctx context.Context, p *planner.GatherEval, b Backends) ([][]byte, []int, string, error) {
	type part struct {
		input    int
		node     string
		res      results
		answered bool // NextResult was called; has is its answer
		has      bool
	}
	var parts []*part
	var nodes []string
	for ii, in := range p.Inputs {
		for _, n := range in.Nodes {
			parts = append(parts, &part{input: ii, node: n})
			if !slices.Contains(nodes, n) {
				nodes = append(nodes, n)
			}
		}
	}
	cols := make([]*collector, len(p.Inputs))
	for i := range cols {
		cols[i] = &collector{}
	}
	release, err := b.ReadGate(ctx, nodes)
	if err != nil {
		return nil, nil, "", err
	}
	defer release()
	read := 0 // parts before read are read
	fail := func(err error) ([][]byte, []int, string, error) {
		for _, pt := range parts[read:] {
			if pt.res != nil {
				pt.res.Close()
			}
		}
		return nil, nil, "", err
	}
	readUpTo := func(j int) error {
		for ; read <= j; read++ {
			pt := parts[read]
			if !pt.answered {
				pt.answered, pt.has = true, pt.res.NextResult()
			}
			res := pt.res
			pt.res = nil
			if _, _, err := consume(res, pt.has, pt.node, cols[pt.input], false, false); err != nil {
				read++
				return err
			}
		}
		return nil
	}
	busy := map[string]int{} // node -> the last part sent to it
	for k, pt := range parts {
		if j, ok := busy[pt.node]; ok && j >= read {
			if err := readUpTo(j); err != nil {
				return fail(err)
			}
		}
		c, err := b.Conn(ctx, pt.node, false)
		if err != nil {
			return fail(err)
		}
		pt.res = c.Exec(ctx, p.Inputs[pt.input].SQL[pt.node])
		b.Sent(c)
		busy[pt.node] = k
	}
	// Each node has taken its snapshot once it answers.
	for _, pt := range parts[read:] {
		pt.answered, pt.has = true, pt.res.NextResult()
	}
	release()
	if err := readUpTo(len(parts) - 1); err != nil {
		return fail(err)
	}

	var params [][]byte
	var counts []int
	for ii, in := range p.Inputs {
		col := cols[ii]
		for j := range in.Columns {
			vals := make([][]byte, len(col.rows))
			for i, r := range col.rows {
				vals[i] = r[j]
			}
			params = append(params, arrayLiteral(vals))
		}
		counts = append(counts, len(col.rows))
	}
	if len(p.Holes) == 0 {
		return params, counts, p.SQL, nil
	}
	// The types only the datanodes knew (partial aggregates), by the names
	// the node of the final query gives them.
	var sql strings.Builder
	for i, h := range p.Holes {
		f := cols[h.Input].fields
		if h.Column >= len(f) {
			return nil, nil, "", fmt.Errorf("executor: input %d has no column %d", h.Input, h.Column)
		}
		name, err := typeName(ctx, b, p.Inputs[h.Input].Nodes[0], f[h.Column].DataTypeOID)
		if err != nil {
			return nil, nil, "", err
		}
		sql.WriteString(p.Parts[i])
		sql.WriteString(name)
	}
	sql.WriteString(p.Parts[len(p.Holes)])
	return params, counts, sql.String(), nil
}

// typeName is the SQL name of a type a datanode reported by OID.
func typeName(ctx context.Context, b Backends, node string, oid uint32) (string, error) {
	if n, ok := builtinTypeNames[oid]; ok {
		return n, nil
	}
	c, err := b.Conn(ctx, node, false)
	if err != nil {
		return "", err
	}
	res, err := c.Exec(ctx, fmt.Sprintf("SELECT format_type(%d, NULL)", oid)).ReadAll()
	if err != nil {
		return "", NodeError(node, err)
	}
	if len(res) != 1 || len(res[0].Rows) != 1 {
		return "", fmt.Errorf("no type with OID %d", oid)
	}
	return string(res[0].Rows[0][0]), nil
}

// anyNode is a datanode a plan reads, to ask it a type's name.
func anyNode(p planner.Plan) string {
	node := ""
	planner.WalkPlan(p, func(x planner.Plan) {
		switch x := x.(type) {
		case *planner.RemoteQuery:
			node = x.Nodes[0]
		case *planner.RemoteScan:
			node = x.Nodes[0]
		case *planner.GatherEval:
			node = x.Node
		}
	})
	return node
}

// builtinTypeNames are the types partial aggregates usually have. character
// and bit are named without a length (bpchar, bit varying): format_type
// would name them as character(1) and bit(1), and a cast to those cuts.
var builtinTypeNames = map[uint32]string{1042: "bpchar", 1014: "bpchar[]", 1560: "bit varying", 1561: "bit varying[]",
	1043: "character varying", 19: "name", 17: "bytea", 2950: "uuid", 3802: "jsonb", 114: "json", 16: "boolean", 20: "bigint", 21: "smallint", 23: "integer", 700: "real",
	701: "double precision", 1700: "numeric", 1186: "interval", 790: "money", 25: "text", 1082: "date",
	1114: "timestamp without time zone", 1184: "timestamp with time zone", 1083: "time without time zone"}

// finalParams are the parameters of a Coordinator Evaluate's final query:
// the statement's own (ParamBase of them, from bd), then the pulled arrays.
func finalParams(p *planner.GatherEval, bd *binding, arrays [][]byte) ([][]byte, []uint32, error) {
	if p.ParamBase == 0 {
		return arrays, nil, nil
	}
	if bd == nil || len(bd.params) != p.ParamBase {
		return nil, nil, fmt.Errorf("executor: the final query reads %d parameters before its arrays", p.ParamBase)
	}
	params, oids := bd.forNode(p.Node)
	return append(slices.Clone(params), arrays...), append(slices.Clone(oids), make([]uint32, len(arrays))...), nil
}

func runGather(ctx context.Context, p *planner.GatherEval, b Backends, sink Sink, bd *binding) (string, error) {
	arrays, _, sql, err := pull(ctx, p, b)
	if err != nil {
		return "", err
	}
	params, oids, err := finalParams(p, bd, arrays)
	if err != nil {
		return "", err
	}
	c, err := b.Conn(ctx, p.Node, false)
	if err != nil {
		return "", err
	}
	rr := c.ExecParams(ctx, sql, params, oids, nil, nil)
	if fds := rr.FieldDescriptions(); len(fds) > 0 && sink != nil {
		if err := sink.RowDescription(fieldsOf(fds)); err != nil {
			rr.Close()
			return "", err
		}
	}
	for rr.NextRow() {
		if sink != nil {
			if err := sink.DataRow(rr.Values()); err != nil {
				rr.Close()
				return "", err
			}
		}
	}
	tag, err := rr.Close()
	if err != nil {
		return "", NodeError(p.Node, err)
	}
	return tag.String(), nil
}

type guardKey struct{}

// WithGuard makes ctx the guard of a statement: the reads of its remote
// scans outlive the cancel of the statement's own context (the cancel
// reaches their datanodes as CancelRequests, and their connections stay
// usable), but not the end of ctx, which means a datanode did not answer
// in time: each is then sent a CancelRequest, and its connection is closed
// when it does not answer either.
func WithGuard(ctx context.Context) context.Context {
	return context.WithValue(ctx, guardKey{}, ctx)
}

// readContext is the context of a remote scan's reads under ctx.
func readContext(ctx context.Context) context.Context {
	if g, ok := ctx.Value(guardKey{}).(context.Context); ok {
		return g
	}
	return context.WithoutCancel(ctx)
}
