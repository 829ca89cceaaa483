package distribution

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// form is one way a distribution value can arrive: as text or as a binary value of a wire type,
// canonicalised for the column type typ.
type form struct {
	typ  string // column type the value is canonicalised for
	text string // used when oid == 0
	oid  uint32 // wire type of the binary value
	val  any    // Go value pgx encodes in binary for oid
}

func txt(typ, s string) form                 { return form{typ: typ, text: s} }
func bin(typ string, oid uint32, v any) form { return form{typ: typ, oid: oid, val: v} }

func (f form) String() string {
	if f.oid == 0 {
		return f.typ + " text " + quote(f.text)
	}
	return f.typ + " binary " + typeString(f.oid, f.val)
}

func quote(s string) string { return "'" + s + "'" }

func typeString(oid uint32, v any) string {
	if n, ok := v.(pgtype.Numeric); ok && n.Int != nil {
		return fmt.Sprintf("oid %d %se%d", oid, n.Int, n.Exp)
	}
	return fmt.Sprintf("oid %d %v", oid, v)
}

// encodeBinary encodes v in PostgreSQL's binary format for oid with pgx's own encoders.
func encodeBinary(t testing.TB, oid uint32, v any) []byte {
	t.Helper()
	b, err := pgtype.NewMap().Encode(oid, pgtype.BinaryFormatCode, v, nil)
	if err != nil {
		t.Fatalf("pgx cannot encode %T %v for oid %d: %v", v, v, oid, err)
	}
	if b == nil {
		b = []byte{}
	}
	return b
}

func (f form) canon(t *testing.T) []byte {
	t.Helper()
	if f.oid == 0 {
		c, ok := CanonicalText(f.typ, f.text)
		if !ok {
			t.Fatalf("%s: ok=false, want a canonical form", f)
		}
		return c
	}
	c, err := CanonicalBinary(f.typ, encodeBinary(t, f.oid, f.val))
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	return c
}

func i64(v int64) []byte { return int64Bytes(v) }

