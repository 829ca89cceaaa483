package ops

import (
	"testing"
)

func TestJoin(t *testing.T) {
	// int4 keys on the left, numeric on the right; NULL keys on both.
	left := func() Op { return keyed("1 a", "2 b", "- c", "3 d", "2 e") }
	right := func() Op { return keyedAs(oidNumeric, "1.0 x", "2.00 y", "2 z", "- w", "4 v") }
	inner := []string{"1|a|1|x", "2|b|2|y", "2|b|2|z", "2|e|2|y", "2|e|2|z"}
	tests := []struct {
		kind JoinKind
		want []string
	}{
		{JoinInner, inner},
		{JoinLeft, []string{"1|a|1|x", "2|b|2|y", "2|b|2|z", "-|c|-|-", "3|d|-|-", "2|e|2|y", "2|e|2|z"}},
		{JoinRight, append(inner, "-|-|-|w", "-|-|4|v")},
		{JoinFull, []string{"1|a|1|x", "2|b|2|y", "2|b|2|z", "-|c|-|-", "3|d|-|-", "2|e|2|y", "2|e|2|z", "-|-|-|w", "-|-|4|v"}},
		{JoinSemi, []string{"1|a", "2|b", "2|e"}},
		{JoinAnti, []string{"-|c", "3|d"}},
	}
	// The nested loop's predicate is the hash join's key equality.
	eq := func(l, r Row) (bool, error) {
		return l[0] != nil && r[0] != nil && codecs[oidInt4].canon(l[0]) == codecs[oidNumeric].canon(r[0]), nil
	}
	joins := map[string]func(l, r Op, kind JoinKind) Op{
		"hash": func(l, r Op, kind JoinKind) Op { return NewHashJoin(l, r, kind, []int{0}, []int{0}, 0) },
		"loop": func(l, r Op, kind JoinKind) Op { return NewNestedLoop(l, r, kind, eq, 0) },
	}
	for name, join := range joins {
		for _, tt := range tests {
			t.Run(name+" "+tt.kind.String(), func(t *testing.T) {
				l, r := &spy{Op: left()}, &spy{Op: right()}
				j := join(l, r, tt.kind)
				expect(t, j, tt.want...)
				closedOnce(t, l, r)
				f := j.Fields()
				if wantCols := map[bool]int{true: 2, false: 4}[tt.kind >= JoinSemi]; len(f) != wantCols {
					t.Fatalf("%d fields, want %d", len(f), wantCols)
				}
				if len(f) == 4 && (f[0].DataTypeOID != oidInt4 || f[2].DataTypeOID != oidNumeric) {
					t.Errorf("fields of types %d, %d", f[0].DataTypeOID, f[2].DataTypeOID)
				}
			})
		}
	}
}

func TestJoinMore(t *testing.T) {
	// Cross join.
	expect(t, NewNestedLoop(keyed("1 a", "2 b"), keyed("3 x", "- y"), JoinInner, nil, 0),
		"1|a|3|x", "1|a|-|y", "2|b|3|x", "2|b|-|y")

	// Multi-column keys, int8 with int4: (k, k) = (k, k).
	expect(t, NewHashJoin(keyedAs(oidInt8, "1 a", "2 b"), keyed("2 x", "1 y"), JoinInner, []int{0, 0}, []int{0, 0}, 0),
		"1|a|1|y", "2|b|2|x")

	// An empty right side: an inner join need not read the left.
	l := &spy{Op: keyed("1 a", "2 b")}
	expect(t, NewHashJoin(l, keyed(), JoinInner, []int{0}, []int{0}, 0))
	if l.nexts != 0 || l.closes != 1 {
		t.Errorf("left read %d times, closed %d times", l.nexts, l.closes)
	}
	expect(t, NewHashJoin(keyed("1 a", "- b"), keyed(), JoinAnti, []int{0}, []int{0}, 0), "1|a", "-|b")

	// Keys that cannot be compared.
	for name, j := range map[string]Op{
		"int4 = text":   NewHashJoin(keyed("1 a"), keyed("1 a"), JoinInner, []int{0}, []int{1}, 0),
		"int4 = float8": NewHashJoin(keyed("1 a"), NewValues([]Field{bin("f", oidFloat8)}, nil), JoinInner, []int{0}, []int{0}, 0),
		"1 key = 2":     NewHashJoin(keyed("1 a"), keyed("1 a"), JoinInner, []int{0}, []int{0, 0}, 0),
	} {
		if _, err := run(j); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
