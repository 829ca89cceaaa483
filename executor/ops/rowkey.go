package ops

import (
	"encoding/binary"
	"fmt"
)

// keyCols are the binary key columns of an input's rows, with their
// codecs.
type keyCols struct {
	width  int // the input's number of columns
	cols   []int
	codecs []keyCodec
}

func newKeyCols(fields []Field, cols []int) (keyCols, error) {
	k := keyCols{width: len(fields), cols: cols, codecs: make([]keyCodec, len(cols))}
	for i, c := range cols {
		if c < 0 || c >= len(fields) {
			return keyCols{}, fmt.Errorf("ops: key column %d out of range (%d columns)", c, len(fields))
		}
		var err error
		if k.codecs[i], err = keyFor(fields[c]); err != nil {
			return keyCols{}, err
		}
	}
	return k, nil
}

// check rejects a row of the wrong width or with a malformed key value,
// which the comparisons then need not fear.
func (k keyCols) check(r Row) error {
	if len(r) != k.width {
		return fmt.Errorf("ops: row of %d columns, expected %d", len(r), k.width)
	}
	for i, c := range k.cols {
		if r[c] != nil {
			if err := k.codecs[i].check(r[c]); err != nil {
				return fmt.Errorf("%w (column %d)", err, c)
			}
		}
	}
	return nil
}

// hashKey is r's key for a hash table: equal for two rows iff their key
// columns are equal, NULL counting as equal to NULL. hasNull tells that a
// key column is NULL.
func (k keyCols) hashKey(r Row) (key string, hasNull bool) {
	var b []byte
	for i, c := range k.cols {
		if r[c] == nil {
			b, hasNull = append(b, 0), true
			continue
		}
		s := k.codecs[i].canon(r[c])
		b = binary.AppendUvarint(append(b, 1), uint64(len(s)))
		b = append(b, s...)
	}
	return string(b), hasNull
}

// equal tells whether the key columns of a and b are equal, NULL counting
// as equal to NULL: what comparing their hash keys tells, without building
// them.
func (k keyCols) equal(a, b Row) bool {
	for i, c := range k.cols {
		switch av, bv := a[c], b[c]; {
		case av == nil || bv == nil:
			if av != nil || bv != nil {
				return false
			}
		case k.codecs[i].cmp(av, bv) != 0:
			return false
		}
	}
	return true
}

// ordering compares rows by sort keys.
type ordering struct {
	keyCols
	keys []SortKey
}

func newOrdering(fields []Field, keys []SortKey) (ordering, error) {
	cols := make([]int, len(keys))
	for i, k := range keys {
		cols[i] = k.Col
	}
	kc, err := newKeyCols(fields, cols)
	return ordering{kc, keys}, err
}

// compare orders two checked rows: <0 when a sorts before b.
func (o ordering) compare(a, b Row) int {
	for i, k := range o.keys {
		av, bv := a[k.Col], b[k.Col]
		var c int
		switch {
		case av == nil && bv == nil:
			continue
		case av == nil || bv == nil:
			// NullsFirst is the effective placement, whatever the direction.
			if (av == nil) == k.NullsFirst {
				return -1
			}
			return 1
		default:
			c = o.codecs[i].cmp(av, bv)
		}
		if k.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}
