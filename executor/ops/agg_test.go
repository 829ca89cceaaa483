package ops

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestAgg(t *testing.T) {
	// Per-datanode partials: g (int4 binary group key), name, count, sum
	// of int4, sum of numeric, min/max value (text) and its binary copy,
	// a bool.
	textOf := func(name string, oid uint32) Field { f := txt(name); f.DataTypeOID = oid; return f }
	fields := []Field{bin("g", oidInt4), txt("name"), textOf("c", oidInt8), textOf("s", oidInt8),
		textOf("n", oidNumeric), textOf("v", oidInt4), bin("vk", oidInt4), textOf("b", oidBool)}
	row := func(g []byte, name string, c, s, n, v string, vk []byte, b string) Row {
		t := func(s string) []byte {
			if s == "-" {
				return nil
			}
			return []byte(s)
		}
		return Row{g, t(name), t(c), t(s), t(n), t(v), vk, t(b)}
	}
	rows := []Row{
		row(i4(1), "one", "2", "10", "1.50", "5", i4(5), "t"),
		row(i4(2), "two", "1", "-", "-", "-", nil, "-"),
		row(i4(1), "uno", "3", "-4", "2.1", "3", i4(3), "f"),
		row(nil, "null", "1", "7", "NaN", "9", i4(9), "t"),
		row(nil, "nul2", "0", "-", "1", "-1", i4(-1), "-"),
	}
	aggs := []AggSpec{
		{Kind: AggCount, Col: 2, Name: "count"},
		{Kind: AggSumInt8, Col: 3, Name: "sum"},
		{Kind: AggSumNumeric, Col: 4, Name: "sumn"},
		{Kind: AggMin, Col: 5, KeyCol: 6, Name: "min"},
		{Kind: AggMax, Col: 5, KeyCol: 6, Name: "max"},
		{Kind: AggBoolAnd, Col: 7, Name: "and"},
		{Kind: AggBoolOr, Col: 7, Name: "or"},
	}
	tests := []struct {
		name      string
		rows      []Row
		groupKeys []int
		groupOut  []int
		want      []string
	}{
		{"groups", rows, []int{0}, []int{0, 1}, []string{
			"1|one|5|6|3.60|3|5|f|t",
			"2|two|1|-|-|-|-|-|-",
			"-|null|1|7|NaN|-1|9|t|t",
		}},
		{"no groups", rows, nil, nil, []string{"7|13|NaN|-1|9|f|t"}},
		{"no groups, no input", nil, nil, nil, []string{"0|-|-|-|-|-|-"}},
		{"groups, no input", nil, []int{0}, []int{1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &spy{Op: NewValues(fields, tt.rows)}
			a := NewAgg(in, tt.groupKeys, tt.groupOut, aggs, 0)
			expect(t, a, tt.want...)
			closedOnce(t, in)
			f := a.Fields()[len(tt.groupOut):]
			for i, want := range []Field{
				{Name: []byte("count"), DataTypeOID: oidInt8, DataTypeSize: 8, TypeModifier: -1},
				{Name: []byte("sum"), DataTypeOID: oidInt8, DataTypeSize: 8, TypeModifier: -1},
				{Name: []byte("sumn"), DataTypeOID: oidNumeric, DataTypeSize: -1, TypeModifier: -1},
				fields[5], fields[5],
				{Name: []byte("and"), DataTypeOID: oidBool, DataTypeSize: 1, TypeModifier: -1},
				{Name: []byte("or"), DataTypeOID: oidBool, DataTypeSize: 1, TypeModifier: -1},
			} {
				if string(f[i].Name) != string(want.Name) || f[i].DataTypeOID != want.DataTypeOID ||
					f[i].DataTypeSize != want.DataTypeSize || f[i].TypeModifier != want.TypeModifier || f[i].Format != 0 {
					t.Errorf("field %d: got %+v, want %+v", i, f[i], want)
				}
			}
		})
	}
}

// sumOf aggregates one text column of partials with kind.
func sumOf(kind AggKind, partials ...string) Op {
	rows := make([]Row, len(partials))
	for i, p := range partials {
		if p != "-" {
			rows[i] = Row{[]byte(p)}
		} else {
			rows[i] = Row{nil}
		}
	}
	return NewAgg(NewValues([]Field{txt("p")}, rows), nil, nil, []AggSpec{{Kind: kind, Col: 0}}, 0)
}

func TestAggSums(t *testing.T) {
	tests := []struct {
		kind     AggKind
		partials []string
		want     string
	}{
		{AggSumNumeric, []string{"1.50", "2.1"}, "3.60"},
		{AggSumNumeric, []string{"-1.5", "1.5"}, "0.0"},
		{AggSumNumeric, []string{"12", "-12.000"}, "0.000"},
		{AggSumNumeric, []string{"0.001", "-0.002"}, "-0.001"},
		{AggSumNumeric, []string{"-0.5", "0.25", "-"}, "-0.25"},
		{AggSumNumeric, []string{"99999999999999999999.99", "0.01"}, "100000000000000000000.00"},
		{AggSumNumeric, []string{"Infinity", "1"}, "Infinity"},
		{AggSumNumeric, []string{"-Infinity", "5"}, "-Infinity"},
		{AggSumNumeric, []string{"Infinity", "-Infinity"}, "NaN"},
		{AggSumNumeric, []string{"NaN", "Infinity"}, "NaN"},
		{AggSumNumeric, []string{"-", "-"}, "-"},
		{AggSumInt8, []string{"9223372036854775806", "1", "-"}, "9223372036854775807"},
		{AggSumInt8, []string{"-", "-"}, "-"},
		{AggCount, []string{"3", "0", "4"}, "7"},
		{AggCount, nil, "0"},
	}
	for _, tt := range tests {
		expect(t, sumOf(tt.kind, tt.partials...), tt.want)
	}

	expectCode(t, sumOf(AggSumInt8, "9223372036854775807", "1"), "22003")
	expectCode(t, sumOf(AggSumInt8, "-9223372036854775807", "-2"), "22003")
	var pe *pgconn.PgError
	if _, err := run(sumOf(AggSumNumeric, "1.2.3")); err == nil || errors.As(err, &pe) {
		t.Errorf("bad numeric partial: got %v, want an internal error", err)
	}
}

func TestAggCountRows(t *testing.T) {
	// count(*) over joined rows: every row counts, NULLs in it or not.
	fields := []Field{bin("g", oidInt4), txt("x")}
	rows := []Row{{i4(1), nil}, {i4(1), []byte("a")}, {nil, nil}, {i4(2), []byte("b")}}
	count := []AggSpec{{Kind: AggCountRows, Name: "count"}}
	expect(t, NewAgg(NewValues(fields, rows), []int{0}, []int{1}, count, 0), "-|2", "-|1", "b|1")
	expect(t, NewAgg(NewValues(fields, rows), nil, nil, count, 0), "4")
	expect(t, NewAgg(NewValues(fields, nil), nil, nil, count, 0), "0")
}