// TestSameValueSameBucket: every spelling of a value, text or binary, literal or cast, gives the same
// canonical bytes and so the same bucket.
func TestSameValueSameBucket(t *testing.T) {
	mustUUID := [16]byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}
	ts := time.Date(2021, 3, 4, 5, 6, 7, 123456000, time.UTC)
	tests := []struct {
		name  string
		want  []byte // nil: only check the forms agree
		forms []form
	}{
		{"int 42 across int types and casts", i64(42), []form{
			txt("int4", "42"), txt("int4", " 42 "), txt("int4", "+42"), txt("int4", "0042"), txt("int4", "\t42\n"),
			txt("int2", "42"), txt("int8", "42"), txt("integer", "42"), txt("bigint", "42"), txt("oid", "42"),
			bin("int2", pgtype.Int2OID, int16(42)), bin("int4", pgtype.Int4OID, int32(42)),
			bin("bigint", pgtype.Int8OID, int64(42)), bin("int8", pgtype.Int8OID, int64(42)),
			bin("int2", pgtype.Int2OID, int16(42)), bin("oid", pgtype.OIDOID, uint32(42)),
		}},
		{"negative int", i64(-7), []form{
			txt("int2", "-7"), txt("int4", " -007 "), txt("int8", "-7"),
			bin("int8", pgtype.Int8OID, int64(-7)), bin("int2", pgtype.Int2OID, int16(-7)), bin("int4", pgtype.Int4OID, int32(-7)),
		}},
		{"int extremes", i64(math.MinInt64), []form{
			txt("int8", "-9223372036854775808"), bin("int8", pgtype.Int8OID, int64(math.MinInt64)),
		}},
		{"oid beyond int4", i64(4294967295), []form{
			txt("oid", "4294967295"), txt("oid", "+4294967295"), bin("oid", pgtype.OIDOID, uint32(4294967295)),
		}},
		{"numeric 1", []byte("1"), []form{
			txt("numeric", "1"), txt("numeric", "1.0"), txt("numeric", "1.00"), txt("numeric", "1e0"),
			txt("numeric", " +1.000E+00 "), txt("numeric", "0.1e1"), txt("numeric", "10e-1"), txt("numeric", "001."),
			txt("decimal", "1"), txt("numeric(10,2)", "1.00"),
			bin("numeric", pgtype.NumericOID, pgtype.Numeric{Int: big.NewInt(1), Valid: true}),
			bin("numeric", pgtype.NumericOID, pgtype.Numeric{Int: big.NewInt(10), Exp: -1, Valid: true}),
			bin("numeric", pgtype.NumericOID, pgtype.Numeric{Int: big.NewInt(100), Exp: -2, Valid: true}),
			bin("numeric", pgtype.NumericOID, pgtype.Numeric{Int: big.NewInt(1000000), Exp: -6, Valid: true}),
			bin("numeric", pgtype.NumericOID, int64(1)),
			bin("numeric", pgtype.NumericOID, float64(1)),
		}},
		{"numeric -123.45", []byte("-123.45"), []form{
			txt("numeric", "-123.45"), txt("numeric", "-123.4500"), txt("numeric", "-0123.45"), txt("numeric", "-12345e-2"),
			txt("numeric", "-1.2345E2"), txt("numeric", "-.12345e3"),
			bin("numeric", pgtype.NumericOID, pgtype.Numeric{Int: big.NewInt(-12345), Exp: -2, Valid: true}),
			bin("numeric", pgtype.NumericOID, pgtype.Numeric{Int: big.NewInt(-1234500), Exp: -4, Valid: true}),
		}},
		{"numeric large", []byte("12345678901234567890.000001"), []form{
			txt("numeric", "12345678901234567890.000001"), txt("numeric", "12345678901234567890.0000010000"),
			txt("numeric", "1234567890123456789000000.1e-5"),
			bin("numeric", pgtype.NumericOID, pgtype.Numeric{Int: mustBig("12345678901234567890000001"), Exp: -6, Valid: true}),
		}},
		{"numeric small", []byte("0.00001234"), []form{
			txt("numeric", "0.00001234"), txt("numeric", ".000012340"), txt("numeric", "1.234e-5"),
			bin("numeric", pgtype.NumericOID, pgtype.Numeric{Int: big.NewInt(1234), Exp: -8, Valid: true}),
			bin("numeric", pgtype.NumericOID, pgtype.Numeric{Int: big.NewInt(123400), Exp: -10, Valid: true}),
		}},
		{"numeric hundred", []byte("100"), []form{
			txt("numeric", "100"), txt("numeric", "1e2"), txt("numeric", "100.000"), txt("numeric", "10000e-2"),
			bin("numeric", pgtype.NumericOID, pgtype.Numeric{Int: big.NewInt(1), Exp: 2, Valid: true}),
			bin("numeric", pgtype.NumericOID, int64(100)),
		}},
		{"numeric zero", []byte("0"), []form{
			txt("numeric", "0"), txt("numeric", "-0"), txt("numeric", "0.000"), txt("numeric", "-0.0e5"), txt("numeric", "+.0"),
			bin("numeric", pgtype.NumericOID, pgtype.Numeric{Int: big.NewInt(0), Exp: -3, Valid: true}),
			bin("numeric", pgtype.NumericOID, int64(0)),
		}},
		{"numeric NaN", []byte("NaN"), []form{
			txt("numeric", "NaN"), txt("numeric", "nan"), txt("numeric", " NAN "),
			bin("numeric", pgtype.NumericOID, pgtype.Numeric{NaN: true, Valid: true}),
		}},
		{"numeric Infinity", []byte("Infinity"), []form{
			txt("numeric", "Infinity"), txt("numeric", "inf"), txt("numeric", "+INF"), txt("numeric", "+infinity"),
			bin("numeric", pgtype.NumericOID, pgtype.Numeric{InfinityModifier: pgtype.Infinity, Valid: true}),
		}},
		{"numeric -Infinity", []byte("-Infinity"), []form{
			txt("numeric", "-Infinity"), txt("numeric", "-inf"),
			bin("numeric", pgtype.NumericOID, pgtype.Numeric{InfinityModifier: pgtype.NegativeInfinity, Valid: true}),
		}},
		{"text types", []byte("héllo wörld"), []form{
			txt("text", "héllo wörld"), txt("varchar", "héllo wörld"), txt("character varying(20)", "héllo wörld"),
			txt("name", "héllo wörld"), txt("bpchar", "héllo wörld"),
			bin("text", pgtype.TextOID, "héllo wörld"), bin("varchar", pgtype.VarcharOID, "héllo wörld"),
			bin("name", pgtype.NameOID, "héllo wörld"), bin("text", pgtype.VarcharOID, "héllo wörld"),
		}},
		{"empty text", []byte{}, []form{
			txt("text", ""), txt("bpchar", "   "), bin("text", pgtype.TextOID, ""), bin("bpchar", pgtype.BPCharOID, "  "),
		}},
		{"bpchar trailing blanks", []byte("ab"), []form{
			txt("bpchar", "ab"), txt("bpchar", "ab  "), txt("char(5)", "ab   "), txt("character", "ab"),
			bin("bpchar", pgtype.BPCharOID, "ab   "), bin("bpchar", pgtype.BPCharOID, "ab"), bin("bpchar", pgtype.TextOID, "ab "),
			txt("text", "ab"),
		}},
		{`"char"`, []byte{'A'}, []form{
			txt("char", "A"), txt(`"char"`, "A"), txt("char", "ABC"), txt("char", `\101`), txt("pg_catalog.char", "A"),
			bin("char", pgtype.QCharOID, byte('A')),
		}},
		{`"char" empty`, []byte{0}, []form{
			txt("char", ""), txt("char", `\000`), bin("char", pgtype.QCharOID, byte(0)),
		}},
		{"uuid", mustUUID[:], []form{
			txt("uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), txt("uuid", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"),
			txt("uuid", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"), txt("uuid", "a0eebc999c0b4ef8bb6d6bb9bd380a11"),
			txt("uuid", "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11"), txt("uuid", "{a0eebc999c0b4ef8bb6d6bb9bd380a11}"),
			bin("uuid", pgtype.UUIDOID, mustUUID), bin("uuid", pgtype.UUIDOID, pgtype.UUID{Bytes: mustUUID, Valid: true}),
		}},
		{"bool true", []byte{1}, []form{
			txt("bool", "t"), txt("bool", "true"), txt("bool", "TRUE"), txt("bool", " yes "), txt("bool", "on"),
			txt("bool", "1"), txt("bool", "tr"), txt("bool", "y"), txt("boolean", "On"),
			bin("bool", pgtype.BoolOID, true),
		}},
		{"bool false", []byte{0}, []form{
			txt("bool", "f"), txt("bool", "false"), txt("bool", "FALSE"), txt("bool", "off"), txt("bool", "of"),
			txt("bool", "n"), txt("bool", "no"), txt("bool", "0"), txt("bool", "fal"),
			bin("bool", pgtype.BoolOID, false),
		}},
		{"date", i64(7364), []form{
			txt("date", "2020-02-29"), txt("date", " 2020-02-29 "),
			bin("date", pgtype.DateOID, time.Date(2020, 2, 29, 0, 0, 0, 0, time.UTC)),
			bin("date", pgtype.DateOID, pgtype.Date{Time: time.Date(2020, 2, 29, 0, 0, 0, 0, time.UTC), Valid: true}),
		}},
		{"date before 2000", i64(-1), []form{
			txt("date", "1999-12-31"), bin("date", pgtype.DateOID, time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC)),
		}},
		{"date infinity", i64(math.MaxInt32), []form{
			txt("date", "infinity"), txt("date", "Infinity"),
			bin("date", pgtype.DateOID, pgtype.Date{InfinityModifier: pgtype.Infinity, Valid: true}),
		}},
		{"date -infinity", i64(math.MinInt32), []form{
			txt("date", "-infinity"), bin("date", pgtype.DateOID, pgtype.Date{InfinityModifier: pgtype.NegativeInfinity, Valid: true}),
		}},
		{"timestamp", nil, []form{
			txt("timestamp", "2021-03-04 05:06:07.123456"), txt("timestamp", "2021-03-04T05:06:07.123456"),
			txt("timestamp without time zone", " 2021-03-04 05:06:07.123456 "),
			bin("timestamp", pgtype.TimestampOID, ts),
			// the same instant as timestamptz
			txt("timestamptz", "2021-03-04 05:06:07.123456Z"), txt("timestamptz", "2021-03-04 10:06:07.123456+05"),
			txt("timestamptz", "2021-03-04T01:36:07.123456-03:30"), txt("timestamp with time zone", "2021-03-04 05:06:07.123456+00:00"),
			bin("timestamptz", pgtype.TimestamptzOID, ts), bin("timestamptz", pgtype.TimestamptzOID, ts.In(time.FixedZone("x", 7200))),
		}},
		{"timestamp fraction digits", nil, []form{
			txt("timestamp", "2021-03-04 05:06:07.5"), txt("timestamp", "2021-03-04 05:06:07.500000"),
			bin("timestamp", pgtype.TimestampOID, time.Date(2021, 3, 4, 5, 6, 7, 500000000, time.UTC)),
		}},
		{"timestamp infinity", i64(math.MaxInt64), []form{
			txt("timestamp", "infinity"), txt("timestamptz", "Infinity"),
			bin("timestamp", pgtype.TimestampOID, pgtype.Timestamp{InfinityModifier: pgtype.Infinity, Valid: true}),
			bin("timestamptz", pgtype.TimestamptzOID, pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}),
		}},
		{"timestamp -infinity", i64(math.MinInt64), []form{
			txt("timestamp", "-infinity"), txt("timestamptz", "-INFINITY"),
			bin("timestamptz", pgtype.TimestamptzOID, pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}),
		}},
		{"time", i64(47655500000), []form{
			txt("time", "13:14:15.5"), txt("time", "13:14:15.500000"), txt("time without time zone", "13:14:15.5"),
			bin("time", pgtype.TimeOID, pgtype.Time{Microseconds: 47655500000, Valid: true}),
		}},
		{"float8 1.5", nil, []form{
			txt("float8", "1.5"), txt("float8", " 1.50 "), txt("float8", "15e-1"), txt("double precision", "+1.5E0"),
			txt("float4", "1.5"), txt("real", ".15e1"),
			bin("float8", pgtype.Float8OID, 1.5), bin("float4", pgtype.Float4OID, float32(1.5)), bin("real", pgtype.Float4OID, float32(1.5)),
		}},
		{"float zero", i64(0), []form{
			txt("float8", "0"), txt("float8", "-0"), txt("float8", "-0.0e10"), txt("float4", "-0"),
			bin("float8", pgtype.Float8OID, math.Copysign(0, -1)), bin("float4", pgtype.Float4OID, float32(math.Copysign(0, -1))),
			bin("float8", pgtype.Float8OID, 0.0),
		}},
		{"float NaN", nil, []form{
			txt("float8", "NaN"), txt("float8", "nan"), txt("float8", " -NaN "), txt("float4", "NAN"),
			bin("float8", pgtype.Float8OID, math.NaN()), bin("float4", pgtype.Float4OID, float32(math.NaN())),
			bin("float8", pgtype.Float8OID, math.Float64frombits(0xfff8000000000001)),
		}},
		{"float infinity", nil, []form{
			txt("float8", "Infinity"), txt("float8", "inf"), txt("float8", "+INFINITY"), txt("float4", "infinity"),
			bin("float8", pgtype.Float8OID, math.Inf(1)), bin("float4", pgtype.Float4OID, float32(math.Inf(1))),
		}},
		{"float -infinity", nil, []form{
			txt("float8", "-Infinity"), txt("float8", "-inf"), bin("float8", pgtype.Float8OID, math.Inf(-1)),
		}},
		{"float4 0.1 widened", nil, []form{
			txt("float4", "0.1"), txt("float4", "1e-1"), bin("float4", pgtype.Float4OID, float32(0.1)),
			bin("float8", pgtype.Float8OID, float64(float32(0.1))),
		}},
		{"float8 denormal", nil, []form{
			txt("float8", "5e-324"), bin("float8", pgtype.Float8OID, math.SmallestNonzeroFloat64),
		}},
		{"bytea", []byte{0xde, 0xad, 0xbe, 0xef}, []form{
			txt("bytea", `\xdeadbeef`), txt("bytea", `\xDEADBEEF`), txt("bytea", `\xde ad	be
ef`),
			bin("bytea", pgtype.ByteaOID, []byte{0xde, 0xad, 0xbe, 0xef}),
		}},
		{"bytea empty", []byte{}, []form{
			txt("bytea", `\x`), bin("bytea", pgtype.ByteaOID, []byte{}),
		}},
		{"interval: a month is 30 days", nil, []form{
			bin("interval", pgtype.IntervalOID, pgtype.Interval{Months: 1, Valid: true}),
			bin("interval", pgtype.IntervalOID, pgtype.Interval{Days: 30, Valid: true}),
			bin("interval", pgtype.IntervalOID, pgtype.Interval{Microseconds: 30 * 86400000000, Valid: true}),
			bin("interval", pgtype.IntervalOID, pgtype.Interval{Days: 31, Microseconds: -86400000000, Valid: true}),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			first := tc.forms[0].canon(t)
			if first == nil {
				t.Fatalf("%s: nil canonical form", tc.forms[0])
			}
			if tc.want != nil && !bytes.Equal(first, tc.want) {
				t.Fatalf("%s: canonical %x (%q), want %x (%q)", tc.forms[0], first, first, tc.want, tc.want)
			}
			bucket := Bucket(first)
			for _, f := range tc.forms[1:] {
				c := f.canon(t)
				if c == nil {
					t.Errorf("%s: nil canonical form", f)
				}
				if !bytes.Equal(c, first) {
					t.Errorf("%s: canonical %x (%q), %s gives %x (%q)", f, c, c, tc.forms[0], first, first)
				}
				if b := Bucket(c); b != bucket {
					t.Errorf("%s: bucket %d, %s has bucket %d", f, b, tc.forms[0], bucket)
				}
			}
		})
	}
}

