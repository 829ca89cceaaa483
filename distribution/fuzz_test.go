package distribution

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"testing"
)

// FuzzCanonicalText: CanonicalText never panics, ok results are never nil, integer results round-trip
// through their decimal text and their binary form, and other results are stable.
func FuzzCanonicalText(f *testing.F) {
	for _, s := range []string{
		"0", "42", " -7 ", "+1", "2147483647", "-2147483648", "9223372036854775807", "-9223372036854775808",
		"32768", "1.5", "1e3", "NaN", "-Infinity", "inf", "1.000", "-0", ".5", "5.", "1e-400",
		"true", "of", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "{A0EEBC999C0B4EF8BB6D6BB9BD380A11}",
		"2020-02-29", "2020-02-29 10:00:00.123+05:30", "24:00:00", "infinity", `\xdeadbeef`, `\101`, "ab  ", "",
		"\x00", "\xff", "1_000", "0x10",
	} {
		f.Add(s)
	}
	types := []string{
		"int2", "int4", "int8", "oid", "numeric", "text", "varchar", "bpchar", "char", "name", "uuid", "bool",
		"date", "time", "timestamp", "timestamptz", "interval", "float4", "float8", "bytea", "json",
	}
	intWidth := map[string]int{"int2": 2, "int4": 4, "int8": 8, "oid": 4}
	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range types {
			canon, ok := CanonicalText(typ, s)
			if !ok {
				continue
			}
			if canon == nil {
				t.Fatalf("CanonicalText(%q, %q): ok with nil", typ, s)
			}
			if b := Bucket(canon); b < 0 || b >= NumBuckets {
				t.Fatalf("bucket %d out of range", b)
			}
			switch typ {
			case "int2", "int4", "int8", "oid":
				if len(canon) != 8 {
					t.Fatalf("CanonicalText(%q, %q) = %x, want 8 bytes", typ, s, canon)
				}
				v := int64(binary.BigEndian.Uint64(canon))
				// The value is what Go's parser reads from the trimmed text.
				want, err := strconv.ParseInt(trimPGSpace(s), 10, 64)
				if err != nil || want != v {
					t.Fatalf("CanonicalText(%q, %q) = %d, strconv reads %d (%v)", typ, s, v, want, err)
				}
				// Its decimal text gives the same bytes.
				again, ok := CanonicalText(typ, strconv.FormatInt(v, 10))
				if !ok || !bytes.Equal(again, canon) {
					t.Fatalf("%s %q: decimal %d gives %x, %v; want %x", typ, s, v, again, ok, canon)
				}
				// So does its binary form.
				wire := make([]byte, 8)
				binary.BigEndian.PutUint64(wire, uint64(v))
				wire = wire[8-intWidth[typ]:]
				if typ != "oid" && (v < -(1<<(8*intWidth[typ]-1)) || v > 1<<(8*intWidth[typ]-1)-1) {
					t.Fatalf("%s %q: %d out of range", typ, s, v)
				}
				fromBin, err := CanonicalBinary(typ, wire)
				if err != nil || !bytes.Equal(fromBin, canon) {
					t.Fatalf("%s %q: binary %x gives %x, %v; want %x", typ, s, wire, fromBin, err, canon)
				}
				if n, err := ModuloNode(canon, 3); err != nil || n < 0 || n > 2 {
					t.Fatalf("ModuloNode(%d, 3) = %d, %v", v, n, err)
				}
			case "numeric":
				// The canonical spelling is itself numeric input with the same canonical form.
				again, ok := CanonicalText(typ, string(canon))
				if !ok || !bytes.Equal(again, canon) {
					t.Fatalf("numeric %q -> %q -> %q, %v", s, canon, again, ok)
				}
			case "float4", "float8":
				fv := math.Float64frombits(binary.BigEndian.Uint64(canon))
				again, ok := CanonicalText("float8", strconv.FormatFloat(fv, 'g', -1, 64))
				if !ok || !bytes.Equal(again, canon) {
					t.Fatalf("%s %q -> %v -> %x, %v; want %x", typ, s, fv, again, ok, canon)
				}
			case "bool":
				if len(canon) != 1 || canon[0] > 1 {
					t.Fatalf("bool %q -> %x", s, canon)
				}
			case "uuid":
				if len(canon) != 16 {
					t.Fatalf("uuid %q -> %x", s, canon)
				}
			case "date", "time", "timestamp", "timestamptz":
				if len(canon) != 8 {
					t.Fatalf("%s %q -> %x", typ, s, canon)
				}
			case "interval", "json":
				t.Fatalf("%s %q accepted as text", typ, s)
			}
			// Other spellings of the same value PostgreSQL reads give the same bytes.
			for _, alt := range equivalentSpellings(typ, s, canon) {
				again, ok := CanonicalText(typ, alt)
				if !ok || !bytes.Equal(again, canon) {
					t.Fatalf("%s: %q gives %x but %q, the same value, gives %x, %v", typ, s, canon, alt, again, ok)
				}
			}
			// The binary form of the value gives the same bytes.
			if wire, ok := binaryForm(typ, canon); ok {
				fromBin, err := CanonicalBinary(typ, wire)
				if err != nil || !bytes.Equal(fromBin, canon) {
					t.Fatalf("%s %q: canonical %x, binary %x gives %x, %v", typ, s, canon, wire, fromBin, err)
				}
			}
		}
	})
}

