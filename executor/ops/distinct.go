package ops

import "context"

// NewDistinct passes the first row of each distinct combination of the
// binary columns cols, in input order; NULLs are equal to each other. Over
// input sorted by cols and then other keys it is DISTINCT ON. It keeps the
// keys seen, at most maxBytes of them (<= 0: no limit).
func NewDistinct(input Op, cols []int, maxBytes int64) Op {
	return &distinct{in: newInputs(input), cols: cols, max: maxBytes}
}

type distinct struct {
	in   inputs
	cols []int
	max  int64
	keys keyCols
	seen map[string]struct{}
	b    budget
}

// mapEntryOverhead approximates what a map entry costs beyond its key's
// bytes.
const mapEntryOverhead = 48

func (d *distinct) Open(ctx context.Context) error {
	if err := d.in.openAll(ctx); err != nil {
		return err
	}
	var err error
	if d.keys, err = newKeyCols(d.in.ops[0].Fields(), d.cols); err != nil {
		return d.in.fail(err)
	}
	d.seen, d.b = map[string]struct{}{}, budget{max: d.max}
	return nil
}

func (d *distinct) Fields() []Field { return d.in.ops[0].Fields() }
func (d *distinct) Close() error    { return d.in.closeAll() }

func (d *distinct) Next(ctx context.Context) (Row, error) {
	var t ticker
	for {
		r, err := d.in.ops[0].Next(ctx)
		if r == nil || err != nil {
			return r, err
		}
		if err := d.keys.check(r); err != nil {
			return nil, err
		}
		k, _ := d.keys.hashKey(r)
		if _, ok := d.seen[k]; !ok {
			if err := d.b.add(int64(len(k) + mapEntryOverhead)); err != nil {
				return nil, err
			}
			d.seen[k] = struct{}{}
			return r, nil
		}
		if err := t.check(ctx); err != nil {
			return nil, err
		}
	}
}
