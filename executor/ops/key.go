package ops

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// PostgreSQL type OIDs of the key types.
const (
	oidBool        = 16
	oidBytea       = 17
	oidChar        = 18
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidFloat4      = 700
	oidFloat8      = 701
	oidMoney       = 790
	oidBpchar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidInterval    = 1186
	oidNumeric     = 1700
	oidUUID        = 2950
)

// keyCodec orders and hashes the binary wire values of one type as
// PostgreSQL's btree operator class for the type does. cmp and canon take
// non-NULL values that passed check.
type keyCodec struct {
	oid uint32
	// family names the types whose canon forms agree: values of two types
	// of one family are equal iff their canon forms are.
	family string
	// size is the length of every value, or -1 when it varies.
	size int
	// valid, when set, checks a value's shape beyond its size.
	valid func(v []byte) bool
	// cmp is the btree order: <0, 0, >0.
	cmp func(a, b []byte) int
	// canon is equal for two values iff PostgreSQL's = says they are.
	canon func(v []byte) string
}

// check reports a value the codec cannot read, before it is compared:
// values come from a datanode, so this only catches a wrong type or a bug.
func (k keyCodec) check(v []byte) error {
	if (k.size >= 0 && len(v) != k.size) || (k.valid != nil && !k.valid(v)) {
		return fmt.Errorf("ops: malformed binary value of type %d (%d bytes)", k.oid, len(v))
	}
	return nil
}

// Comparable tells whether binary values of the type can be compared and
// hashed at the coordinator.
func Comparable(oid uint32) bool {
	_, ok := codecs[oid]
	return ok
}

// keyFor is the codec of a column that is compared or hashed.
func keyFor(f Field) (keyCodec, error) {
	if f.Format != 1 {
		return keyCodec{}, fmt.Errorf("ops: key column %q is not in binary format", f.Name)
	}
	k, ok := codecs[f.DataTypeOID]
	if !ok {
		return keyCodec{}, fmt.Errorf("ops: key column %q: type %d cannot be compared at the coordinator", f.Name, f.DataTypeOID)
	}
	return k, nil
}

var codecs = map[uint32]keyCodec{}

