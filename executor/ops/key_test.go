package ops

import (
	"math"
	"testing"
)

func TestKeyOrder(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name string
		oid  uint32
		a, b []byte
		want int // cmp(a, b); canon equal iff 0
	}{
		{"bool", oidBool, []byte{0}, []byte{1}, -1},
		{"bytea", oidBytea, []byte{1, 2}, []byte{1, 2, 0}, -1},
		{"char unsigned", oidChar, []byte{0x80}, []byte{0x7f}, 1},
		{"name", oidName, []byte("abc"), []byte("abd"), -1},
		{"int2", oidInt2, i2(-1), i2(1), -1},
		{"int4", oidInt4, i4(math.MinInt32), i4(-1), -1},
		{"int4 equal", oidInt4, i4(7), i4(7), 0},
		{"int8", oidInt8, i8(math.MaxInt64), i8(-1), 1},
		{"text bytewise", oidText, []byte("B"), []byte("a"), -1},
		{"oid unsigned", oidOID, be.AppendUint32(nil, math.MaxUint32), be.AppendUint32(nil, 1), 1},
		{"float8", oidFloat8, f8(-1.5), f8(2), -1},
		{"float8 NaN = NaN", oidFloat8, f8(nan), f8(-nan), 0},
		{"float8 NaN > Inf", oidFloat8, f8(nan), f8(inf), 1},
		{"float8 -Inf", oidFloat8, f8(-inf), f8(-math.MaxFloat64), -1},
		{"float8 -0 = 0", oidFloat8, f8(math.Copysign(0, -1)), f8(0), 0},
		{"float4 NaN > Inf", oidFloat4, f4(float32(nan)), f4(float32(inf)), 1},
		{"float4 -0 = 0", oidFloat4, f4(float32(math.Copysign(0, -1))), f4(0), 0},
		{"money", oidMoney, i8(-100), i8(5), -1},
		{"bpchar trailing spaces", oidBpchar, []byte("ab  "), []byte("ab"), 0},
		{"bpchar trimmed first", oidBpchar, []byte("a "), []byte("a\x01"), -1},
		{"varchar keeps spaces", oidVarchar, []byte("ab "), []byte("ab"), 1},
		{"date infinity", oidDate, i4(math.MaxInt32), i4(1_000_000), 1},
		{"date -infinity", oidDate, i4(math.MinInt32), i4(-1_000_000), -1},
		{"time", oidTime, i8(1), i8(86_400_000_000), -1},
		{"timestamp infinity", oidTimestamp, i8(math.MaxInt64), i8(0), 1},
		{"timestamptz -infinity", oidTimestamptz, i8(math.MinInt64), i8(0), -1},
		{"interval 1 mon = 30 days", oidInterval, interval(0, 0, 1), interval(0, 30, 0), 0},
		{"interval 1 day = 24 hours", oidInterval, interval(0, 1, 0), interval(86_400_000_000, 0, 0), 0},
		{"interval -1 mon < -29 days", oidInterval, interval(0, 0, -1), interval(0, -29, 0), -1},
		{"interval months beyond int64", oidInterval, interval(math.MaxInt64, 0, 0), interval(0, 0, math.MaxInt32), -1},
		{"interval negative beyond int64", oidInterval, interval(math.MinInt64, 0, 0), interval(0, math.MinInt32, math.MinInt32), 1},
		{"interval mixed", oidInterval, interval(-1, 0, 1), interval(0, 30, 0), -1},
		{"numeric 1.0 = 1.00", oidNumeric, num("1.0"), num("1.00"), 0},
		{"numeric 1.00 < 1.01", oidNumeric, num("1.00"), num("1.01"), -1},
		{"numeric -2 < -1.5", oidNumeric, num("-2"), num("-1.5"), -1},
		{"numeric 10000 > 9999.9999", oidNumeric, num("10000"), num("9999.9999"), 1},
		{"numeric 0.00012 < 0.0002", oidNumeric, num("0.00012"), num("0.0002"), -1},
		{"numeric 0 = 0.000", oidNumeric, num("0"), num("0.000"), 0},
		{"numeric -0.5 < 0", oidNumeric, num("-0.5"), num("0"), -1},
		{"numeric leading zero digit", oidNumeric, rawNum(1, 0, 0, 0, 5, 0), num("5"), 0},
		{"numeric NaN = NaN", oidNumeric, num("NaN"), num("NaN"), 0},
		{"numeric NaN > Infinity", oidNumeric, num("NaN"), num("Infinity"), 1},
		{"numeric Infinity > big", oidNumeric, num("Infinity"), num("99999999999999999999999"), 1},
		{"numeric -Infinity < -big", oidNumeric, num("-Infinity"), num("-99999999999999999999999"), -1},
		{"uuid", oidUUID, make([]byte, 16), append(make([]byte, 15), 1), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := keyFor(bin("c", tt.oid))
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range [][]byte{tt.a, tt.b} {
				if err := k.check(v); err != nil {
					t.Fatal(err)
				}
			}
			if got := k.cmp(tt.a, tt.b); got != tt.want {
				t.Errorf("cmp = %d, want %d", got, tt.want)
			}
			if got := k.cmp(tt.b, tt.a); got != -tt.want {
				t.Errorf("reversed cmp = %d, want %d", got, -tt.want)
			}
			if eq := k.canon(tt.a) == k.canon(tt.b); eq != (tt.want == 0) {
				t.Errorf("canon equal = %v, want %v (%q, %q)", eq, tt.want == 0, k.canon(tt.a), k.canon(tt.b))
			}
		})
	}
}

