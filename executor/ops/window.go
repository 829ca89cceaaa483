package ops

import (
	"context"
	"fmt"
	"strconv"
)

// WinKind is a ranking window function.
type WinKind int

const (
	WinRowNumber WinKind = iota
	WinRank
	WinDenseRank
)

// WindowSpec is one window function of NewWindow.
type WindowSpec struct {
	Kind WinKind
	// Name names the output column.
	Name string
}

// NewWindow computes ranking functions over input sorted by the binary
// columns partition, then by order: it appends to each row one text int8
// column per function. Rows are peers when equal on every order key;
// NULLs are equal to each other, in partitions as in peers.
func NewWindow(input Op, partition []int, order []SortKey, funcs []WindowSpec) Op {
	return &window{in: newInputs(input), partition: partition, order: order, funcs: funcs}
}

type window struct {
	in        inputs
	partition []int
	order     []SortKey
	funcs     []WindowSpec

	part   keyCols
	ord    ordering
	fields []Field

	prev                   Row   // the previous row, nil at the start
	rowNumber, rank, dense int64 // the previous row's
}

func (w *window) Open(ctx context.Context) error {
	if err := w.in.openAll(ctx); err != nil {
		return err
	}
	if err := w.init(w.in.ops[0].Fields()); err != nil {
		return w.in.fail(err)
	}
	w.prev = nil
	return nil
}

func (w *window) init(in []Field) error {
	var err error
	if w.part, err = newKeyCols(in, w.partition); err != nil {
		return err
	}
	if w.ord, err = newOrdering(in, w.order); err != nil {
		return err
	}
	w.fields = append([]Field(nil), in...)
	for _, f := range w.funcs {
		if f.Kind < WinRowNumber || f.Kind > WinDenseRank {
			return fmt.Errorf("ops: window function %q: unknown kind %d", f.Name, f.Kind)
		}
		w.fields = append(w.fields, Field{Name: []byte(f.Name), DataTypeOID: oidInt8, DataTypeSize: 8, TypeModifier: -1})
	}
	return nil
}

func (w *window) Fields() []Field { return w.fields }
func (w *window) Close() error    { return w.in.closeAll() }

func (w *window) Next(ctx context.Context) (Row, error) {
	r, err := w.in.ops[0].Next(ctx)
	if r == nil || err != nil {
		return r, err
	}
	if err := w.part.check(r); err != nil {
		return nil, err
	}
	if err := w.ord.check(r); err != nil {
		return nil, err
	}
	switch {
	case w.prev == nil || !w.part.equal(w.prev, r):
		w.rowNumber, w.rank, w.dense = 1, 1, 1
	case w.ord.compare(w.prev, r) != 0:
		w.rowNumber++
		w.rank, w.dense = w.rowNumber, w.dense+1
	default: // a peer
		w.rowNumber++
	}
	w.prev = r
	out := make(Row, len(r), len(r)+len(w.funcs))
	copy(out, r)
	for _, f := range w.funcs {
		var n int64
		switch f.Kind {
		case WinRowNumber:
			n = w.rowNumber
		case WinRank:
			n = w.rank
		case WinDenseRank:
			n = w.dense
		}
		out = append(out, strconv.AppendInt(nil, n, 10))
	}
	return out, nil
}
