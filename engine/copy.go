package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/distribution"
	"github.com/xlgo/xlgo/executor"
	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/planner"
	"github.com/xlgo/xlgo/pooler"
	"github.com/xlgo/xlgo/server"
)

var copyRoundRobin atomic.Uint64

// copyOptions reads a COPY statement's format options.
func copyOptions(cs *pg_query.CopyStmt) (*copyFormat, error) {
	f := &copyFormat{kind: 't', delimiter: '\t', null: `\N`, quote: '"', escape: 0}
	str := func(d *pg_query.DefElem) string {
		if d.Arg == nil {
			return ""
		}
		if s := d.Arg.GetString_(); s != nil {
			return s.Sval
		}
		if c := d.Arg.GetAConst(); c != nil {
			if c.GetSval() != nil {
				return c.GetSval().Sval
			}
			if c.GetBoolval() != nil {
				return strconv.FormatBool(c.GetBoolval().Boolval)
			}
			if c.GetIval() != nil {
				return strconv.Itoa(int(c.GetIval().Ival))
			}
		}
		if b := d.Arg.GetBoolean(); b != nil {
			return strconv.FormatBool(b.Boolval)
		}
		if i := d.Arg.GetInteger(); i != nil {
			return strconv.Itoa(int(i.Ival))
		}
		return ""
	}
	var delim, null, quote, escape *string
	for _, o := range cs.Options {
		d := o.GetDefElem()
		if d == nil {
			continue
		}
		v := str(d)
		switch d.Defname {
		case "format":
			switch strings.ToLower(v) {
			case "text":
				f.kind = 't'
			case "csv":
				f.kind = 'c'
			case "binary":
				f.kind = 'b'
			default:
				return nil, pgerr.New(pgerr.InvalidParameterValue, "COPY format %q not recognized", v)
			}
		case "delimiter":
			delim = &v
		case "null":
			null = &v
		case "quote":
			quote = &v
		case "escape":
			escape = &v
		case "header":
			f.header = d.Arg == nil || !(strings.EqualFold(v, "false") || v == "0" || strings.EqualFold(v, "off"))
		}
	}
	if f.kind == 'c' {
		f.delimiter, f.null = ',', ""
	}
	if delim != nil {
		if len(*delim) != 1 {
			return nil, pgerr.New(pgerr.FeatureNotSupported, "COPY delimiter must be a single one-byte character")
		}
		f.delimiter = (*delim)[0]
	}
	if null != nil {
		f.null = *null
	}
	if quote != nil && len(*quote) == 1 {
		f.quote = (*quote)[0]
	}
	f.escape = f.quote
	if escape != nil && len(*escape) == 1 {
		f.escape = (*escape)[0]
	}
	return f, nil
}

// withoutHeader is the COPY statement for a datanode: HEADER is handled by
// the coordinator.
func withoutHeader(cs *pg_query.CopyStmt) (string, error) {
	c := proto.Clone(cs).(*pg_query.CopyStmt)
	var keep []*pg_query.Node
	for _, o := range c.Options {
		if d := o.GetDefElem(); d != nil && d.Defname == "header" {
			continue
		}
		keep = append(keep, o)
	}
	c.Options = keep
	return planner.DeparseNode(&pg_query.Node{Node: &pg_query.Node_CopyStmt{CopyStmt: c}})
}

// copyStatement runs COPY ... FROM STDIN or COPY ... TO STDOUT.
func (s *session) copyStatement(ctx context.Context, cs *pg_query.CopyStmt, w server.ResultWriter) error {
	if cs.Filename != "" || cs.IsProgram {
		return planner.Unsupported("COPY to or from a file or program on the server; use STDIN/STDOUT (psql's \\copy)")
	}
	f, err := copyOptions(cs)
	if err != nil {
		return err
	}
	env, err := s.env(ctx)
	if err != nil {
		return err
	}
	if cs.IsFrom {
		return s.copyIn(ctx, env, cs, f, w)
	}
	return s.copyOut(ctx, env, cs, f, w)
}

