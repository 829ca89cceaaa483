package engine

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// copyFormat is how COPY data is laid out: PostgreSQL's text, CSV or binary
// format with the statement's options.
type copyFormat struct {
	kind      byte // 't' text, 'c' csv, 'b' binary
	delimiter byte
	null      string
	quote     byte
	escape    byte
	header    bool
}

var binaryCopySignature = []byte("PGCOPY\n\xff\r\n\x00")

// nextRecord finds the first complete record of buf: its length including
// the line end (0: not complete yet). end reports the "\." end marker: in
// CSV a line of its own, in text anywhere a backslash is not escaped
// (textEnd then says what the record holds before it).
func (f *copyFormat) nextRecord(buf []byte, final bool) (n int, end bool) {
	switch f.kind {
	case 'b':
		return f.nextTuple(buf)
	case 'c':
		inQuote := false
		for i := 0; i < len(buf); i++ {
			c := buf[i]
			switch {
			case inQuote && c == f.escape && f.escape != f.quote && i+1 < len(buf) && (buf[i+1] == f.quote || buf[i+1] == f.escape):
				i++
			case c == f.quote:
				inQuote = !inQuote
			case !inQuote && c == '\n':
				return i + 1, isEndMarker(buf[:i+1])
			}
		}
	default:
		for i := 0; i < len(buf); i++ {
			switch buf[i] {
			case '\\':
				i++
			case '\n':
				return i + 1, textEndMarker(buf[:i+1]) >= 0
			}
		}
		if final && len(buf) > 0 {
			return len(buf), textEndMarker(buf) >= 0
		}
		return 0, false
	}
	if final && len(buf) > 0 {
		return len(buf), isEndMarker(buf)
	}
	return 0, false
}

// textEndMarker is where a text-format record holds the end marker, a
// backslash that is not escaped followed by a period, or -1.
func textEndMarker(rec []byte) int {
	for i := 0; i+1 < len(rec); i++ {
		if rec[i] == '\\' {
			if rec[i+1] == '.' {
				return i
			}
			i++
		}
	}
	return -1
}

// textEnd reads a text-format record that holds the end marker as
// PostgreSQL 15's COPY does: what comes before the marker is the last row
// (data), and the marker must end its line, with the line end of the
// data's first line (crnl).
func textEnd(rec []byte, crnl bool) (data []byte, err error) {
	i := textEndMarker(rec)
	tail := string(rec[i+2:])
	switch {
	case crnl && tail == "\n", !crnl && strings.HasPrefix(tail, "\r"):
		return nil, &pgconn.PgError{Severity: "ERROR", Code: "22P04", Message: "end-of-copy marker does not match previous newline style"}
	case tail != "\n" && tail != "\r\n":
		return nil, &pgconn.PgError{Severity: "ERROR", Code: "22P04", Message: "end-of-copy marker corrupt"}
	}
	return rec[:i], nil
}

func isEndMarker(line []byte) bool {
	return string(bytes.TrimRight(line, "\r\n")) == `\.`
}

// binaryHeaderLen is the length of a binary COPY header at the start of
// buf (0: not complete yet; -1: not a valid header).
func binaryHeaderLen(buf []byte) int {
	if len(buf) < 19 {
		if !bytes.HasPrefix(binaryCopySignature, buf[:min(len(buf), 11)]) {
			return -1
		}
		return 0
	}
	if !bytes.Equal(buf[:11], binaryCopySignature) {
		return -1
	}
	ext := int(binary.BigEndian.Uint32(buf[15:19]))
	if len(buf) < 19+ext {
		return 0
	}
	return 19 + ext
}

// nextTuple finds one binary tuple; the trailer (-1 field count) ends the data.
func (f *copyFormat) nextTuple(buf []byte) (int, bool) {
	if len(buf) < 2 {
		return 0, false
	}
	nf := int16(binary.BigEndian.Uint16(buf))
	if nf == -1 {
		return 2, true
	}
	p := 2
	for i := 0; i < int(nf); i++ {
		if len(buf) < p+4 {
			return 0, false
		}
		l := int32(binary.BigEndian.Uint32(buf[p:]))
		p += 4
		if l > 0 {
			p += int(l)
		}
		if len(buf) < p {
			return 0, false
		}
	}
	return p, false
}

