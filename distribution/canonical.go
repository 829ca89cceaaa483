package distribution

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"
)

// nameDataLen is PostgreSQL's NAMEDATALEN: a name holds at most nameDataLen-1 bytes.
const nameDataLen = 64

// CanonicalText encodes a value given in PostgreSQL's text form (a literal, a text parameter, a COPY
// field) canonically for its column type. ok=false means the text cannot be canonicalised without
// PostgreSQL's own input function (it depends on a session setting, uses a rarely seen input form, or
// is malformed): the caller then has a datanode evaluate `$1::type` in binary and uses CanonicalBinary.
// The result is never nil, so that nil stays free to mean SQL NULL.
//
// Type modifiers are not applied: a numeric(p,s), timestamp(p) or varchar(n) column rounds or trims
// some values on input, so for such columns the caller must canonicalise the value as coerced.
func CanonicalText(typeName, text string) (canon []byte, ok bool) {
	switch resolveType(typeName) {
	case "int2":
		return intText(text, math.MinInt16, math.MaxInt16)
	case "int4":
		return intText(text, math.MinInt32, math.MaxInt32)
	case "int8":
		return intText(text, math.MinInt64, math.MaxInt64)
	case "oid":
		return oidText(text)
	case "numeric":
		return numericText(text)
	case "text", "varchar":
		if !validText(text) {
			return nil, false
		}
		return []byte(text), true
	case "name":
		if !validText(text) || len(text) >= nameDataLen {
			// namein truncates at a character boundary; leave that to PostgreSQL.
			return nil, false
		}
		return []byte(text), true
	case "bpchar":
		if !validText(text) {
			return nil, false
		}
		return []byte(strings.TrimRight(text, " ")), true
	case "char":
		return qcharText(text)
	case "uuid":
		return uuidText(text)
	case "bool":
		return boolText(text)
	case "date":
		return dateText(text)
	case "time":
		return timeText(text)
	case "timestamp":
		return timestampText(text, false)
	case "timestamptz":
		return timestampText(text, true)
	case "interval":
		// interval input depends on IntervalStyle and has many forms.
		return nil, false
	case "float4":
		return floatText(text, 32)
	case "float8":
		return floatText(text, 64)
	case "bytea":
		return byteaText(text)
	}
	return nil, false
}

// CanonicalBinary encodes a value given in PostgreSQL's binary wire format for its column type.
// b is the value of a non-NULL parameter or field; the result is never nil.
func CanonicalBinary(typeName string, b []byte) ([]byte, error) {
	t := resolveType(typeName)
	wantLen := func(n int) error {
		if len(b) != n {
			return fmt.Errorf("binary %s value has %d bytes, want %d", t, len(b), n)
		}
		return nil
	}
	switch t {
	case "int2":
		if err := wantLen(2); err != nil {
			return nil, err
		}
		return int64Bytes(int64(int16(binary.BigEndian.Uint16(b)))), nil
	case "int4":
		if err := wantLen(4); err != nil {
			return nil, err
		}
		return int64Bytes(int64(int32(binary.BigEndian.Uint32(b)))), nil
	case "int8", "time", "timestamp", "timestamptz":
		if err := wantLen(8); err != nil {
			return nil, err
		}
		return int64Bytes(int64(binary.BigEndian.Uint64(b))), nil
	case "oid":
		if err := wantLen(4); err != nil {
			return nil, err
		}
		return int64Bytes(int64(binary.BigEndian.Uint32(b))), nil
	case "date":
		if err := wantLen(4); err != nil {
			return nil, err
		}
		return int64Bytes(int64(int32(binary.BigEndian.Uint32(b)))), nil
	case "numeric":
		return numericBinary(b)
	case "text", "varchar", "bytea":
		return append([]byte{}, b...), nil
	case "name":
		if len(b) >= nameDataLen {
			return nil, fmt.Errorf("binary name value has %d bytes, at most %d allowed", len(b), nameDataLen-1)
		}
		return append([]byte{}, b...), nil
	case "bpchar":
		n := len(b)
		for n > 0 && b[n-1] == ' ' {
			n--
		}
		return append([]byte{}, b[:n]...), nil
	case "char", "bool":
		if err := wantLen(1); err != nil {
			return nil, err
		}
		if t == "bool" && b[0] != 0 {
			return []byte{1}, nil
		}
		return []byte{b[0]}, nil
	case "uuid":
		if err := wantLen(16); err != nil {
			return nil, err
		}
		return append([]byte{}, b...), nil
	case "float4":
		if err := wantLen(4); err != nil {
			return nil, err
		}
		return floatBytes(float64(math.Float32frombits(binary.BigEndian.Uint32(b)))), nil
	case "float8":
		if err := wantLen(8); err != nil {
			return nil, err
		}
		return floatBytes(math.Float64frombits(binary.BigEndian.Uint64(b))), nil
	case "interval":
		if err := wantLen(16); err != nil {
			return nil, err
		}
		usec := int64(binary.BigEndian.Uint64(b[0:8]))
		days := int32(binary.BigEndian.Uint32(b[8:12]))
		months := int32(binary.BigEndian.Uint32(b[12:16]))
		return intervalSpan(usec, days, months), nil
	}
	return nil, fmt.Errorf("type %q cannot be a distribution column", typeName)
}

