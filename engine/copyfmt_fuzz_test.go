package engine

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// hangGuard crashes the process when an input runs longer than d, so that
// the fuzzer keeps the input that hangs as it keeps one that panics.
func hangGuard(d time.Duration) (stop func()) {
	t := time.AfterFunc(d, func() { panic(fmt.Sprintf("input still running after %s", d)) })
	return func() { t.Stop() }
}

// fuzzCopyFormat builds a COPY format from fuzzed options; valid reports
// whether PostgreSQL would accept them (only then must values round-trip).
func fuzzCopyFormat(kind, delim, quote, escape byte, null string) (f *copyFormat, valid bool) {
	switch kind % 3 {
	case 0:
		f = &copyFormat{kind: 't', delimiter: delim, null: null, quote: '"', escape: '"'}
	case 1:
		f = &copyFormat{kind: 'c', delimiter: delim, null: null, quote: quote, escape: escape}
	default:
		return &copyFormat{kind: 'b'}, true
	}
	// PostgreSQL's ProcessCopyOptions rules.
	bad := func(c byte) bool { return c == '\n' || c == '\r' }
	valid = !bad(delim) && !bytes.ContainsAny([]byte(null), "\r\n") && !bytes.ContainsRune([]byte(null), rune(delim)) && delim < 0x80
	if f.kind == 't' {
		valid = valid && delim != '\\' && !bytes.ContainsRune([]byte("abcdefghijklmnopqrstuvwxyz0123456789."), rune(delim))
		// A NULL string with backslashes of its own (but \N) reads back as
		// escapes, in PostgreSQL too: COPY TO and FROM disagree on it.
		valid = valid && (null == `\N` || !bytes.ContainsRune([]byte(null), '\\'))
	} else {
		valid = valid && quote < 0x80 && escape < 0x80 && quote != delim && !bad(quote) && !bad(escape) &&
			!bytes.ContainsRune([]byte(null), rune(quote))
	}
	return f, valid
}

// FuzzCopyFormat: COPY data of any bytes splits into records and fields
// without a panic, every record within the data; and values written in a
// format (text, CSV with any valid options) read back as the same values,
// one record each, which is how COPY FROM STDIN finds a row's distribution
// value.
func FuzzCopyFormat(f *testing.F) {
	f.Add(byte(0), byte('\t'), byte('"'), byte('"'), `\N`, []byte("a\tb\n\\N\tc\\td\n\\.\n"))
	f.Add(byte(1), byte(','), byte('"'), byte('"'), "", []byte("a,\"b\nc\",\"\"\n,\n\\.\n"))
	f.Add(byte(1), byte(';'), byte('\''), byte('\\'), "NULL", []byte("'a\\'b';NULL;'NULL'\n"))
	f.Add(byte(2), byte(0), byte(0), byte(0), "", append(append([]byte{}, binaryCopySignature...), 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 'x', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
	f.Add(byte(2), byte(0), byte(0), byte(0), "", []byte{0, 3, 0x7f, 0xff, 0xff, 0xff})
	f.Add(byte(2), byte(0), byte(0), byte(0), "", []byte{0x80, 0, 0, 0, 0, 1})
	f.Add(byte(0), byte('|'), byte(0), byte(0), "", []byte("a\\"))
	f.Add(byte(0), byte('\t'), byte(0), byte(0), `\N`, []byte("\\x4\\1234\\q\x00b\x00\x01"))
	f.Fuzz(func(t *testing.T, kind, delim, quote, escape byte, null string, data []byte) {
		defer hangGuard(10 * time.Second)()
		cf, valid := fuzzCopyFormat(kind, delim, quote, escape, null)

		// Any data: records and fields stay inside it.
		for _, final := range []bool{false, true} {
			buf := data
			if cf.kind == 'b' {
				if h := binaryHeaderLen(buf); h > 0 {
					buf = buf[h:]
				}
			}
			for len(buf) > 0 {
				n, end := cf.nextRecord(buf, final)
				if n < 0 || n > len(buf) {
					t.Fatalf("nextRecord(%q, %v) = %d, beyond the %d bytes", buf, final, n, len(buf))
				}
				if n == 0 || end {
					break
				}
				rec := buf[:n]
				for k := 0; k < 8; k++ {
					v, isNull, ok := cf.field(rec, k)
					if isNull && v != nil || !ok && (isNull || v != nil) {
						t.Fatalf("field(%q, %d) = %q, %v, %v", rec, k, v, isNull, ok)
					}
				}
				buf = buf[n:]
			}
		}

		if !valid || cf.kind == 'b' {
			return
		}
		// Values: the data cut at its first 63 0 bytes; "\x01" alone is NULL.
		var vals [][]byte
		for _, v := range bytes.SplitN(data, []byte{0}, 64) {
			if string(v) == "\x01" {
				v = nil
			}
			vals = append(vals, v)
		}
		var rec []byte
		for i, v := range vals {
			if i > 0 {
				rec = append(rec, cf.delimiter)
			}
			before := len(rec)
			if cf.kind == 'c' {
				rec = appendCSVField(rec, v, cf)
			} else {
				rec = appendTextField(rec, v, cf)
			}
			if v != nil && string(rec[before:]) == cf.null {
				return // COPY TO writes such a value as NULL too
			}
		}
		rec = append(rec, '\n')
		n, end := cf.nextRecord(append(append([]byte{}, rec...), "more\n"...), false)
		if n != len(rec) || end {
			t.Fatalf("%s: record %q of %q: nextRecord = %d, %v; want %d", formatName(cf), rec, vals, n, end, len(rec))
		}
		for k, want := range vals {
			got, isNull, ok := cf.field(rec, k)
			if !ok || isNull != (want == nil) || !bytes.Equal(got, want) {
				t.Fatalf("%s: record %q: field %d = %q (null %v, ok %v); want %q", formatName(cf), rec, k, got, isNull, ok, want)
			}
		}
		if _, _, ok := cf.field(rec, len(vals)); ok {
			t.Fatalf("%s: record %q has a field %d; it was written with %d", formatName(cf), rec, len(vals), len(vals))
		}
	})
}

func formatName(f *copyFormat) string {
	return fmt.Sprintf("format %c delimiter %q null %q quote %q escape %q", f.kind, f.delimiter, f.null, f.quote, f.escape)
}