func init() {
	add := func(k keyCodec) { codecs[k.oid] = k }
	raw := func(v []byte) string { return string(v) }

	add(keyCodec{oid: oidBool, family: "bool", size: 1, valid: func(v []byte) bool { return v[0] <= 1 }, cmp: bytes.Compare, canon: raw})
	add(keyCodec{oid: oidBytea, family: "bytea", size: -1, cmp: bytes.Compare, canon: raw})
	// "char" compares as an unsigned byte, which bytes.Compare does.
	add(keyCodec{oid: oidChar, family: "char", size: 1, cmp: bytes.Compare, canon: raw})
	// The string types compare bytewise: the planner only compares them
	// here under a collation that orders bytewise. bpchar ignores
	// trailing spaces, also when compared with text (bpchar's cast to text
	// drops them), so the family shares one canon.
	for _, oid := range []uint32{oidName, oidText, oidVarchar} {
		add(keyCodec{oid: oid, family: "string", size: -1, cmp: bytes.Compare, canon: raw})
	}
	add(keyCodec{oid: oidBpchar, family: "string", size: -1,
		cmp:   func(a, b []byte) int { return bytes.Compare(trimSpaces(a), trimSpaces(b)) },
		canon: func(v []byte) string { return string(trimSpaces(v)) }})

	// The integers and numeric share the canon of the decimal form, so
	// that int4 5 and numeric 5.00 hash alike.
	add(keyCodec{oid: oidInt2, family: "number", size: 2,
		cmp:   func(a, b []byte) int { return cmp.Compare(int16(be.Uint16(a)), int16(be.Uint16(b))) },
		canon: func(v []byte) string { return strconv.FormatInt(int64(int16(be.Uint16(v))), 10) }})
	add(keyCodec{oid: oidInt4, family: "number", size: 4, cmp: cmpInt32,
		canon: func(v []byte) string { return strconv.FormatInt(int64(int32(be.Uint32(v))), 10) }})
	add(keyCodec{oid: oidInt8, family: "number", size: 8, cmp: cmpInt64,
		canon: func(v []byte) string { return strconv.FormatInt(int64(be.Uint64(v)), 10) }})
	add(keyCodec{oid: oidNumeric, family: "number", size: -1,
		valid: func(v []byte) bool { _, ok := decodeNumeric(v); return ok },
		cmp:   func(a, b []byte) int { return cmpNumeric(mustNumeric(a), mustNumeric(b)) },
		canon: func(v []byte) string { return mustNumeric(v).canon() }})

	add(keyCodec{oid: oidOID, family: "oid", size: 4, cmp: bytes.Compare, canon: raw})
	// float4 compares with float8 as the float8 it widens to.
	f4 := func(v []byte) float64 { return float64(math.Float32frombits(be.Uint32(v))) }
	f8 := func(v []byte) float64 { return math.Float64frombits(be.Uint64(v)) }
	add(keyCodec{oid: oidFloat4, family: "float", size: 4,
		cmp:   func(a, b []byte) int { return cmpFloat(f4(a), f4(b)) },
		canon: func(v []byte) string { return canonFloat(f4(v)) }})
	add(keyCodec{oid: oidFloat8, family: "float", size: 8,
		cmp:   func(a, b []byte) int { return cmpFloat(f8(a), f8(b)) },
		canon: func(v []byte) string { return canonFloat(f8(v)) }})
	add(keyCodec{oid: oidMoney, family: "money", size: 8, cmp: cmpInt64, canon: raw})

	// The date/time types are integers whose infinities are their extreme
	// values, so they order naturally; one value has one wire form.
	add(keyCodec{oid: oidDate, family: "date", size: 4, cmp: cmpInt32, canon: raw})
	add(keyCodec{oid: oidTime, family: "time", size: 8, cmp: cmpInt64, canon: raw})
	add(keyCodec{oid: oidTimestamp, family: "timestamp", size: 8, cmp: cmpInt64, canon: raw})
	add(keyCodec{oid: oidTimestamptz, family: "timestamptz", size: 8, cmp: cmpInt64, canon: raw})
	add(keyCodec{oid: oidInterval, family: "interval", size: 16,
		cmp: func(a, b []byte) int { return intervalSpan(a).cmp(intervalSpan(b)) },
		canon: func(v []byte) string {
			s := intervalSpan(v)
			var buf [16]byte
			be.PutUint64(buf[:8], uint64(s.hi))
			be.PutUint64(buf[8:], s.lo)
			return string(buf[:])
		}})
	add(keyCodec{oid: oidUUID, family: "uuid", size: 16, cmp: bytes.Compare, canon: raw})
}

var be = binary.BigEndian

func cmpInt32(a, b []byte) int { return cmp.Compare(int32(be.Uint32(a)), int32(be.Uint32(b))) }
func cmpInt64(a, b []byte) int { return cmp.Compare(int64(be.Uint64(a)), int64(be.Uint64(b))) }

func trimSpaces(v []byte) []byte { return bytes.TrimRight(v, " ") }

// cmpFloat is float8_cmp_internal: NaN equals NaN and sorts above every
// other value; -0 equals 0.
func cmpFloat(a, b float64) int {
	switch an, bn := math.IsNaN(a), math.IsNaN(b); {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	return cmp.Compare(a, b)
}

func canonFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case f == 0:
		f = 0 // -0
	}
	return strconv.FormatUint(math.Float64bits(f), 16)
}

// int128 is a signed 128-bit integer.
type int128 struct {
	hi int64
	lo uint64
}

func (a int128) cmp(b int128) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

// intervalSpan is interval_cmp_value: an interval's length in
// microseconds, a month counting 30 days and a day 24 hours, in 128 bits.
// The wire form is microseconds int64, days int32, months int32.
func intervalSpan(v []byte) int128 {
	const usecsPerDay = 86_400_000_000
	usecs := int64(be.Uint64(v))
	days := int64(int32(be.Uint32(v[8:]))) + int64(int32(be.Uint32(v[12:])))*30
	// days * usecsPerDay as a signed 128-bit product.
	hi, lo := bits.Mul64(uint64(days), usecsPerDay)
	if days < 0 {
		hi -= usecsPerDay
	}
	// + usecs, sign-extended.
	lo, carry := bits.Add64(lo, uint64(usecs), 0)
	hi += carry
	if usecs < 0 {
		hi--
	}
	return int128{int64(hi), lo}
}

