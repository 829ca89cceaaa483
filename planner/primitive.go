package planner

import (
	"fmt"

	"github.com/xlgo/xlgo/executor/ops"
)

// Each coordinator primitive is defined once, here and in tree.go: its plan
// node (data, with its EXPLAIN) and the operator of executor/ops it runs as.
// The executor gives the operators of the remote scans and the memory
// budget (OpBuilder), and nothing else decides how a primitive runs.

// OpBuilder gives what a primitive's operator needs that the plan does not
// hold: the operators reading a remote scan on each of its nodes, and the
// memory budget of the coordinator's own work on one statement.
type OpBuilder interface {
	Scans(r *RemoteScan) []ops.Op
	MaxBytes() int64
}

// Primitive is a plan node that runs at the coordinator as an operator.
type Primitive interface {
	Plan
	// Op makes the primitive's operator over the operators of its inputs.
	Op(b OpBuilder) (ops.Op, error)
}

// BuildOp makes the operator tree of a plan of primitives.
func BuildOp(b OpBuilder, p Plan) (ops.Op, error) {
	prim, ok := p.(Primitive)
	if !ok {
		return nil, fmt.Errorf("planner: %T is not a coordinator primitive", p)
	}
	return prim.Op(b)
}

// Op implements Primitive: the nodes' streams one after the other.
func (r *RemoteScan) Op(b OpBuilder) (ops.Op, error) { return ops.NewConcat(b.Scans(r)...), nil }

// Op implements Primitive.
func (m *MergeSort) Op(b OpBuilder) (ops.Op, error) {
	return ops.NewMergeSort(b.Scans(m.Input), opKeys(m.Keys)), nil
}

// Op implements Primitive.
func (s *Sort) Op(b OpBuilder) (ops.Op, error) {
	in, err := BuildOp(b, s.Input)
	if err != nil {
		return nil, err
	}
	return ops.NewSort(in, opKeys(s.Keys), b.MaxBytes()), nil
}

// Op implements Primitive.
func (l *Limit) Op(b OpBuilder) (ops.Op, error) {
	in, err := BuildOp(b, l.Input)
	if err != nil {
		return nil, err
	}
	return ops.NewLimit(in, l.Offset, l.Count), nil
}

// Op implements Primitive.
func (p *Project) Op(b OpBuilder) (ops.Op, error) {
	in, err := BuildOp(b, p.Input)
	if err != nil {
		return nil, err
	}
	return ops.NewProject(in, p.Cols), nil
}

// Op implements Primitive.
func (d *Distinct) Op(b OpBuilder) (ops.Op, error) {
	in, err := BuildOp(b, d.Input)
	if err != nil {
		return nil, err
	}
	return ops.NewDistinct(in, d.Cols, b.MaxBytes()), nil
}

// Op implements Primitive.
func (h *HashJoin) Op(b OpBuilder) (ops.Op, error) {
	l, r, err := buildTwo(b, h.Left, h.Right)
	if err != nil {
		return nil, err
	}
	return ops.NewHashJoin(l, r, h.Kind, h.LeftKeys, h.RightKeys, b.MaxBytes()), nil
}

// Op implements Primitive.
func (n *NestedLoop) Op(b OpBuilder) (ops.Op, error) {
	l, r, err := buildTwo(b, n.Left, n.Right)
	if err != nil {
		return nil, err
	}
	return ops.NewNestedLoop(l, r, ops.JoinInner, nil, b.MaxBytes()), nil
}

// Op implements Primitive: every condition holds.
func (f *Filter) Op(b OpBuilder) (ops.Op, error) {
	in, err := BuildOp(b, f.Input)
	if err != nil {
		return nil, err
	}
	var preds []func(ops.Row) (bool, error)
	for _, c := range f.Conds {
		pred, err := ops.NumericCond(c.Col, c.Op, c.Value)
		if err != nil {
			return nil, err
		}
		preds = append(preds, pred)
	}
	return ops.NewFilter(in, func(r ops.Row) (bool, error) {
		for _, pred := range preds {
			if ok, err := pred(r); !ok || err != nil {
				return false, err
			}
		}
		return true, nil
	}), nil
}

// Op implements Primitive.
func (w *WindowAgg) Op(b OpBuilder) (ops.Op, error) {
	in, err := BuildOp(b, w.Input)
	if err != nil {
		return nil, err
	}
	return ops.NewWindow(in, w.Partition, opKeys(w.Order), w.Funcs), nil
}

// Op implements Primitive.
func (a *FinalAgg) Op(b OpBuilder) (ops.Op, error) {
	in, err := BuildOp(b, a.Input)
	if err != nil {
		return nil, err
	}
	return ops.NewAgg(in, a.GroupKeys, a.GroupOut, a.Aggs, b.MaxBytes()), nil
}

// buildTwo builds the two inputs of a join.
func buildTwo(b OpBuilder, left, right Plan) (ops.Op, ops.Op, error) {
	l, err := BuildOp(b, left)
	if err != nil {
		return nil, nil, err
	}
	r, err := BuildOp(b, right)
	if err != nil {
		return nil, nil, err
	}
	return l, r, nil
}