// field extracts field k of a record: its value and whether it is NULL;
// ok is false when the record has no such field.
func (f *copyFormat) field(rec []byte, k int) (val []byte, isNull, ok bool) {
	switch f.kind {
	case 'b':
		p := 2
		if len(rec) < 2 || int(int16(binary.BigEndian.Uint16(rec))) <= k {
			return nil, false, false
		}
		for i := 0; ; i++ {
			l := int32(binary.BigEndian.Uint32(rec[p:]))
			p += 4
			if i == k {
				if l < 0 {
					return nil, true, true
				}
				return rec[p : p+int(l)], false, true
			}
			if l > 0 {
				p += int(l)
			}
		}
	case 'c':
		return f.csvField(rec, k)
	}
	return f.textField(rec, k)
}

func trimLineEnd(rec []byte) []byte {
	rec = bytes.TrimSuffix(rec, []byte("\n"))
	return bytes.TrimSuffix(rec, []byte("\r"))
}

func (f *copyFormat) textField(rec []byte, k int) ([]byte, bool, bool) {
	rec = trimLineEnd(rec)
	start, idx := 0, 0
	for i := 0; i <= len(rec); i++ {
		if i < len(rec) && rec[i] == '\\' {
			i++
			continue
		}
		if i == len(rec) || rec[i] == f.delimiter {
			if idx == k {
				raw := rec[start:i]
				if string(raw) == f.null {
					return nil, true, true
				}
				return unescapeText(raw), false, true
			}
			idx++
			start = i + 1
		}
	}
	return nil, false, false
}

// unescapeText undoes COPY text format's backslash escapes.
func unescapeText(raw []byte) []byte {
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' || i+1 == len(raw) {
			out = append(out, c)
			continue
		}
		i++
		switch c = raw[i]; c {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, '\v')
		case 'x':
			j := i + 1
			for j < len(raw) && j < i+3 && isHex(raw[j]) {
				j++
			}
			if j == i+1 {
				out = append(out, 'x')
				continue
			}
			v, _ := strconv.ParseUint(string(raw[i+1:j]), 16, 8)
			out = append(out, byte(v))
			i = j - 1
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(raw) && j < i+3 && raw[j] >= '0' && raw[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(string(raw[i:j]), 8, 16)
			out = append(out, byte(v))
			i = j - 1
		default:
			out = append(out, c)
		}
	}
	return out
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (f *copyFormat) csvField(rec []byte, k int) ([]byte, bool, bool) {
	rec = trimLineEnd(rec)
	for i, idx := 0, 0; ; idx++ {
		var val []byte
		quoted, inQuote := false, false
		j := i
		for j < len(rec) {
			c := rec[j]
			switch {
			case inQuote && c == f.escape && j+1 < len(rec) && (rec[j+1] == f.quote || rec[j+1] == f.escape && f.escape != f.quote):
				val = append(val, rec[j+1])
				j += 2
			case inQuote && c == f.quote:
				inQuote = false
				j++
			case inQuote:
				val = append(val, c)
				j++
			case c == f.delimiter:
				goto done
			case c == f.quote:
				inQuote, quoted = true, true
				j++
			default:
				val = append(val, c)
				j++
			}
		}
	done:
		if idx == k {
			if !quoted && string(val) == f.null {
				return nil, true, true
			}
			if val == nil {
				val = []byte{}
			}
			return val, false, true
		}
		if j >= len(rec) {
			return nil, false, false
		}
		i = j + 1
	}
}

// appendTextField writes a value in COPY text format.
func appendTextField(dst []byte, v []byte, f *copyFormat) []byte {
	if v == nil {
		return append(dst, f.null...)
	}
	for _, c := range v {
		switch c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			if c == f.delimiter {
				dst = append(dst, '\\', c)
			} else {
				dst = append(dst, c)
			}
		}
	}
	return dst
}

// appendCSVField writes a value in COPY CSV format.
func appendCSVField(dst []byte, v []byte, f *copyFormat) []byte {
	if v == nil {
		return append(dst, f.null...)
	}
	need := len(v) == 0 && f.null == "" || string(v) == f.null || string(v) == `\.`
	for _, c := range v {
		if c == f.delimiter || c == f.quote || c == '\n' || c == '\r' || c == f.escape {
			need = true
			break
		}
	}
	if !need {
		return append(dst, v...)
	}
	dst = append(dst, f.quote)
	for _, c := range v {
		if c == f.quote || c == f.escape {
			dst = append(dst, f.escape)
		}
		dst = append(dst, c)
	}
	return append(dst, f.quote)
}
