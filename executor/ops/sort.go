package ops

import (
	"container/heap"
	"context"
	"fmt"
	"slices"
)

// NewMergeSort merges inputs each ordered by keys into one ordered stream.
// Rows that tie come in input order: the lower input's first, and an
// input's in the order it gives them. An input found out of order is an
// error, not a wrong result. The rows have the first input's fields.
func NewMergeSort(inputs []Op, keys []SortKey) Op {
	return &mergeSort{in: newInputs(inputs...), keys: keys}
}

type mergeSort struct {
	in     inputs
	keys   []SortKey
	h      mergeHeap
	primed bool
}

// mergeHeap holds the current row of each input not yet exhausted.
type mergeHeap struct {
	ord   ordering
	heads []mergeHead
}

type mergeHead struct {
	row   Row
	input int
}

func (h *mergeHeap) Len() int      { return len(h.heads) }
func (h *mergeHeap) Swap(i, j int) { h.heads[i], h.heads[j] = h.heads[j], h.heads[i] }
func (h *mergeHeap) Push(x any)    { h.heads = append(h.heads, x.(mergeHead)) }
func (h *mergeHeap) Pop() any {
	x := h.heads[len(h.heads)-1]
	h.heads = h.heads[:len(h.heads)-1]
	return x
}

func (h *mergeHeap) Less(i, j int) bool {
	a, b := h.heads[i], h.heads[j]
	if c := h.ord.compare(a.row, b.row); c != 0 {
		return c < 0
	}
	return a.input < b.input
}

func (m *mergeSort) Open(ctx context.Context) error {
	if len(m.in.ops) == 0 {
		return fmt.Errorf("ops: merge of no inputs")
	}
	if err := m.in.openAll(ctx); err != nil {
		return err
	}
	fields := m.in.ops[0].Fields()
	ord, err := newOrdering(fields, m.keys)
	if err != nil {
		return m.in.fail(err)
	}
	for i, op := range m.in.ops[1:] {
		if err := sameColumns(fields, op.Fields()); err != nil {
			return m.in.fail(fmt.Errorf("ops: merge input %d: %w", i+1, err))
		}
	}
	m.h = mergeHeap{ord: ord}
	m.primed = false
	return nil
}

// sameColumns checks that rows described by b can be read as rows
// described by a.
func sameColumns(a, b []Field) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d columns, expected %d", len(b), len(a))
	}
	for i := range a {
		if a[i].DataTypeOID != b[i].DataTypeOID || a[i].Format != b[i].Format {
			return fmt.Errorf("column %d is of type %d format %d, expected type %d format %d",
				i, b[i].DataTypeOID, b[i].Format, a[i].DataTypeOID, a[i].Format)
		}
	}
	return nil
}

func (m *mergeSort) Fields() []Field { return m.in.ops[0].Fields() }
func (m *mergeSort) Close() error    { return m.in.closeAll() }

// pull reads the next row of input i, or closes the input at its end.
func (m *mergeSort) pull(ctx context.Context, i int) (Row, error) {
	r, err := m.in.ops[i].Next(ctx)
	switch {
	case err != nil:
		return nil, err
	case r == nil:
		return nil, m.in.close(i)
	}
	return r, m.h.ord.check(r)
}

func (m *mergeSort) Next(ctx context.Context) (Row, error) {
	if !m.primed {
		m.primed = true
		for i := range m.in.ops {
			r, err := m.pull(ctx, i)
			if err != nil {
				return nil, err
			}
			if r != nil {
				m.h.heads = append(m.h.heads, mergeHead{r, i})
			}
		}
		heap.Init(&m.h)
	}
	if len(m.h.heads) == 0 {
		return nil, nil
	}
	top := m.h.heads[0]
	r, err := m.pull(ctx, top.input)
	switch {
	case err != nil:
		return nil, err
	case r == nil:
		heap.Pop(&m.h)
	case m.h.ord.compare(r, top.row) < 0:
		return nil, fmt.Errorf("ops: merge input %d is not in order", top.input)
	default:
		m.h.heads[0].row = r
		heap.Fix(&m.h, 0)
	}
	return top.row, nil
}

// NewSort reads its input whole and sorts it by keys, stably. It keeps at
// most maxBytes of rows (<= 0: no limit).
func NewSort(input Op, keys []SortKey, maxBytes int64) Op {
	return &sortOp{in: newInputs(input), keys: keys, max: maxBytes}
}

type sortOp struct {
	in   inputs
	keys []SortKey
	max  int64
	ord  ordering
	rows []Row // nil until sorted
	next int
}

func (s *sortOp) Open(ctx context.Context) error {
	if err := s.in.openAll(ctx); err != nil {
		return err
	}
	var err error
	if s.ord, err = newOrdering(s.in.ops[0].Fields(), s.keys); err != nil {
		return s.in.fail(err)
	}
	s.rows, s.next = nil, 0
	return nil
}

func (s *sortOp) Fields() []Field { return s.in.ops[0].Fields() }
func (s *sortOp) Close() error    { return s.in.closeAll() }

func (s *sortOp) Next(ctx context.Context) (Row, error) {
	if s.rows == nil {
		rows, err := readAll(ctx, &s.in, 0, &budget{max: s.max}, s.ord.check)
		if err != nil {
			return nil, err
		}
		slices.SortStableFunc(rows, s.ord.compare)
		s.rows = rows
	}
	if s.next == len(s.rows) {
		return nil, nil
	}
	r := s.rows[s.next]
	s.rows[s.next] = nil // the caller may keep it; we need not
	s.next++
	return r, nil
}

// readAll reads input i to its end, counting the rows' bytes against b
// and checking each with check (if set), then closes the input. The
// result is not nil.
func readAll(ctx context.Context, in *inputs, i int, b *budget, check func(Row) error) ([]Row, error) {
	rows := []Row{}
	var t ticker
	for {
		r, err := in.ops[i].Next(ctx)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return rows, in.close(i)
		}
		if check != nil {
			if err := check(r); err != nil {
				return nil, err
			}
		}
		if err := b.add(rowBytes(r)); err != nil {
			return nil, err
		}
		if err := t.check(ctx); err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
}
