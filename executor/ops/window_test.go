package ops

import "testing"

func TestWindow(t *testing.T) {
	// Sorted by p, then o ascending NULLS LAST. The partitions' edges have
	// equal order keys (NULL, NULL and 5, 5): ranks restart all the same.
	fields := []Field{bin("p", oidInt4), bin("o", oidInt4), txt("tag")}
	row := func(p, o []byte, tag string) Row { return Row{p, o, []byte(tag)} }
	rows := []Row{
		row(i4(1), i4(1), "a"),
		row(i4(1), i4(1), "b"),
		row(i4(1), i4(2), "c"),
		row(i4(1), nil, "d"),
		row(i4(1), nil, "e"),
		row(i4(2), nil, "f"),
		row(i4(3), i4(5), "g"),
		row(nil, i4(5), "h"),
		row(nil, i4(5), "i"),
		row(nil, i4(6), "j"),
	}
	funcs := []WindowSpec{{WinRowNumber, "row_number"}, {WinRank, "rank"}, {WinDenseRank, "dense_rank"}}
	w := NewWindow(NewValues(fields, rows), []int{0}, []SortKey{{Col: 1}}, funcs)
	expect(t, NewProject(w, []int{2, 3, 4, 5}),
		"a|1|1|1", "b|2|1|1", "c|3|3|2", "d|4|4|3", "e|5|4|3",
		"f|1|1|1",
		"g|1|1|1",
		"h|1|1|1", "i|2|1|1", "j|3|3|2")
	if f := w.Fields()[3]; string(f.Name) != "row_number" || f.DataTypeOID != oidInt8 || f.Format != 0 {
		t.Errorf("field %+v", f)
	}

	// No partition, no order: one partition of peers.
	expect(t, NewWindow(keyed("2 a", "1 b"), nil, nil, funcs), "2|a|1|1|1", "1|b|2|1|1")
}