// int64Bytes is the canonical form of every integer-valued type: 8 bytes big-endian.
func int64Bytes(v int64) []byte {
	var out [8]byte
	binary.BigEndian.PutUint64(out[:], uint64(v))
	return out[:]
}

// floatBytes is the canonical float: IEEE bits of the float64, one zero, one NaN.
func floatBytes(f float64) []byte {
	switch {
	case f == 0:
		f = 0 // -0 == 0 in PostgreSQL
	case math.IsNaN(f):
		return int64Bytes(0x7ff8000000000000)
	}
	return int64Bytes(int64(math.Float64bits(f)))
}

// intervalSpan is PostgreSQL's interval_cmp_value, which interval equality and hashing use:
// months count 30 days, days 24 hours. It is a 128-bit number, returned as 16 bytes big-endian
// two's complement.
func intervalSpan(usec int64, days, months int32) []byte {
	const usecsPerDay = 86400000000
	totalDays := usec/usecsPerDay + int64(months)*30 + int64(days)
	frac := usec % usecsPerDay
	// span = totalDays*usecsPerDay + frac, in 128 bits.
	hi, lo := mul64x64Signed(totalDays, usecsPerDay)
	hi, lo = add128(hi, lo, frac)
	var out [16]byte
	binary.BigEndian.PutUint64(out[0:8], uint64(hi))
	binary.BigEndian.PutUint64(out[8:16], lo)
	return out[:]
}

// mul64x64Signed returns the signed 128-bit product a*b as (high, low).
func mul64x64Signed(a, b int64) (int64, uint64) {
	neg := (a < 0) != (b < 0)
	ua, ub := absU64(a), absU64(b)
	hi, lo := bits.Mul64(ua, ub)
	if neg {
		lo = ^lo + 1
		hi = ^hi
		if lo == 0 {
			hi++
		}
	}
	return int64(hi), lo
}

// add128 adds a signed 64-bit value to a signed 128-bit value.
func add128(hi int64, lo uint64, v int64) (int64, uint64) {
	ext := int64(0)
	if v < 0 {
		ext = -1
	}
	nlo := lo + uint64(v)
	carry := int64(0)
	if nlo < lo {
		carry = 1
	}
	return hi + ext + carry, nlo
}

func absU64(v int64) uint64 {
	if v < 0 {
		return uint64(-v) // also right for math.MinInt64
	}
	return uint64(v)
}