// The integers and numeric hash alike, so that they join.
func TestKeyCanonNumbers(t *testing.T) {
	tests := []struct {
		oid  uint32
		v    []byte
		want string
	}{
		{oidInt2, i2(-7), "-7"},
		{oidInt4, i4(5), "5"},
		{oidInt8, i8(math.MinInt64), "-9223372036854775808"},
		{oidNumeric, num("5.00"), "5"},
		{oidNumeric, num("-9223372036854775808.0"), "-9223372036854775808"},
		{oidNumeric, num("-12345.678"), "-12345.678"},
		{oidNumeric, num("100000000"), "100000000"},
		{oidNumeric, num("0.00012"), "0.00012"},
		{oidNumeric, num("-0.000"), "0"},
		{oidNumeric, rawNum(-3, 0x4000, 12, 5000), "-0.000000005"},
		{oidNumeric, num("NaN"), "NaN"},
		{oidNumeric, num("-Infinity"), "-Infinity"},
	}
	for _, tt := range tests {
		if got := codecs[tt.oid].canon(tt.v); got != tt.want {
			t.Errorf("canon of %x (type %d) = %q, want %q", tt.v, tt.oid, got, tt.want)
		}
	}
}

func TestKeyErrors(t *testing.T) {
	if !Comparable(oidNumeric) || Comparable(114) {
		t.Error("Comparable: numeric should be, json not")
	}
	if _, err := keyFor(txt("t")); err == nil {
		t.Error("keyFor of a text-format column: no error")
	}
	if _, err := keyFor(bin("j", 114)); err == nil {
		t.Error("keyFor of json: no error")
	}
	bad := []struct {
		oid uint32
		v   []byte
	}{
		{oidInt4, []byte{1, 2, 3}},
		{oidBool, []byte{2}},
		{oidInterval, i8(1)},
		{oidNumeric, []byte{0, 1, 0, 0}},                  // short
		{oidNumeric, rawNum(0, 0, 0, 10000)},              // digit too big
		{oidNumeric, rawNum(0, 0x1234, 0, 1)},             // bad sign
		{oidNumeric, append(rawNum(0, 0, 0, 1), 0)},       // trailing byte
		{oidNumeric, rawNum(0, 0xC000, 0, 1)},             // NaN with digits
		{oidNumeric, be.AppendUint16(rawNum(0, 0, 0), 1)}, // ndigits 0, a digit follows
	}
	for _, b := range bad {
		if err := codecs[b.oid].check(b.v); err == nil {
			t.Errorf("check of %x (type %d): no error", b.v, b.oid)
		}
	}
}
