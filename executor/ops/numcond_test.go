package ops

import "testing"

func TestNumericCond(t *testing.T) {
	rows := []Row{{[]byte("3")}, {[]byte("2.50")}, {nil}, {[]byte("NaN")}, {[]byte("Infinity")}, {[]byte("-Infinity")}, {[]byte("10")}}
	fields := []Field{txt("n")}
	cases := []struct {
		op, value string
		want      []string
	}{
		{">", "2.5", []string{"3", "NaN", "Infinity", "10"}},
		{"=", "2.5", []string{"2.50"}},
		{"<=", "3.0", []string{"3", "2.50", "-Infinity"}},
		{"<>", "3", []string{"2.50", "NaN", "Infinity", "-Infinity", "10"}},
		{"=", "NaN", []string{"NaN"}},
		{"<", "Infinity", []string{"3", "2.50", "-Infinity", "10"}},
	}
	for _, c := range cases {
		pred, err := NumericCond(0, c.op, c.value)
		if err != nil {
			t.Fatal(err)
		}
		expect(t, NewFilter(NewValues(fields, rows), pred), c.want...)
	}
	if _, err := NumericCond(0, "~", "1"); err == nil {
		t.Error("an unknown operator is accepted")
	}
	if _, err := NumericCond(0, "=", "x"); err == nil {
		t.Error("a value that is not a number is accepted")
	}
}
