package distribution

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
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
		}
	})
}
