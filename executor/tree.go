package executor

import (
	"context"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/executor/ops"
	"github.com/xlgo/xlgo/planner"
)

// Plans of coordinator primitives run as a tree of ops over the streams of
// their remote scans. Every scan is opened inside the read gate (each node
// has answered, so has taken its snapshot, before the gate is left); the
// rows are streamed after.

// nodeScan is one datanode's part of a RemoteScan.
type nodeScan struct {
	t       *tree
	label   string // what the scan reads, for EXPLAIN ANALYZE
	node    string
	sql     string
	formats []int16
	params  [][]byte
	oids    []uint32
	rr      *pgconn.ResultReader
	fields  []ops.Field
	rows    int64
	// buf holds the rows read ahead when another scan needed the node's
	// connection (a session has one per datanode).
	buf      []ops.Row
	buffered bool
}

// yield reads the rest of the scan's rows into memory, freeing the
// connection for another statement.
func (s *nodeScan) yield(ctx context.Context) error {
	var bytes int64
	for s.rr != nil {
		row, err := s.read()
		if err != nil {
			return err
		}
		if row == nil {
			break
		}
		for _, v := range row {
			bytes += int64(len(v))
		}
		if MaxGatherBytes > 0 && bytes > MaxGatherBytes {
			return ops.GatherLimit(MaxGatherBytes)
		}
		s.buf = append(s.buf, row)
	}
	s.buffered = true
	return nil
}

func (s *nodeScan) Open(ctx context.Context) error {
	if prev := s.t.active[s.node]; prev != nil && prev != s && prev.rr != nil {
		if err := prev.yield(ctx); err != nil {
			return err
		}
	}
	s.t.active[s.node] = s
	c, err := s.t.b.Conn(ctx, s.node, false)
	if err != nil {
		return err
	}
	// The statement's cancel reaches the datanode as a CancelRequest; the
	// connection itself outlives the context, but not the statement's guard.
	s.rr = c.ExecParams(readContext(ctx), s.sql, s.params, s.oids, nil, s.formats)
	s.t.b.Sent(c)
	fds := s.rr.FieldDescriptions()
	if fds == nil {
		// An error (or no row description): Close reports it.
		_, err := s.rr.Close()
		s.rr = nil
		if err != nil {
			return NodeError(s.node, err)
		}
		return fmt.Errorf("datanode %s returned no rows description", s.node)
	}
	s.fields = fieldsOf(fds)
	return nil
}

func (s *nodeScan) Fields() []ops.Field { return s.fields }

func (s *nodeScan) Next(ctx context.Context) (ops.Row, error) {
	if s.buffered {
		if len(s.buf) == 0 {
			return nil, nil
		}
		row := s.buf[0]
		s.buf = s.buf[1:]
		return row, nil
	}
	return s.read()
}

// read returns the next row from the connection, nil at the end.
func (s *nodeScan) read() (ops.Row, error) {
	if s.rr == nil {
		return nil, nil
	}
	if s.rr.NextRow() {
		vals := s.rr.Values()
		row := make(ops.Row, len(vals))
		for i, v := range vals {
			if v != nil {
				row[i] = append(make([]byte, 0, len(v)), v...)
			}
		}
		s.rows++
		return row, nil
	}
	_, err := s.rr.Close()
	s.rr = nil
	if err != nil {
		return nil, NodeError(s.node, err)
	}
	return nil, nil
}

func (s *nodeScan) Close() error {
	s.buf = nil
	if s.rr == nil {
		return nil
	}
	_, err := s.rr.Close()
	s.rr = nil
	if err != nil {
		return NodeError(s.node, err)
	}
	return nil
}

// tree builds the ops of a plan.
type tree struct {
	b      Backends
	scans  []*nodeScan
	nodes  map[string]bool
	active map[string]*nodeScan // the scan reading each node's connection
	max    int64
	bd     *binding // the parameters every scan is sent, when set
}

// Scans implements planner.OpBuilder: an operator reading the scan on each
// of its nodes.
func (t *tree) Scans(r *planner.RemoteScan) []ops.Op {
	var out []ops.Op
	for _, n := range r.Nodes {
		params, oids := r.Params, r.ParamOIDs
		if t.bd != nil {
			params, oids = t.bd.forNode(n)
		}
		s := &nodeScan{t: t, label: r.Label, node: n, sql: r.SQL[n], formats: r.Formats, params: params, oids: oids}
		t.scans = append(t.scans, s)
		t.nodes[n] = true
		out = append(out, s)
	}
	return out
}

// MaxBytes implements planner.OpBuilder.
func (t *tree) MaxBytes() int64 { return t.max }

// openTree builds a plan's ops and opens them inside the read gate.
func openTree(ctx context.Context, p planner.Plan, b Backends, bd *binding) (ops.Op, *tree, error) {
	t := &tree{b: b, nodes: map[string]bool{}, active: map[string]*nodeScan{}, max: MaxGatherBytes, bd: bd}
	op, err := planner.BuildOp(t, p)
	if err != nil {
		return nil, nil, err
	}
	release := func() {}
	if len(t.nodes) > 1 {
		nodes := make([]string, 0, len(t.nodes))
		for n := range t.nodes {
			nodes = append(nodes, n)
		}
		sort.Strings(nodes)
		if release, err = b.ReadGate(ctx, nodes); err != nil {
			return nil, nil, err
		}
	}
	err = op.Open(ctx)
	release()
	if err != nil {
		op.Close()
		return nil, nil, err
	}
	return op, t, nil
}

// runTree runs a plan of primitives and streams its rows to sink.
func runTree(ctx context.Context, p planner.Plan, b Backends, sink Sink, bd *binding) (string, error) {
	op, _, err := openTree(ctx, p, b, bd)
	if err != nil {
		return "", err
	}
	if sink != nil {
		if err := sink.RowDescription(op.Fields()); err != nil {
			op.Close()
			return "", err
		}
	}
	n := 0
	for {
		row, err := op.Next(ctx)
		if err == nil {
			// A cancel or timeout while an operator worked without looking.
			err = ctx.Err()
		}
		if err != nil {
			op.Close()
			return "", err
		}
		if row == nil {
			break
		}
		n++
		if sink != nil {
			if err := sink.DataRow(row); err != nil {
				op.Close()
				return "", err
			}
		}
	}
	if err := op.Close(); err != nil {
		return "", err
	}
	return fmt.Sprintf("SELECT %d", n), nil
}