func mustBig(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("bad big int " + s)
	}
	return v
}

// TestDifferentValuesDiffer guards against a canonical form that merges values PostgreSQL keeps apart.
func TestDifferentValuesDiffer(t *testing.T) {
	pairs := []struct{ a, b form }{
		{txt("int4", "1"), txt("int4", "-1")},
		{txt("numeric", "1"), txt("numeric", "10")},
		{txt("numeric", "0.1"), txt("numeric", "1")},
		{txt("numeric", "-1"), txt("numeric", "1")},
		{txt("numeric", "1.05"), txt("numeric", "1.5")},
		{txt("varchar", "ab  "), txt("varchar", "ab")},
		{txt("text", "ab "), txt("text", "ab")},
		{txt("text", "Ab"), txt("text", "ab")},
		{txt("bpchar", " ab"), txt("bpchar", "ab")},
		{txt("float4", "0.1"), txt("float8", "0.1")},
		{txt("float8", "Infinity"), txt("float8", "-Infinity")},
		{txt("float8", "NaN"), txt("float8", "Infinity")},
		{txt("timestamptz", "2020-01-01 00:00:00+01"), txt("timestamptz", "2020-01-01 00:00:00Z")},
		{txt("date", "2020-01-01"), txt("date", "2020-01-02")},
		{txt("bool", "t"), txt("bool", "f")},
		{bin("interval", pgtype.IntervalOID, pgtype.Interval{Months: 1, Valid: true}),
			bin("interval", pgtype.IntervalOID, pgtype.Interval{Days: 31, Valid: true})},
		{bin("interval", pgtype.IntervalOID, pgtype.Interval{Microseconds: -1, Valid: true}),
			bin("interval", pgtype.IntervalOID, pgtype.Interval{Microseconds: 1, Valid: true})},
	}
	for _, p := range pairs {
		if bytes.Equal(p.a.canon(t), p.b.canon(t)) {
			t.Errorf("%s and %s have the same canonical form", p.a, p.b)
		}
	}
}

