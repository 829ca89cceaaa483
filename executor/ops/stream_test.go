package ops

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

func TestConcat(t *testing.T) {
	ins := []*spy{{Op: keyed("1 a", "2 b")}, {Op: keyed()}, {Op: keyed("- c")}}
	expect(t, NewConcat(ins[0], ins[1], ins[2]), "1|a", "2|b", "-|c")
	closedOnce(t, ins...)

	if _, err := run(NewConcat(keyed("1 a"), NewValues([]Field{txt("x")}, nil))); err == nil {
		t.Error("concat of inputs of different widths: no error")
	}
}

func TestProjectFilter(t *testing.T) {
	p := NewProject(keyed("1 a", "- b"), []int{1, 0, 0})
	expect(t, p, "a|1|1", "b|-|-")
	if f := p.Fields(); string(f[0].Name) != "tag" || string(f[2].Name) != "k" {
		t.Errorf("fields %s, %s", f[0].Name, f[2].Name)
	}

	over1 := func(r Row) (bool, error) { return r[0] != nil && codecs[oidInt4].cmp(r[0], i4(1)) > 0, nil }
	expect(t, NewFilter(keyed("1 a", "2 b", "- c", "3 d"), over1), "2|b", "3|d")

	boom := errors.New("boom")
	if _, err := run(NewFilter(keyed("1 a"), func(Row) (bool, error) { return false, boom })); !errors.Is(err, boom) {
		t.Errorf("filter error: got %v", err)
	}
}

func TestLimit(t *testing.T) {
	tests := []struct {
		offset, count int64
		want          []string
		reads         int // input rows read, end included
	}{
		{0, -1, []string{"1|a", "2|b", "3|c", "4|d"}, 5},
		{2, -1, []string{"3|c", "4|d"}, 5},
		{0, 0, nil, 0},
		{1, 2, []string{"2|b", "3|c"}, 3},
		{3, 5, []string{"4|d"}, 5},
		{9, 1, nil, 5},
		{-1, 1, []string{"1|a"}, 1},
	}
	for _, tt := range tests {
		in := &spy{Op: keyed("1 a", "2 b", "3 c", "4 d")}
		l := NewLimit(in, tt.offset, tt.count)
		ctx := context.Background()
		if err := l.Open(ctx); err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			r, err := l.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if r == nil {
				break
			}
			got = append(got, show(l.Fields(), r))
			if int64(len(got)) == tt.count && in.closes != 1 {
				t.Errorf("offset %d count %d: input not closed with the last row", tt.offset, tt.count)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if !equalRows(got, tt.want) || in.nexts != tt.reads || in.closes != 1 {
			t.Errorf("offset %d count %d: got %q after %d reads, %d closes; want %q after %d reads",
				tt.offset, tt.count, got, in.nexts, in.closes, tt.want, tt.reads)
		}
	}
}

func equalRows(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDistinct(t *testing.T) {
	expect(t, NewDistinct(keyed("1 a", "- b", "1 c", "- d", "2 e"), []int{0}, 0), "1|a", "-|b", "2|e")
	expect(t, NewDistinct(keyedAs(oidNumeric, "1.0 a", "NaN b", "1.00 c", "NaN d", "-0 e", "0.0 f"), []int{0}, 0),
		"1|a", "NaN|b", "0|e")
	// DISTINCT ON (k) over rows sorted by k, tag DESC.
	expect(t, NewDistinct(keyed("1 c", "1 b", "2 a"), []int{0}, 0), "1|c", "2|a")
	if _, err := run(NewDistinct(keyed("1 a"), []int{1}, 0)); err == nil {
		t.Error("distinct on a text column: no error")
	}
}

func TestSubPlan(t *testing.T) {
	sub := &spy{Op: NewValues([]Field{bin("v", oidInt4)}, []Row{{i4(2)}})}
	main := &spy{}
	build := func(ctx context.Context, fields []Field, rows []Row) (Op, error) {
		if len(rows) != 1 || fields[0].DataTypeOID != oidInt4 {
			return nil, errors.New("unexpected sub-plan result")
		}
		v := rows[0][0]
		main.Op = NewFilter(keyed("1 a", "2 b", "3 c"), func(r Row) (bool, error) { return bytes.Equal(r[0], v), nil })
		return main, nil
	}
	expect(t, NewSubPlan(sub, build), "2|b")
	closedOnce(t, sub, main)

	boom := errors.New("boom")
	sub = &spy{Op: keyed("1 a")}
	if _, err := run(NewSubPlan(sub, func(context.Context, []Field, []Row) (Op, error) { return nil, boom })); !errors.Is(err, boom) {
		t.Errorf("build error: got %v", err)
	}
	closedOnce(t, sub)
}

func TestCancel(t *testing.T) {
	rows := make([]Row, 3*checkEvery)
	for i := range rows {
		rows[i] = Row{i4(int32(i))}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := NewSort(NewValues([]Field{bin("k", oidInt4)}, rows), []SortKey{{Col: 0}}, 0)
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestMemoryLimit(t *testing.T) {
	in := func() Op { return keyed("1 a", "2 b", "3 c") }
	for name, op := range map[string]Op{
		"sort":        NewSort(in(), []SortKey{{Col: 0}}, 100),
		"distinct":    NewDistinct(in(), []int{0}, 100),
		"hash join":   NewHashJoin(in(), in(), JoinInner, []int{0}, []int{0}, 100),
		"nested loop": NewNestedLoop(in(), in(), JoinInner, nil, 100),
		"agg":         NewAgg(in(), []int{0}, []int{1}, nil, 100),
	} {
		t.Run(name, func(t *testing.T) { expectCode(t, op, "54000") })
	}
	// Within the limit.
	expect(t, NewSort(in(), []SortKey{{Col: 0, Desc: true}}, 1000), "3|c", "2|b", "1|a")
}
