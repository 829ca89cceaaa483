package distribution

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Limits of PostgreSQL's numeric storage format, used to refuse values it would reject.
const (
	numericDscaleMax   = 0x3FFF // NUMERIC_DSCALE_MAX
	numericMaxIntegral = 131072 // decimal digits before the point (NUMERIC_WEIGHT_MAX+1)*4
	numericMaxExponent = 1 << 20
)

// Canonical spellings of numeric's special values.
const (
	numericNaN    = "NaN"
	numericPosInf = "Infinity"
	numericNegInf = "-Infinity"
)

// numericText follows numeric_in (PostgreSQL 15): whitespace, NaN/Infinity/inf in any case, or
// [sign] digits [. digits] [e [sign] digits].
func numericText(text string) ([]byte, bool) {
	s := trimPGSpace(text)
	switch asciiLower(s) {
	case "nan":
		return []byte(numericNaN), true
	case "infinity", "+infinity", "inf", "+inf":
		return []byte(numericPosInf), true
	case "-infinity", "-inf":
		return []byte(numericNegInf), true
	}
	neg := false
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	mant, expText, ok := splitDecimal(s)
	if !ok {
		return nil, false
	}
	exp := int64(0)
	if expText != "" {
		e, err := strconv.ParseInt(expText, 10, 64)
		if err != nil || e > numericMaxExponent || e < -numericMaxExponent {
			return nil, false
		}
		exp = e
	}
	intPart, fracPart, _ := strings.Cut(mant, ".")
	// The display scale PostgreSQL would store; past its limit numeric_in fails.
	if dscale := int64(len(fracPart)) - exp; dscale > numericDscaleMax {
		return nil, false
	}
	canon, ok := normalizeDecimal(neg, intPart+fracPart, int64(len(intPart))+exp)
	return canon, ok
}

// normalizeDecimal renders the value 0.digits × 10^point (digits in decimal, point the position of the
// decimal point from the left of digits) without leading or trailing zeros.
func normalizeDecimal(neg bool, digits string, point int64) ([]byte, bool) {
	lead := 0
	for lead < len(digits) && digits[lead] == '0' {
		lead++
	}
	digits = digits[lead:]
	point -= int64(lead)
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		return []byte("0"), true
	}
	if point > numericMaxIntegral {
		return nil, false
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	n := int64(len(digits))
	switch {
	case point <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", int(-point)))
		b.WriteString(digits)
	case point >= n:
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", int(point-n)))
	default:
		b.WriteString(digits[:point])
		b.WriteByte('.')
		b.WriteString(digits[point:])
	}
	return []byte(b.String()), true
}

// Signs of numeric's binary format.
const (
	numericPos  = 0x0000
	numericNeg  = 0x4000
	numericNaNs = 0xC000
	numericPInf = 0xD000
	numericNInf = 0xF000
)

// numericBinary follows numeric_recv: ndigits, weight, sign, dscale, then base-10000 digits;
// digits hidden by dscale are truncated away, as numeric_recv does.
func numericBinary(b []byte) ([]byte, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("binary numeric value has %d bytes, want at least 8", len(b))
	}
	ndigits := int(int16(binary.BigEndian.Uint16(b[0:2])))
	weight := int64(int16(binary.BigEndian.Uint16(b[2:4])))
	sign := binary.BigEndian.Uint16(b[4:6])
	dscale := binary.BigEndian.Uint16(b[6:8])
	if ndigits < 0 {
		return nil, fmt.Errorf("binary numeric value has invalid length %d", ndigits)
	}
	if len(b) != 8+2*ndigits {
		return nil, fmt.Errorf("binary numeric value has %d bytes, want %d for %d digits", len(b), 8+2*ndigits, ndigits)
	}
	switch sign {
	case numericNaNs:
		return []byte(numericNaN), nil
	case numericPInf:
		return []byte(numericPosInf), nil
	case numericNInf:
		return []byte(numericNegInf), nil
	case numericPos, numericNeg:
	default:
		return nil, fmt.Errorf("binary numeric value has invalid sign 0x%04X", sign)
	}
	if dscale&numericDscaleMax != dscale {
		return nil, fmt.Errorf("binary numeric value has invalid scale %d", dscale)
	}
	var digits strings.Builder
	for i := 0; i < ndigits; i++ {
		d := int16(binary.BigEndian.Uint16(b[8+2*i:]))
		if d < 0 || d >= 10000 {
			return nil, fmt.Errorf("binary numeric value has invalid digit %d", d)
		}
		fmt.Fprintf(&digits, "%04d", d)
	}
	ds := digits.String()
	point := (weight + 1) * 4
	if keep := point + int64(dscale); keep < int64(len(ds)) {
		if keep < 0 {
			keep = 0
		}
		ds = ds[:keep]
	}
	canon, ok := normalizeDecimal(sign == numericNeg, ds, point)
	if !ok {
		return nil, fmt.Errorf("binary numeric value out of range")
	}
	return canon, nil
}