// TestCanonicalTextNotOK lists the inputs that must be left to PostgreSQL's input functions.
func TestCanonicalTextNotOK(t *testing.T) {
	long := string(bytes.Repeat([]byte("n"), 64))
	tests := []struct {
		typ   string
		texts []string
	}{
		{"int4", []string{"", " ", "12a", "1.5", "2147483648", "-2147483649", "0x10", "1_000", "١٢", "+", "-", "1 2", "--1", "1e3"}},
		{"int2", []string{"32768", "-32769", "99999"}},
		{"int8", []string{"9223372036854775808", "-9223372036854775809", "12345678901234567890123"}},
		{"oid", []string{"-1", "4294967296", "", "x"}},
		{"numeric", []string{"", ".", "e5", "1e", "1e+", "1e 5", "1.2.3", "0x10", "1_000", "Infinit", "nan1", "--1",
			"1e2000000", "1e-20000", "1.5 e3", "1,5", "+-1", "infinity x"}},
		{"text", []string{"a\x00b", "\xff\xfe"}},
		{"name", []string{long, "a\x00"}},
		{"uuid", []string{
			" a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11 ",
			"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",
			"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
			"a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11", "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
			"a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-", ""}},
		{"bool", []string{"", "o", "tru e", "truex", "yess", "2", "onn", "nope", "offf"}},
		{"date", []string{"2020-1-2", "01/02/2020", "2020-02-30", "2019-02-29", "0000-01-01", "20200102",
			"2020-01-02 BC", "today", "epoch", "2020-01-02 00:00:00", "12020-01-01", "Jan 2 2020", "+infinity", "2020-13-01"}},
		{"timestamp", []string{"2020-01-02", "2020-01-02 03:04", "2020-01-02 24:00:00", "2020-01-02 03:04:60",
			"2020-01-02 03:04:05.1234567", "2020-01-02 03:04:05+02", "2020-01-02 03:04:05Z", "now",
			"2020-01-02  03:04:05", "2020-01-02 03:04:05.", "2020-01-02 3:04:05", "2020-01-02 03:04:05 BC"}},
		{"timestamptz", []string{"2020-01-02 03:04:05", "2020-01-02 03:04:05 PST", "2020-01-02 03:04:05 +02",
			"2020-01-02 03:04:05+16", "2020-01-02 03:04:05+0530", "2020-01-02 03:04:05z", "2020-01-02 03:04:05+05:60",
			"2020-01-02 03:04:05 Europe/Paris", "2020-01-02 03:04:05.1234567+00", "2020-01-02", "now"}},
		{"time", []string{"24:00:00", "1:02:03", "01:02", "01:02:03+05", "allballs", "01:02:03.1234567", "01:60:00"}},
		{"float8", []string{"1e400", "-1e400", "1e-400", "0x1p3", "1.5f", "nan(1)", "", "1e", "infinit", "1,5", "1_0", "."}},
		{"float4", []string{"1e39", "-1e39", "1e-50", "3.5e38"}},
		{"bytea", []string{"abc", `\x0`, `\xzz`, `\X00`, `\x0 0`, `\001`, ""}},
		{"interval", []string{"1 day", "P1D", "00:00:01"}},
		{"json", []string{"{}"}},
		{"point", []string{"(1,2)"}},
		{"timetz", []string{"01:02:03+00"}},
	}
	for _, tc := range tests {
		for _, s := range tc.texts {
			if c, ok := CanonicalText(tc.typ, s); ok {
				t.Errorf("CanonicalText(%q, %q) = %x, true; want ok=false", tc.typ, s, c)
			}
		}
	}
}