// equivalentSpellings gives other text forms of the value s (whose
// canonical form is canon) that PostgreSQL's input function reads as an
// equal value.
func equivalentSpellings(typ, s string, canon []byte) []string {
	t := trimPGSpace(s)
	out := []string{}
	switch typ {
	case "int2", "int4", "int8":
		sign, digits := "", t
		if t[0] == '+' || t[0] == '-' {
			sign, digits = t[:1], t[1:]
		}
		out = append(out, " "+t+"\n", sign+"000"+digits)
		if sign == "" {
			out = append(out, "+"+digits)
		}
		if v := int64(binary.BigEndian.Uint64(canon)); v == 0 {
			out = append(out, "-0", "+0", "-000")
		}
	case "oid":
		digits := strings.TrimPrefix(t, "+")
		out = append(out, "\t"+t+" ", "0"+digits, "+"+digits)
	case "numeric":
		c := string(canon)
		if c == "NaN" || strings.HasSuffix(c, "Infinity") {
			return append(out, strings.ToUpper(c), " "+strings.ToLower(c)+" ")
		}
		sign, body := "", c
		if body[0] == '-' {
			sign, body = "-", body[1:]
		}
		intPart, frac, _ := strings.Cut(body, ".")
		digits := strings.TrimLeft(intPart+frac, "0")
		if digits == "" {
			digits = "0"
		}
		out = append(out,
			sign+"00"+intPart+"."+frac+"000",
			" "+sign+intPart+"."+frac+"e0 ",
			sign+digits+"E"+strconv.Itoa(-len(frac)),
		)
		if sign == "" {
			out = append(out, "+"+c)
		}
	case "float4", "float8":
		out = append(out, " "+t+"\n")
		if t[0] != '+' && t[0] != '-' {
			out = append(out, "+"+t)
		}
	case "bool":
		out = append(out, strings.ToUpper(t), " "+strings.ToLower(t)+"\t")
		if canon[0] == 1 {
			out = append(out, "t", "TRUE", "yes", "on", "1", "Y")
		} else {
			out = append(out, "f", "False", "no", "off", "0", "N")
		}
	case "uuid":
		h := hex.EncodeToString(canon)
		out = append(out, h, strings.ToUpper(h), "{"+h+"}",
			h[0:8]+"-"+h[8:12]+"-"+h[12:16]+"-"+h[16:20]+"-"+h[20:])
	case "bpchar":
		out = append(out, s+"   ", strings.TrimRight(s, " "))
	case "text", "varchar", "name":
		out = append(out, string(canon))
	case "bytea":
		out = append(out, `\x`+hex.EncodeToString(canon), `\x`+strings.ToUpper(hex.EncodeToString(canon)))
	}
	return out
}

// binaryForm is the binary wire form of the value whose canonical form is
// canon, when the test can build it.
func binaryForm(typ string, canon []byte) ([]byte, bool) {
	switch typ {
	case "text", "varchar", "name", "bpchar", "bytea", "bool", "uuid", "char", "float8", "time", "timestamp", "timestamptz":
		return canon, true
	case "float4":
		f := math.Float64frombits(binary.BigEndian.Uint64(canon))
		return binary.BigEndian.AppendUint32(nil, math.Float32bits(float32(f))), true
	case "date":
		return binary.BigEndian.AppendUint32(nil, uint32(int32(int64(binary.BigEndian.Uint64(canon))))), true
	case "numeric":
		return numericWireOf(string(canon)), true
	}
	return nil, false
}

// numericWireOf builds numeric_send's form of a canonical numeric: base
// 10000 digits aligned on the decimal point, the weight of the first, and
// the display scale of the fraction.
func numericWireOf(c string) []byte {
	var sign uint16
	switch c {
	case "NaN":
		sign = 0xC000
	case "Infinity":
		sign = 0xD000
	case "-Infinity":
		sign = 0xF000
	}
	if sign != 0 {
		return []byte{0, 0, 0, 0, byte(sign >> 8), 0, 0, 0}
	}
	if c[0] == '-' {
		sign, c = 0x4000, c[1:]
	}
	intPart, frac, _ := strings.Cut(c, ".")
	intPart = strings.TrimLeft(intPart, "0")
	// Pad to whole groups of four on both sides of the point.
	padInt := strings.Repeat("0", (4-len(intPart)%4)%4) + intPart
	padFrac := frac + strings.Repeat("0", (4-len(frac)%4)%4)
	all := padInt + padFrac
	weight := len(padInt)/4 - 1
	var groups []uint16
	for i := 0; i < len(all); i += 4 {
		d, _ := strconv.Atoi(all[i : i+4])
		groups = append(groups, uint16(d))
	}
	// Leading zero groups move the weight; trailing ones are dropped.
	for len(groups) > 0 && groups[0] == 0 {
		groups = groups[1:]
		weight--
	}
	for len(groups) > 0 && groups[len(groups)-1] == 0 {
		groups = groups[:len(groups)-1]
	}
	if len(groups) == 0 {
		weight = 0
	}
	b := binary.BigEndian.AppendUint16(nil, uint16(len(groups)))
	b = binary.BigEndian.AppendUint16(b, uint16(int16(weight)))
	b = binary.BigEndian.AppendUint16(b, sign)
	b = binary.BigEndian.AppendUint16(b, uint16(len(frac)))
	for _, g := range groups {
		b = binary.BigEndian.AppendUint16(b, g)
	}
	return b
}