// numeric is a decoded binary numeric.
type numeric struct {
	// class orders the kinds: -Inf < finite < +Inf < NaN.
	class int
	neg   bool
	// weight is the power of 10000 of digits' first digit.
	weight int
	// digits are the base-10000 digits, two bytes each, without leading
	// or trailing zero digits: empty for zero.
	digits []byte
}

const (
	numNegInf = iota
	numFinite
	numPosInf
	numNaN
)

// decodeNumeric reads numeric_send's form: ndigits, weight, sign, dscale
// (int16 each), then ndigits base-10000 digits (int16 each).
func decodeNumeric(v []byte) (numeric, bool) {
	if len(v) < 8 {
		return numeric{}, false
	}
	nd := int(int16(be.Uint16(v)))
	if nd < 0 || len(v) != 8+2*nd {
		return numeric{}, false
	}
	n := numeric{class: numFinite, weight: int(int16(be.Uint16(v[2:])))}
	switch be.Uint16(v[4:]) {
	case 0x0000:
	case 0x4000:
		n.neg = true
	case 0xC000:
		return numeric{class: numNaN}, nd == 0
	case 0xD000:
		return numeric{class: numPosInf}, nd == 0
	case 0xF000:
		return numeric{class: numNegInf}, nd == 0
	default:
		return numeric{}, false
	}
	d := v[8:]
	for i := 0; i < len(d); i += 2 {
		if be.Uint16(d[i:]) > 9999 {
			return numeric{}, false
		}
	}
	for len(d) > 0 && d[0] == 0 && d[1] == 0 {
		d = d[2:]
		n.weight--
	}
	for len(d) > 0 && d[len(d)-2] == 0 && d[len(d)-1] == 0 {
		d = d[:len(d)-2]
	}
	n.digits = d
	if len(d) == 0 {
		n.neg, n.weight = false, 0
	}
	return n, true
}

func mustNumeric(v []byte) numeric {
	n, ok := decodeNumeric(v)
	if !ok {
		panic("ops: numeric value not checked")
	}
	return n
}

// cmpNumeric is cmp_numerics.
func cmpNumeric(a, b numeric) int {
	if a.class != b.class || a.class != numFinite {
		return cmp.Compare(a.class, b.class)
	}
	sign := func(n numeric) int {
		switch {
		case len(n.digits) == 0:
			return 0
		case n.neg:
			return -1
		}
		return 1
	}
	sa, sb := sign(a), sign(b)
	if sa != sb || sa == 0 {
		return cmp.Compare(sa, sb)
	}
	// Same sign, both non-zero: compare magnitudes. With no leading zero
	// digit the weight decides first; then the digits, whose two-byte
	// big-endian form orders as bytes (a prefix is the smaller).
	c := cmp.Compare(a.weight, b.weight)
	if c == 0 {
		c = bytes.Compare(a.digits, b.digits)
	}
	return sa * c
}

// canon is the shortest decimal form ("-12.5", "0", "NaN", "Infinity"),
// which strconv.FormatInt gives for the integers too.
func (n numeric) canon() string {
	switch n.class {
	case numNaN:
		return "NaN"
	case numPosInf:
		return "Infinity"
	case numNegInf:
		return "-Infinity"
	}
	if len(n.digits) == 0 {
		return "0"
	}
	digit := func(power int) int { // the base-10000 digit at 10000^power
		i := n.weight - power
		if i < 0 || 2*i >= len(n.digits) {
			return 0
		}
		return int(be.Uint16(n.digits[2*i:]))
	}
	var b strings.Builder
	if n.neg {
		b.WriteByte('-')
	}
	b.WriteString(strconv.Itoa(digit(max(n.weight, 0))))
	for p := n.weight - 1; p >= 0; p-- {
		write4(&b, digit(p))
	}
	last := n.weight - len(n.digits)/2 + 1 // power of the last digit
	if last >= 0 {
		return b.String()
	}
	b.WriteByte('.')
	for p := -1; p >= last; p-- {
		write4(&b, digit(p))
	}
	// The last digit is not zero, so this trims only its trailing zeros.
	return strings.TrimRight(b.String(), "0")
}

// write4 writes d (0..9999) as four decimal digits.
func write4(b *strings.Builder, d int) {
	b.WriteByte(byte('0' + d/1000))
	b.WriteByte(byte('0' + d/100%10))
	b.WriteByte(byte('0' + d/10%10))
	b.WriteByte(byte('0' + d%10))
}