// TestCanonicalTextValues pins the canonical bytes of single values.
func TestCanonicalTextValues(t *testing.T) {
	tests := []struct {
		typ, text string
		want      []byte
	}{
		{"int4", "-1", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"int2", "-32768", i64(-32768)},
		{"int2", "32767", i64(32767)},
		{"int4", "2147483647", i64(math.MaxInt32)},
		{"int8", " 9223372036854775807\n", i64(math.MaxInt64)},
		{"oid", "0", i64(0)},
		{"date", "2000-01-01", i64(0)},
		{"date", "2000-01-02", i64(1)},
		{"date", "0001-01-01", i64(-730119)},
		{"date", "9999-12-31", i64(2921939)},
		{"timestamp", "2000-01-01 00:00:01", i64(1000000)},
		{"timestamp", "1999-12-31 23:59:59.999999", i64(-1)},
		{"timestamptz", "2000-01-01 01:00:00+01", i64(0)},
		{"timestamptz", "2000-01-01 00:00:00-15:59", i64(57540000000)},
		{"time", "00:00:01.5", i64(1500000)},
		{"time", "23:59:59.999999", i64(86399999999)},
		{"float8", "1", i64(int64(math.Float64bits(1)))},
		{"float8", "nan", i64(0x7ff8000000000000)},
		{"float4", "0.1", i64(int64(math.Float64bits(float64(float32(0.1)))))},
		{"text", "", []byte{}},
		{"char", "é", []byte{0xc3}},
		{"char", `\377`, []byte{0xff}},
		{"char", `\1`, []byte{'\\'}},
		{"name", string(bytes.Repeat([]byte("n"), 63)), bytes.Repeat([]byte("n"), 63)},
		{"numeric", "1e5", []byte("100000")},
		{"numeric", "-0.50", []byte("-0.5")},
		{"numeric", "00012.3400e1", []byte("123.4")},
		{"numeric", "5.", []byte("5")},
	}
	for _, tc := range tests {
		got, ok := CanonicalText(tc.typ, tc.text)
		if !ok || !bytes.Equal(got, tc.want) || got == nil {
			t.Errorf("CanonicalText(%q, %q) = %x, %v; want %x, true", tc.typ, tc.text, got, ok, tc.want)
		}
	}
}

