package ops

import (
	"context"
	"encoding/hex"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// Binary values.

func i2(v int16) []byte   { return be.AppendUint16(nil, uint16(v)) }
func i4(v int32) []byte   { return be.AppendUint32(nil, uint32(v)) }
func i8(v int64) []byte   { return be.AppendUint64(nil, uint64(v)) }
func f4(v float32) []byte { return be.AppendUint32(nil, math.Float32bits(v)) }
func f8(v float64) []byte { return be.AppendUint64(nil, math.Float64bits(v)) }

func interval(usecs int64, days, months int32) []byte {
	return be.AppendUint32(be.AppendUint32(i8(usecs), uint32(days)), uint32(months))
}

var typeMap = pgtype.NewMap()

// num is numeric_send's form of s, as pgtype encodes it (which keeps
// trailing zero digits: "1.00" has the digits 1, 0).
func num(s string) []byte {
	var n pgtype.Numeric
	if err := n.Scan(s); err != nil {
		panic(err)
	}
	b, err := typeMap.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, n, nil)
	if err != nil {
		panic(err)
	}
	return b
}

// rawNum is a numeric in numeric_send's form, digits as given.
func rawNum(weight int16, sign uint16, dscale int16, digits ...uint16) []byte {
	b := be.AppendUint16(nil, uint16(len(digits)))
	b = be.AppendUint16(b, uint16(weight))
	b = be.AppendUint16(b, sign)
	b = be.AppendUint16(b, uint16(dscale))
	for _, d := range digits {
		b = be.AppendUint16(b, d)
	}
	return b
}

// Fields.

func bin(name string, oid uint32) Field {
	return Field{Name: []byte(name), DataTypeOID: oid, TypeModifier: -1, Format: 1}
}

func txt(name string) Field { return Field{Name: []byte(name), DataTypeOID: oidText, TypeModifier: -1} }

// keyed is a stream of (k int4 binary, tag text) rows written "k tag", k
// "-" for NULL.
func keyed(rows ...string) Op { return keyedAs(oidInt4, rows...) }

// keyedAs is keyed with keys of type int4, int8 or numeric.
func keyedAs(oid uint32, rows ...string) Op {
	rs := make([]Row, len(rows))
	for i, s := range rows {
		k, tag, _ := strings.Cut(s, " ")
		rs[i] = Row{nil, []byte(tag)}
		if k == "-" {
			continue
		}
		switch oid {
		case oidNumeric:
			rs[i][0] = num(k)
		default:
			n, err := strconv.ParseInt(k, 10, 64)
			if err != nil {
				panic(err)
			}
			if oid == oidInt8 {
				rs[i][0] = i8(n)
			} else {
				rs[i][0] = i4(int32(n))
			}
		}
	}
	return NewValues([]Field{bin("k", oid), txt("tag")}, rs)
}

// show writes a row as "v|v|...": text as is, integers and numerics in
// decimal, other binary values in hex, NULL as "-".
func show(fields []Field, r Row) string {
	s := make([]string, len(r))
	for i, v := range r {
		switch f := fields[i]; {
		case v == nil:
			s[i] = "-"
		case f.Format == 0:
			s[i] = string(v)
		case f.DataTypeOID == oidInt2 || f.DataTypeOID == oidInt4 || f.DataTypeOID == oidInt8 || f.DataTypeOID == oidNumeric:
			s[i] = codecs[f.DataTypeOID].canon(v)
		default:
			s[i] = hex.EncodeToString(v)
		}
	}
	return strings.Join(s, "|")
}

// run opens op, reads it to its end and closes it.
func run(op Op) ([]string, error) {
	ctx := context.Background()
	if err := op.Open(ctx); err != nil {
		return nil, errors.Join(err, op.Close())
	}
	out := []string{}
	for {
		r, err := op.Next(ctx)
		if err != nil {
			return out, errors.Join(err, op.Close())
		}
		if r == nil {
			break
		}
		out = append(out, show(op.Fields(), r))
	}
	return out, op.Close()
}

// expect runs op and compares its rows with want.
func expect(t *testing.T, op Op, want ...string) {
	t.Helper()
	got, err := run(op)
	if err != nil {
		t.Fatalf("error: %v", err)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got rows\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// expectCode runs op and checks that it fails with the SQLSTATE code.
func expectCode(t *testing.T, op Op, code string) {
	t.Helper()
	_, err := run(op)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != code {
		t.Fatalf("got error %v, want SQLSTATE %s", err, code)
	}
}

// spy counts the calls to an input.
type spy struct {
	Op
	opens, nexts, closes int
}

func (s *spy) Open(ctx context.Context) error        { s.opens++; return s.Op.Open(ctx) }
func (s *spy) Next(ctx context.Context) (Row, error) { s.nexts++; return s.Op.Next(ctx) }
func (s *spy) Close() error                          { s.closes++; return s.Op.Close() }

// closedOnce checks that each spied input was opened and closed once.
func closedOnce(t *testing.T, spies ...*spy) {
	t.Helper()
	for i, s := range spies {
		if s.opens != 1 || s.closes != 1 {
			t.Errorf("input %d opened %d times, closed %d times", i, s.opens, s.closes)
		}
	}
}
