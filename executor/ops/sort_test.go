package ops

import (
	"math"
	"testing"
)

func TestMergeSort(t *testing.T) {
	tests := []struct {
		name   string
		key    SortKey
		inputs [][]string
		want   []string
	}{
		{"asc nulls last, ties in input order", SortKey{Col: 0},
			[][]string{{"1 a", "1 b", "2 c", "- n0"}, {"1 d", "3 e", "- n1"}, {}, {"2 f"}},
			[]string{"1|a", "1|b", "1|d", "2|c", "2|f", "3|e", "-|n0", "-|n1"}},
		{"desc nulls first", SortKey{Col: 0, Desc: true, NullsFirst: true},
			[][]string{{"- n0", "2 b", "1 a"}, {"- n1", "3 d", "1 c"}},
			[]string{"-|n0", "-|n1", "3|d", "2|b", "1|a", "1|c"}},
		{"asc nulls first", SortKey{Col: 0, NullsFirst: true},
			[][]string{{"- n0", "1 a"}, {"- n1", "0 z"}},
			[]string{"-|n0", "-|n1", "0|z", "1|a"}},
		{"desc nulls last", SortKey{Col: 0, Desc: true},
			[][]string{{"2 a", "- n0"}, {"3 b", "- n1"}},
			[]string{"3|b", "2|a", "-|n0", "-|n1"}},
		{"no rows", SortKey{Col: 0}, [][]string{{}, {}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ins []Op
			var spies []*spy
			for _, rows := range tt.inputs {
				s := &spy{Op: keyed(rows...)}
				ins, spies = append(ins, s), append(spies, s)
			}
			expect(t, NewMergeSort(ins, []SortKey{tt.key}), tt.want...)
			closedOnce(t, spies...)
		})
	}

	// numeric order: -Infinity < finite < Infinity < NaN, 1.0 = 1.00.
	expect(t, NewMergeSort([]Op{
		keyedAs(oidNumeric, "-Infinity a", "1.00 b", "NaN c"),
		keyedAs(oidNumeric, "-5 d", "1.0 e", "Infinity f", "NaN g"),
	}, []SortKey{{Col: 0}}), "-Infinity|a", "-5|d", "1|b", "1|e", "Infinity|f", "NaN|c", "NaN|g")

	if _, err := run(NewMergeSort([]Op{keyed("2 a", "1 b")}, []SortKey{{Col: 0}})); err == nil {
		t.Error("merge of an unordered input: no error")
	}
	if _, err := run(NewMergeSort([]Op{keyed("1 a"), keyedAs(oidInt8, "2 b")}, []SortKey{{Col: 0}})); err == nil {
		t.Error("merge of inputs of different types: no error")
	}
}

func TestSort(t *testing.T) {
	// Columns: a int4, b float8, tag.
	fields := []Field{bin("a", oidInt4), bin("b", oidFloat8), txt("tag")}
	rows := []Row{
		{i4(1), f8(0.5), []byte("r0")},
		{i4(0), f8(2), []byte("r1")},
		{nil, f8(1), []byte("r2")},
		{i4(1), nil, []byte("r3")},
		{i4(1), f8(0.5), []byte("r4")},
		{i4(0), f8(-1), []byte("r5")},
	}
	tags := func(op Op) Op { return NewProject(op, []int{2}) }
	tests := []struct {
		name string
		keys []SortKey
		want []string
	}{
		{"a stable", []SortKey{{Col: 0}}, []string{"r1", "r5", "r0", "r3", "r4", "r2"}},
		{"a desc, b", []SortKey{{Col: 0, Desc: true, NullsFirst: true}, {Col: 1}},
			[]string{"r2", "r0", "r4", "r3", "r5", "r1"}},
		{"b desc nulls last", []SortKey{{Col: 1, Desc: true}}, []string{"r1", "r2", "r0", "r4", "r5", "r3"}},
		{"no keys", nil, []string{"r0", "r1", "r2", "r3", "r4", "r5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &spy{Op: NewValues(fields, rows)}
			expect(t, tags(NewSort(in, tt.keys, 0)), tt.want...)
			closedOnce(t, in)
		})
	}

	// float8: -0 = 0 (stable), NaN last ascending.
	frows := []Row{{f8(math.NaN()), []byte("nan")}, {f8(0), []byte("zero")}, {f8(math.Copysign(0, -1)), []byte("-zero")},
		{f8(math.Inf(1)), []byte("inf")}, {f8(-1), []byte("-one")}}
	expect(t, NewProject(NewSort(NewValues([]Field{bin("f", oidFloat8), txt("tag")}, frows), []SortKey{{Col: 0}}, 0), []int{1}),
		"-one", "zero", "-zero", "inf", "nan")

	if _, err := run(NewSort(keyed("1 a"), []SortKey{{Col: 1}}, 0)); err == nil {
		t.Error("sort by a text column: no error")
	}
}