func numericWire(ndigits, weight int16, sign, dscale uint16, digits ...int16) []byte {
	b := make([]byte, 8, 8+2*len(digits))
	binary.BigEndian.PutUint16(b[0:], uint16(ndigits))
	binary.BigEndian.PutUint16(b[2:], uint16(weight))
	binary.BigEndian.PutUint16(b[4:], sign)
	binary.BigEndian.PutUint16(b[6:], dscale)
	for _, d := range digits {
		b = binary.BigEndian.AppendUint16(b, uint16(d))
	}
	return b
}

// TestNumericBinary covers wire forms pgx does not produce: digits hidden by dscale, negative zero.
func TestNumericBinary(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"1.5 with dscale 0 is truncated to 1", numericWire(2, 0, numericPos, 0, 1, 5000), "1"},
		{"1.5 with dscale 1", numericWire(2, 0, numericPos, 1, 1, 5000), "1.5"},
		{"1.23456 with dscale 3", numericWire(3, 0, numericPos, 3, 1, 2345, 6000), "1.234"},
		{"0.00001 with dscale 2 is zero", numericWire(1, -2, numericPos, 2, 1000), "0"},
		{"negative zero", numericWire(0, 0, numericNeg, 0), "0"},
		{"zero with scale", numericWire(0, 0, numericPos, 5), "0"},
		{"10000", numericWire(1, 1, numericPos, 0, 1), "10000"},
		{"-12345678.9", numericWire(3, 1, numericNeg, 1, 1234, 5678, 9000), "-12345678.9"},
		{"0.0001", numericWire(1, -1, numericPos, 4, 1), "0.0001"},
		{"leading zero digit", numericWire(2, 1, numericPos, 0, 0, 7), "7"},
		{"NaN ignores the rest", numericWire(0, 0, numericNaNs, 0), "NaN"},
		{"+Inf", numericWire(0, 0, numericPInf, 0), "Infinity"},
		{"-Inf", numericWire(0, 0, numericNInf, 0), "-Infinity"},
	}
	for _, tc := range tests {
		got, err := CanonicalBinary("numeric", tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: CanonicalBinary = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	bad := map[string][]byte{
		"short header":   {0, 1},
		"missing digit":  numericWire(2, 0, numericPos, 0, 1),
		"extra byte":     append(numericWire(1, 0, numericPos, 0, 1), 0),
		"bad sign":       numericWire(1, 0, 0x8000, 0, 1),
		"digit too big":  numericWire(1, 0, numericPos, 0, 10000),
		"negative digit": numericWire(1, 0, numericPos, 0, -1),
		"scale too big":  numericWire(1, 0, numericPos, 0x4000, 1),
		"negative count": numericWire(-1, 0, numericPos, 0),
	}
	for name, in := range bad {
		if got, err := CanonicalBinary("numeric", in); err == nil {
			t.Errorf("%s: CanonicalBinary = %q, want an error", name, got)
		}
	}
}

// TestCanonicalBinaryErrors: wrong lengths and types that cannot be distribution columns.
func TestCanonicalBinaryErrors(t *testing.T) {
	tests := []struct {
		typ string
		in  []byte
	}{
		{"int2", []byte{1}}, {"int4", []byte{1, 2, 3}}, {"int8", make([]byte, 4)}, {"oid", make([]byte, 8)},
		{"date", make([]byte, 8)}, {"time", make([]byte, 4)}, {"timestamp", nil}, {"timestamptz", make([]byte, 9)},
		{"bool", nil}, {"bool", []byte{1, 0}}, {"char", []byte("ab")}, {"uuid", make([]byte, 15)},
		{"float4", make([]byte, 8)}, {"float8", make([]byte, 4)}, {"interval", make([]byte, 12)},
		{"name", bytes.Repeat([]byte("n"), 64)},
		{"json", []byte("{}")}, {"point", make([]byte, 16)}, {"", nil},
	}
	for _, tc := range tests {
		if got, err := CanonicalBinary(tc.typ, tc.in); err == nil {
			t.Errorf("CanonicalBinary(%q, %x) = %x, want an error", tc.typ, tc.in, got)
		}
	}
	// A non-zero bool byte is true, as boolrecv reads it.
	if got, err := CanonicalBinary("bool", []byte{7}); err != nil || !bytes.Equal(got, []byte{1}) {
		t.Errorf("CanonicalBinary(bool, 07) = %x, %v; want 01", got, err)
	}
	// Empty input of a variable-length type is an empty value, never nil (nil is NULL).
	for _, typ := range []string{"text", "varchar", "bpchar", "name", "bytea"} {
		if got, err := CanonicalBinary(typ, nil); err != nil || got == nil || len(got) != 0 {
			t.Errorf("CanonicalBinary(%q, nil) = %#v, %v; want empty non-nil", typ, got, err)
		}
	}
}

// TestCanonicalDoesNotAlias: the result never shares memory with the input buffer, which a wire reader reuses.
func TestCanonicalDoesNotAlias(t *testing.T) {
	for _, typ := range []string{"text", "bpchar", "bytea", "uuid", "name", "varchar"} {
		in := bytes.Repeat([]byte{'a'}, 16)
		got, err := CanonicalBinary(typ, in)
		if err != nil {
			t.Fatal(err)
		}
		in[0] = 'z'
		if got[0] != 'a' {
			t.Errorf("CanonicalBinary(%q) aliases its input", typ)
		}
	}
}

func TestIntervalSpan(t *testing.T) {
	const day = 86400000000
	tests := []struct {
		usec         int64
		days, months int32
		want         *big.Int
	}{
		{0, 0, 0, big.NewInt(0)},
		{1, 0, 0, big.NewInt(1)},
		{-1, 0, 0, big.NewInt(-1)},
		{0, 1, 0, big.NewInt(day)},
		{0, 0, -1, big.NewInt(-30 * day)},
		{math.MaxInt64, math.MaxInt32, math.MaxInt32, nil},
		{math.MinInt64, math.MinInt32, math.MinInt32, nil},
	}
	for _, tc := range tests {
		want := tc.want
		if want == nil {
			d := new(big.Int).Mul(big.NewInt(int64(tc.months)), big.NewInt(30))
			d.Add(d, big.NewInt(int64(tc.days)))
			d.Mul(d, big.NewInt(day))
			want = d.Add(d, big.NewInt(tc.usec))
		}
		got := intervalSpan(tc.usec, tc.days, tc.months)
		if v := fromTwos128(got); v.Cmp(want) != 0 {
			t.Errorf("intervalSpan(%d, %d, %d) = %s, want %s", tc.usec, tc.days, tc.months, v, want)
		}
	}
}

func fromTwos128(b []byte) *big.Int {
	v := new(big.Int).SetBytes(b)
	if b[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), 128))
	}
	return v
}