// isPGSpace is C isspace() in the C locale, which PostgreSQL's input functions skip.
func isPGSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func trimPGSpace(s string) string {
	i, j := 0, len(s)
	for i < j && isPGSpace(s[i]) {
		i++
	}
	for j > i && isPGSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

// validText: PostgreSQL text cannot hold NUL, and a UTF-8 database only valid UTF-8.
func validText(s string) bool {
	return strings.IndexByte(s, 0) < 0 && utf8.ValidString(s)
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// intText follows pg_strtoint16/32/64: whitespace, an optional sign, decimal digits, whitespace.
func intText(text string, lo, hi int64) ([]byte, bool) {
	s := trimPGSpace(text)
	digits := s
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		digits = s[1:]
	}
	if !allDigits(digits) {
		return nil, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < lo || v > hi {
		return nil, false
	}
	return int64Bytes(v), true
}

// oidText follows oidin for unsigned input; negative input (which oidin wraps) is left to PostgreSQL.
func oidText(text string) ([]byte, bool) {
	s := trimPGSpace(text)
	s = strings.TrimPrefix(s, "+")
	if !allDigits(s) {
		return nil, false
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return nil, false
	}
	return int64Bytes(int64(v)), true
}

// qcharText follows charin: the first byte, or a \ooo octal escape; "" is the zero byte.
func qcharText(text string) ([]byte, bool) {
	if len(text) == 4 && text[0] == '\\' && isOctal(text[1]) && isOctal(text[2]) && isOctal(text[3]) {
		v := (int(text[1]-'0') << 6) + (int(text[2]-'0') << 3) + int(text[3]-'0')
		return []byte{byte(v)}, true
	}
	if text == "" {
		return []byte{0}, true
	}
	if text[0] == 0 {
		return nil, false
	}
	return []byte{text[0]}, true
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// uuidText follows string_to_uuid: optional braces, 32 hex digits, a hyphen allowed after any
// group of four digits, no whitespace.
func uuidText(s string) ([]byte, bool) {
	braces := false
	if strings.HasPrefix(s, "{") {
		s = s[1:]
		braces = true
	}
	out := make([]byte, 16)
	for i := 0; i < 16; i++ {
		if len(s) < 2 {
			return nil, false
		}
		h, ok1 := hexVal(s[0])
		l, ok2 := hexVal(s[1])
		if !ok1 || !ok2 {
			return nil, false
		}
		out[i] = h<<4 | l
		s = s[2:]
		if len(s) > 0 && s[0] == '-' && i%2 == 1 && i < 15 {
			s = s[1:]
		}
	}
	if braces {
		if !strings.HasPrefix(s, "}") {
			return nil, false
		}
		s = s[1:]
	}
	if s != "" {
		return nil, false
	}
	return out, true
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// boolText follows boolin/parse_bool_with_len.
func boolText(text string) ([]byte, bool) {
	s := asciiLower(trimPGSpace(text))
	if s == "" {
		return nil, false
	}
	prefixOf := func(word string) bool { return len(s) <= len(word) && word[:len(s)] == s }
	switch s[0] {
	case 't':
		if prefixOf("true") {
			return []byte{1}, true
		}
	case 'f':
		if prefixOf("false") {
			return []byte{0}, true
		}
	case 'y':
		if prefixOf("yes") {
			return []byte{1}, true
		}
	case 'n':
		if prefixOf("no") {
			return []byte{0}, true
		}
	case 'o':
		// "o" alone is ambiguous between on and off.
		if s == "on" {
			return []byte{1}, true
		}
		if s == "of" || s == "off" {
			return []byte{0}, true
		}
	case '1':
		if s == "1" {
			return []byte{1}, true
		}
	case '0':
		if s == "0" {
			return []byte{0}, true
		}
	}
	return nil, false
}

// floatText follows float4in/float8in for decimal notation and the special values. Hexadecimal
// floats and other strtod extensions are left to PostgreSQL.
func floatText(text string, bitSize int) ([]byte, bool) {
	s := trimPGSpace(text)
	body := s
	neg := false
	if len(body) > 0 && (body[0] == '+' || body[0] == '-') {
		neg = body[0] == '-'
		body = body[1:]
	}
	switch asciiLower(body) {
	case "nan":
		return floatBytes(math.NaN()), true
	case "inf", "infinity":
		if neg {
			return floatBytes(math.Inf(-1)), true
		}
		return floatBytes(math.Inf(1)), true
	}
	mant, _, ok := splitDecimal(body)
	if !ok {
		return nil, false
	}
	f, err := strconv.ParseFloat(s, bitSize)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, false // out of range: PostgreSQL reports it
	}
	if f == 0 && strings.Trim(mant, "0.") != "" {
		return nil, false // underflow to zero: PostgreSQL reports it
	}
	return floatBytes(f), true
}

// splitDecimal checks s (no sign) is digits[.digits][e[sign]digits] with at least one mantissa
// digit, and returns the mantissa and the exponent text.
func splitDecimal(s string) (mant, exp string, ok bool) {
	i := 0
	nDigits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		nDigits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			nDigits++
		}
	}
	if nDigits == 0 {
		return "", "", false
	}
	mant = s[:i]
	if i == len(s) {
		return mant, "", true
	}
	if s[i] != 'e' && s[i] != 'E' {
		return "", "", false
	}
	exp = s[i+1:]
	digits := exp
	if len(digits) > 0 && (digits[0] == '+' || digits[0] == '-') {
		digits = digits[1:]
	}
	if !allDigits(digits) {
		return "", "", false
	}
	return mant, exp, true
}

// byteaText accepts the hex format (\x followed by pairs of hex digits, with whitespace allowed
// between pairs, as hex_decode does). The escape format is left to PostgreSQL.
func byteaText(text string) ([]byte, bool) {
	if !strings.HasPrefix(text, `\x`) {
		return nil, false
	}
	s := text[2:]
	out := make([]byte, 0, len(s)/2)
	for i := 0; i < len(s); {
		c := s[i]
		if c == ' ' || c == '\n' || c == '\t' || c == '\r' {
			i++
			continue
		}
		if i+1 >= len(s) {
			return nil, false
		}
		h, ok1 := hexVal(c)
		l, ok2 := hexVal(s[i+1])
		if !ok1 || !ok2 {
			return nil, false
		}
		out = append(out, h<<4|l)
		i += 2
	}
	return out, true
}
