package ops

import (
	"context"
	"errors"
	"fmt"
)

// NewValues is a stream of the given rows.
func NewValues(fields []Field, rows []Row) Op { return &values{fields: fields, rows: rows} }

type values struct {
	fields []Field
	rows   []Row
	next   int
}

func (v *values) Open(context.Context) error { v.next = 0; return nil }
func (v *values) Fields() []Field            { return v.fields }
func (v *values) Close() error               { return nil }

func (v *values) Next(context.Context) (Row, error) {
	if v.next == len(v.rows) {
		return nil, nil
	}
	v.next++
	return v.rows[v.next-1], nil
}

// NewConcat is the rows of the inputs one after another. The inputs are
// all opened at once (so that remote ones start together) and each is
// closed once read. Their rows must have the columns of the first.
func NewConcat(inputs ...Op) Op { return &concat{in: newInputs(inputs...)} }

type concat struct {
	in  inputs
	cur int
}

func (c *concat) Open(ctx context.Context) error {
	if len(c.in.ops) == 0 {
		return fmt.Errorf("ops: concat of no inputs")
	}
	if err := c.in.openAll(ctx); err != nil {
		return err
	}
	c.cur = 0
	n := len(c.in.ops[0].Fields())
	for i, op := range c.in.ops[1:] {
		if len(op.Fields()) != n {
			return c.in.fail(fmt.Errorf("ops: concat input %d has %d columns, the first %d", i+1, len(op.Fields()), n))
		}
	}
	return nil
}

func (c *concat) Fields() []Field { return c.in.ops[0].Fields() }
func (c *concat) Close() error    { return c.in.closeAll() }

func (c *concat) Next(ctx context.Context) (Row, error) {
	for ; c.cur < len(c.in.ops); c.cur++ {
		r, err := c.in.ops[c.cur].Next(ctx)
		if r != nil || err != nil {
			return r, err
		}
		if err := c.in.close(c.cur); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// NewLimit skips offset rows, then passes count rows (all when count < 0).
// It closes its input as soon as it has passed them.
func NewLimit(input Op, offset, count int64) Op {
	return &limit{in: newInputs(input), offset: max(offset, 0), count: count}
}

type limit struct {
	in            inputs
	offset, count int64
	skipped, done int64
	closeErr      error // of the early Close, given with the end
}

func (l *limit) Open(ctx context.Context) error {
	l.skipped, l.done, l.closeErr = 0, 0, nil
	return l.in.openAll(ctx)
}

func (l *limit) Fields() []Field { return l.in.ops[0].Fields() }
func (l *limit) Close() error    { return l.in.closeAll() }

func (l *limit) Next(ctx context.Context) (Row, error) {
	if l.count >= 0 && l.done >= l.count {
		err := errors.Join(l.closeErr, l.in.close(0))
		l.closeErr = nil
		return nil, err
	}
	var t ticker
	for {
		r, err := l.in.ops[0].Next(ctx)
		if r == nil || err != nil {
			return r, err
		}
		if l.skipped < l.offset {
			l.skipped++
			if err := t.check(ctx); err != nil {
				return nil, err
			}
			continue
		}
		if l.done++; l.done == l.count {
			l.closeErr = l.in.close(0)
		}
		return r, nil
	}
}

// NewProject gives rows whose column i is the input's column cols[i].
func NewProject(input Op, cols []int) Op { return &project{in: newInputs(input), cols: cols} }

type project struct {
	in     inputs
	cols   []int
	width  int
	fields []Field
}

func (p *project) Open(ctx context.Context) error {
	if err := p.in.openAll(ctx); err != nil {
		return err
	}
	in := p.in.ops[0].Fields()
	p.width = len(in)
	p.fields = make([]Field, len(p.cols))
	for i, c := range p.cols {
		if c < 0 || c >= len(in) {
			return p.in.fail(fmt.Errorf("ops: projected column %d out of range (%d columns)", c, len(in)))
		}
		p.fields[i] = in[c]
	}
	return nil
}

func (p *project) Fields() []Field { return p.fields }
func (p *project) Close() error    { return p.in.closeAll() }

func (p *project) Next(ctx context.Context) (Row, error) {
	r, err := p.in.ops[0].Next(ctx)
	if r == nil || err != nil {
		return r, err
	}
	if len(r) != p.width {
		return nil, fmt.Errorf("ops: row of %d columns, expected %d", len(r), p.width)
	}
	out := make(Row, len(p.cols))
	for i, c := range p.cols {
		out[i] = r[c]
	}
	return out, nil
}

// NewFilter passes the rows for which pred is true.
func NewFilter(input Op, pred func(Row) (bool, error)) Op {
	return &filter{in: newInputs(input), pred: pred}
}

type filter struct {
	in   inputs
	pred func(Row) (bool, error)
}

func (f *filter) Open(ctx context.Context) error { return f.in.openAll(ctx) }
func (f *filter) Fields() []Field                { return f.in.ops[0].Fields() }
func (f *filter) Close() error                   { return f.in.closeAll() }

func (f *filter) Next(ctx context.Context) (Row, error) {
	var t ticker
	for {
		r, err := f.in.ops[0].Next(ctx)
		if r == nil || err != nil {
			return r, err
		}
		switch ok, err := f.pred(r); {
		case err != nil:
			return nil, err
		case ok:
			return r, nil
		}
		if err := t.check(ctx); err != nil {
			return nil, err
		}
	}
}