// copyTarget is where COPY FROM sends rows.
type copyTarget struct {
	node   string
	pw     *io.PipeWriter
	buf    *bufio.Writer
	lines  []int // the client's line number of each record sent, for errors
	done   chan struct{}
	tag    string
	err    error
	header []byte
}

func (s *session) copyIn(ctx context.Context, env *planner.Env, cs *pg_query.CopyStmt, f *copyFormat, w server.ResultWriter) error {
	if cs.Relation == nil {
		return pgerr.New(pgerr.SyntaxError, "COPY FROM needs a table")
	}
	if err := s.placementMoved(); err != nil {
		return err
	}
	t, view := env.Rel.Resolve(cs.Relation.Schemaname, cs.Relation.Relname, env.SearchPath)
	if view {
		return planner.Unsupported("COPY into a view over distributed tables")
	}
	if t != nil && t.Locator.Rewriting {
		return &distribution.MovingError{Bucket: -1} // before any CopyInResponse
	}
	var cols []string
	for _, a := range cs.Attlist {
		cols = append(cols, a.GetString_().GetSval())
	}
	nodes := []string{env.Preferred(env.Datanodes())}
	distIdx := -1
	if t != nil {
		nodes = t.Locator.Nodes
		if len(cols) == 0 {
			for _, c := range t.Columns {
				cols = append(cols, c.Name)
			}
		}
		given := map[string]bool{}
		for _, c := range cols {
			given[c] = true
		}
		for _, c := range t.Columns {
			if _, seq := planner.SequenceOfDefault(c.Default); seq && !given[c.Name] {
				return planner.Unsupported("COPY into %s without its column %s, whose default takes a global sequence value", t.Name, c.Name)
			}
		}
		if t.DistCol >= 0 && (t.Locator.Kind == distribution.Hash || t.Locator.Kind == distribution.Modulo) {
			for i, c := range cols {
				if c == t.Locator.Column {
					distIdx = i
				}
			}
			if distIdx < 0 {
				return planner.Unsupported("COPY into %s without its distribution column %s", t.Name, t.Locator.Column)
			}
		}
	}
	remote, err := withoutHeader(cs)
	if err != nil {
		return err
	}
	colFormats := make([]uint16, len(cols))
	format := byte(0)
	if f.kind == 'b' {
		format = 1
		for i := range colFormats {
			colFormats[i] = 1
		}
	}
	var total int64
	err = s.autocommit(ctx, func() error {
		targets := make([]*copyTarget, len(nodes))
		for i, n := range nodes {
			c, err := s.Conn(ctx, n, true)
			if err != nil {
				return err
			}
			pr, pw := io.Pipe()
			tg := &copyTarget{node: n, pw: pw, buf: bufio.NewWriterSize(pw, 64<<10), done: make(chan struct{})}
			targets[i] = tg
			go func(c *pooler.Conn) {
				defer close(tg.done)
				ct, err := c.CopyFrom(ctx, pr, remote)
				tg.tag, tg.err = ct.String(), err
				pr.CloseWithError(errCopyTargetDone)
			}(c)
		}
		if err := w.CopyInResponse(format, colFormats); err != nil {
			return s.finishCopyIn(targets, err)
		}
		r := &copyRouter{s: s, ctx: ctx, f: f, t: t, targets: targets, distIdx: distIdx}
		err := r.run(w)
		if err != nil {
			return s.finishCopyIn(targets, err)
		}
		if err := s.finishCopyIn(targets, nil); err != nil {
			return err
		}
		for i, tg := range targets {
			n, _ := strconv.ParseInt(strings.TrimPrefix(tg.tag, "COPY "), 10, 64)
			if t != nil && t.Locator.Kind == distribution.Replication && i > 0 {
				continue
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return err
	}
	return w.CommandComplete(fmt.Sprintf("COPY %d", total))
}

var errCopyTargetDone = errors.New("datanode COPY ended")

// finishCopyIn ends every datanode's COPY: cleanly, or with cause when the
// COPY failed at the coordinator. It returns the first error, with the
// client's line number in a datanode's COPY context.
func (s *session) finishCopyIn(targets []*copyTarget, cause error) error {
	for _, tg := range targets {
		if tg == nil {
			continue
		}
		if cause == nil {
			if err := tg.buf.Flush(); err != nil && tg.err == nil {
				// The datanode stopped reading: its own error follows.
				_ = err
			}
			tg.pw.Close()
		} else {
			tg.pw.CloseWithError(cause)
		}
	}
	var first error
	for _, tg := range targets {
		if tg == nil {
			continue
		}
		<-tg.done
		if tg.err != nil && first == nil && cause == nil {
			first = fixCopyLine(executor.NodeError(tg.node, tg.err), tg.lines)
		}
	}
	if cause != nil {
		return cause
	}
	return first
}

var copyLineRE = regexp.MustCompile(`^(COPY [^,]+, line )(\d+)`)

// fixCopyLine turns a datanode's line number into the client's.
func fixCopyLine(err error, lines []int) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	c := *pe
	if m := copyLineRE.FindStringSubmatchIndex(c.Where); m != nil {
		n, _ := strconv.Atoi(c.Where[m[4]:m[5]])
		if n >= 1 && n <= len(lines) {
			c.Where = c.Where[:m[4]] + strconv.Itoa(lines[n-1]) + c.Where[m[5]:]
		}
	}
	return &c
}

// copyRouter reads the client's COPY data and sends each record to the
// datanode that holds it.
type copyRouter struct {
	s       *session
	ctx     context.Context
	f       *copyFormat
	t       *catalog.Table
	targets []*copyTarget
	distIdx int
	line    int // records read so far (the header counts)
	header  bool
	ended   bool
	crnl    int // the first line ends with \r\n (1) or \n (-1); 0 before it
	// records waiting for a datanode to read their distribution value
	slow     [][]byte
	slowVals [][]byte
	slowLine []int
	scratch  *pooler.Conn
}

func (r *copyRouter) run(w server.ResultWriter) error {
	var pending []byte
	binHeader := false
	for {
		data, err := w.ReceiveCopyData()
		final := false
		if errors.Is(err, io.EOF) {
			final = true
		} else if err != nil {
			r.release()
			return err
		}
		if !r.ended {
			pending = append(pending, data...)
			if r.f.kind == 'b' && !binHeader {
				n := binaryHeaderLen(pending)
				if n < 0 {
					r.release()
					return pgerr.New(pgerr.BadCopyFileFormat, "COPY file signature not recognized")
				}
				if n > 0 {
					for _, tg := range r.targets {
						tg.buf.Write(pending[:n]) // a bytes.Buffer: no error
					}
					pending = append([]byte{}, pending[n:]...)
					binHeader = true
				}
			}
			if r.f.kind != 'b' || binHeader {
				consumed, err := r.records(pending, final)
				if err != nil {
					r.release()
					return err
				}
				pending = append(pending[:0], pending[consumed:]...)
			}
		}
		if final {
			break
		}
	}
	if err := r.flushSlow(); err != nil {
		r.release()
		return err
	}
	r.release()
	if r.f.kind == 'b' {
		if !binHeader {
			return pgerr.New(pgerr.BadCopyFileFormat, "COPY file signature not recognized")
		}
		for _, tg := range r.targets {
			tg.buf.Write([]byte{0xff, 0xff})
		}
	}
	return nil
}

func (r *copyRouter) release() {
	if r.scratch != nil {
		r.s.co.Pool.Put(r.scratch)
		r.scratch = nil
	}
}

// records routes the complete records of buf and returns the bytes used.
func (r *copyRouter) records(buf []byte, final bool) (int, error) {
	used := 0
	for used < len(buf) && !r.ended {
		n, end := r.f.nextRecord(buf[used:], final)
		if n == 0 {
			break
		}
		rec := buf[used : used+n]
		used += n
		if r.crnl == 0 && r.f.kind != 'b' {
			r.crnl = -1
			if bytes.HasSuffix(rec, []byte("\r\n")) {
				r.crnl = 1
			}
		}
		if end {
			r.ended = true
			if r.f.kind != 't' {
				break
			}
			// In text, the marker may follow the last row's data.
			data, err := textEnd(rec, r.crnl == 1)
			if err != nil {
				return used, err
			}
			if len(data) == 0 {
				break
			}
			lineEnd := "\n"
			if r.crnl == 1 {
				lineEnd = "\r\n"
			}
			rec = append(data[:len(data):len(data)], lineEnd...)
		}
		r.line++
		if r.f.header && !r.header && r.f.kind != 'b' {
			r.header = true
			continue
		}
		if err := r.route(rec); err != nil {
			return used, err
		}
	}
	if final && !r.ended && used < len(buf) && r.f.kind == 'b' {
		return used, pgerr.New(pgerr.BadCopyFileFormat, "unexpected EOF in COPY data")
	}
	return used, nil
}

func (r *copyRouter) send(i int, rec []byte, line int) error {
	tg := r.targets[i]
	tg.lines = append(tg.lines, line)
	tg.buf.Write(rec)
	if r.f.kind != 'b' && (len(rec) == 0 || rec[len(rec)-1] != '\n') {
		tg.buf.WriteByte('\n')
	}
	return nil
}

func (r *copyRouter) route(rec []byte) error {
	if r.t == nil {
		return r.send(0, rec, r.line)
	}
	switch r.t.Locator.Kind {
	case distribution.Replication:
		for i := range r.targets {
			r.send(i, rec, r.line)
		}
		return nil
	case distribution.RoundRobin:
		return r.send(int(copyRoundRobin.Add(1)%uint64(len(r.targets))), rec, r.line)
	}
	val, isNull, ok := r.f.field(rec, r.distIdx)
	if !ok {
		// A short row: the datanode reports it as PostgreSQL would.
		return r.send(0, rec, r.line)
	}
	col := r.t.Columns[r.t.DistCol]
	var canon []byte
	if !isNull {
		if r.f.kind == 'b' {
			var err error
			if canon, err = distribution.CanonicalBinary(col.TypName, val); err != nil || strings.Contains(col.Type, "(") {
				return r.send(0, rec, r.line)
			}
		} else {
			var good bool
			canon, good = distribution.CanonicalText(col.TypName, string(val))
			if !good || strings.Contains(col.Type, "(") {
				r.slow = append(r.slow, append([]byte{}, rec...))
				r.slowVals = append(r.slowVals, append([]byte{}, val...))
				r.slowLine = append(r.slowLine, r.line)
				if len(r.slow) >= 1000 {
					return r.flushSlow()
				}
				return nil
			}
		}
	}
	i, err := r.t.Locator.NodeForCanonical(canon)
	if err != nil {
		if errors.Is(err, distribution.ErrBucketMoving) {
			// The stream cannot be read again: the client retries.
			return pgerr.New(pgerr.SerializationFailure, "COPY into %s: %v", r.t.QualifiedName(), err)
		}
		return err
	}
	return r.send(i, rec, r.line)
}

// flushSlow has a datanode read the distribution values PostgreSQL alone
// can read (with the session's settings), then routes those records.
func (r *copyRouter) flushSlow() error {
	if len(r.slow) == 0 {
		return nil
	}
	col := r.t.Columns[r.t.DistCol]
	if r.scratch == nil {
		c, err := r.s.scratchConn(r.ctx)
		if err != nil {
			return err
		}
		r.scratch = c
	}
	sql := fmt.Sprintf("SELECT x::%s FROM unnest($1::text[]) WITH ORDINALITY AS u(x, i) ORDER BY i", col.Type)
	rr := r.scratch.ExecParams(r.ctx, sql, [][]byte{[]byte(planner.ArrayLiteral(r.slowVals))}, nil, nil, []int16{1})
	var bins [][]byte
	for rr.NextRow() {
		bins = append(bins, append([]byte(nil), rr.Values()[0]...))
	}
	if _, err := rr.Close(); err != nil {
		// A value the column cannot read: the rows go to one datanode, which
		// reports the bad one as PostgreSQL would.
		bins = nil
	}
	for j, rec := range r.slow {
		target := 0
		if j < len(bins) {
			canon, err := distribution.CanonicalBinary(col.TypName, bins[j])
			if err == nil {
				i, err := r.t.Locator.NodeForCanonical(canon)
				if errors.Is(err, distribution.ErrBucketMoving) {
					return pgerr.New(pgerr.SerializationFailure, "COPY into %s: %v", r.t.QualifiedName(), err)
				}
				if err == nil {
					target = i
				}
			}
		}
		r.send(target, rec, r.slowLine[j])
	}
	r.slow, r.slowVals, r.slowLine = nil, nil, nil
	return nil
}

// scratchConn is a pooled backend outside the session's transaction with
// the session's settings, for reading values.
func (s *session) scratchConn(ctx context.Context) (*pooler.Conn, error) {
	dn, ok := s.co.preferredDatanode()
	if !ok {
		return nil, pgerr.New(pgerr.UndefinedObject, "no datanode is defined")
	}
	return s.acquire(ctx, dn.Name)
}

// copyOut runs COPY ... TO STDOUT: each datanode's COPY output, one after
// the other, or the rows of a query the coordinator completes.
func (s *session) copyOut(ctx context.Context, env *planner.Env, cs *pg_query.CopyStmt, f *copyFormat, w server.ResultWriter) error {
	var plan planner.Plan
	ncols := 0
	if cs.Query != nil {
		if cs.Query.GetSelectStmt() == nil {
			return planner.Unsupported("COPY (INSERT/UPDATE/DELETE ... RETURNING) TO")
		}
		var err error
		if plan, err = planner.PlanStatement(env, cs.Query); err != nil {
			return err
		}
		if n, err := s.countColumns(ctx, env, cs.Query); err == nil {
			ncols = n
		}
	} else {
		t, view := env.Rel.Resolve(cs.Relation.Schemaname, cs.Relation.Relname, env.SearchPath)
		if view {
			return planner.Unsupported("COPY from a view over distributed tables")
		}
		if t != nil && t.Locator.Rewriting {
			return &distribution.MovingError{Bucket: -1}
		}
		nodes := []string{env.Preferred(env.Datanodes())}
		ncols = len(cs.Attlist)
		if t != nil {
			if t.Locator.Kind == distribution.Replication {
				nodes = []string{env.Preferred(t.Locator.Nodes)}
			} else {
				nodes = t.Locator.Nodes
			}
			if ncols == 0 {
				ncols = len(t.Columns)
			}
		}
		rq := &planner.RemoteQuery{Nodes: nodes, SQL: map[string]string{}}
		plan = rq
	}
	format := byte(0)
	colFormats := make([]uint16, ncols)
	if f.kind == 'b' {
		format = 1
		for i := range colFormats {
			colFormats[i] = 1
		}
	}
	var total int64
	err := s.autocommit(ctx, func() error {
		rq, ok := plan.(*planner.RemoteQuery)
		if !ok {
			return s.copyOutRows(ctx, plan, f, format, colFormats, w, &total)
		}
		if err := w.CopyOutResponse(format, colFormats); err != nil {
			return err
		}
		for i, node := range rq.Nodes {
			c := proto.Clone(cs).(*pg_query.CopyStmt)
			if cs.Query != nil {
				q, err := parseSQL(rq.SQL[node])
				if err != nil {
					return err
				}
				c.Query = q
			}
			var sql string
			var err error
			if i == 0 {
				sql, err = planner.DeparseNode(&pg_query.Node{Node: &pg_query.Node_CopyStmt{CopyStmt: c}})
			} else {
				sql, err = withoutHeader(c)
			}
			if err != nil {
				return err
			}
			conn, err := s.Conn(ctx, node, false)
			if err != nil {
				return err
			}
			bw := &binaryJoin{w: w, skipHeader: f.kind == 'b' && i > 0, dropTrailer: f.kind == 'b' && i < len(rq.Nodes)-1}
			tag, err := conn.CopyTo(ctx, bw, sql)
			if err != nil {
				return executor.NodeError(node, err)
			}
			if err := bw.finish(); err != nil {
				return err
			}
			n, _ := strconv.ParseInt(strings.TrimPrefix(tag.String(), "COPY "), 10, 64)
			total += n
		}
		return w.CopyDone()
	})
	if err != nil {
		return err
	}
	return w.CommandComplete(fmt.Sprintf("COPY %d", total))
}

// countColumns is the number of columns a query returns.
func (s *session) countColumns(ctx context.Context, env *planner.Env, q *pg_query.Node) (int, error) {
	sql, err := planner.DescribeSQL(env, q)
	if err != nil {
		return 0, err
	}
	dn, ok := s.co.preferredDatanode()
	if !ok {
		return 0, pgerr.New(pgerr.UndefinedObject, "no datanode is defined")
	}
	c, err := s.Conn(ctx, dn.Name, false)
	if err != nil {
		return 0, err
	}
	sd, err := c.Prepare(ctx, "", sql, nil)
	if err != nil {
		return 0, executor.NodeError(dn.Name, err)
	}
	return len(sd.Fields), nil
}

// copyOutRows formats rows the coordinator computed as COPY text or CSV.
func (s *session) copyOutRows(ctx context.Context, plan planner.Plan, f *copyFormat, format byte, colFormats []uint16, w server.ResultWriter, total *int64) error {
	if f.kind == 'b' {
		return planner.Unsupported("COPY (query) TO STDOUT in binary format for a query that combines rows of several datanodes")
	}
	rows := &rowFormatter{w: w, f: f}
	if err := w.CopyOutResponse(format, colFormats); err != nil {
		return err
	}
	if _, err := executor.Run(ctx, plan, s, rows); err != nil {
		return err
	}
	*total = rows.n
	return w.CopyDone()
}

// rowFormatter writes rows as COPY text or CSV data.
type rowFormatter struct {
	w      server.ResultWriter
	f      *copyFormat
	n      int64
	names  []string
	headed bool
}

func (r *rowFormatter) RowDescription(fields []pgproto3.FieldDescription) error {
	r.names = nil
	for _, f := range fields {
		r.names = append(r.names, string(f.Name))
	}
	return nil
}

func (r *rowFormatter) DataRow(values [][]byte) error {
	if r.f.header && !r.headed {
		r.headed = true
		var line []byte
		for i, n := range r.names {
			if i > 0 {
				line = append(line, r.f.delimiter)
			}
			if r.f.kind == 'c' {
				line = appendCSVField(line, []byte(n), r.f)
			} else {
				line = appendTextField(line, []byte(n), r.f)
			}
		}
		if err := r.w.CopyData(append(line, '\n')); err != nil {
			return err
		}
	}
	var line []byte
	for i, v := range values {
		if i > 0 {
			line = append(line, r.f.delimiter)
		}
		if r.f.kind == 'c' {
			line = appendCSVField(line, v, r.f)
		} else {
			line = appendTextField(line, v, r.f)
		}
	}
	r.n++
	return r.w.CopyData(append(line, '\n'))
}

// binaryJoin passes a datanode's COPY data on, leaving out the binary
// header of all but the first node and the trailer of all but the last.
type binaryJoin struct {
	w           server.ResultWriter
	skipHeader  bool
	dropTrailer bool
	head        []byte
	held        []byte
}

func (b *binaryJoin) Write(p []byte) (int, error) {
	n := len(p)
	if b.skipHeader {
		b.head = append(b.head, p...)
		h := binaryHeaderLen(b.head)
		if h == 0 {
			return n, nil
		}
		if h < 0 {
			h = 0
		}
		p = b.head[h:]
		b.skipHeader = false
	}
	if !b.dropTrailer {
		if len(p) == 0 {
			return n, nil
		}
		return n, b.w.CopyData(append([]byte{}, p...))
	}
	// Hold the last two bytes back: they may be the trailer.
	all := append(b.held, p...)
	if len(all) <= 2 {
		b.held = all
		return n, nil
	}
	b.held = append([]byte{}, all[len(all)-2:]...)
	return n, b.w.CopyData(all[:len(all)-2])
}

func (b *binaryJoin) finish() error {
	if !b.dropTrailer && len(b.held) > 0 {
		return b.w.CopyData(b.held)
	}
	return nil
}
