package engine

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func textFormat() *copyFormat {
	return &copyFormat{kind: 't', delimiter: '\t', null: `\N`, quote: '"', escape: '"'}
}

func csvFormat() *copyFormat {
	return &copyFormat{kind: 'c', delimiter: ',', null: "", quote: '"', escape: '"'}
}

func binaryFormat() *copyFormat { return &copyFormat{kind: 'b'} }

// binaryTuple encodes one binary COPY tuple; a nil value is NULL.
func binaryTuple(vals ...[]byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(vals)))
	for _, v := range vals {
		if v == nil {
			b = binary.BigEndian.AppendUint32(b, 0xFFFFFFFF)
			continue
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

var binaryTrailer = []byte{0xFF, 0xFF}

func TestCopyNextRecord(t *testing.T) {
	csvBackslash := csvFormat()
	csvBackslash.escape = '\\'
	tests := []struct {
		name  string
		f     *copyFormat
		in    string
		final bool
		n     int
		end   bool
	}{
		{"text empty", textFormat(), "", false, 0, false},
		{"text empty final", textFormat(), "", true, 0, false},
		{"text one line", textFormat(), "a\tb\nc\td\n", false, 4, false},
		{"text incomplete", textFormat(), "a\tb", false, 0, false},
		{"text incomplete final", textFormat(), "a\tb", true, 3, false},
		{"text empty line", textFormat(), "\nx\n", false, 1, false},
		{"text crlf", textFormat(), "a\r\nb\n", false, 3, false},
		{"text escaped newline", textFormat(), "a\\\nb\nc\n", false, 5, false},
		{"text escaped backslash then newline", textFormat(), "a\\\\\nb\n", false, 4, false},
		{"text trailing backslash", textFormat(), "a\\", false, 0, false},
		{"text trailing backslash final", textFormat(), "a\\", true, 2, false},
		{"text end marker", textFormat(), "\\.\n", false, 3, true},
		{"text end marker crlf", textFormat(), "\\.\r\n", false, 4, true},
		{"text end marker final without newline", textFormat(), "\\.", true, 2, true},
		{"text end marker not yet complete", textFormat(), "\\.", false, 0, false},
		// PostgreSQL 15 ends text data at a \. after data too (textEnd).
		{"text end marker after data", textFormat(), "a\\.\n", false, 4, true},
		{"text escaped backslash then period is data", textFormat(), "a\\\\.\n", false, 5, false},
		{"text end marker after escaped backslash", textFormat(), "a\\\\\\.\nb\n", false, 6, true},
		{"text end marker then more", textFormat(), "\\.\nignored\n", false, 3, true},
		{"csv one line", csvFormat(), "a,b\nc\n", false, 4, false},
		{"csv quoted newline", csvFormat(), "\"a\nb\",c\nd\n", false, 8, false},
		{"csv quoted newline incomplete", csvFormat(), "\"a\nb", false, 0, false},
		{"csv doubled quote", csvFormat(), "\"a\"\"\nb\"\nc\n", false, 8, false},
		{"csv empty quoted", csvFormat(), "\"\",x\n", false, 5, false},
		{"csv end marker", csvFormat(), "\\.\n", false, 3, true},
		{"csv end marker crlf", csvFormat(), "\\.\r\n", false, 4, true},
		{"csv quoted end marker is data", csvFormat(), "\"\\.\"\n", false, 5, false},
		{"csv end marker inside quotes is data", csvFormat(), "\"x\n\\.\n\"\n", false, 8, false},
		{"csv backslash is data", csvFormat(), "a\\\nb\n", false, 3, false},
		{"csv final unterminated quote", csvFormat(), "\"abc", true, 4, false},
		{"csv escape quote", csvBackslash, "\"a\\\"\nb\"\nc\n", false, 8, false},
		{"csv escape outside quotes is data", csvBackslash, "a\\\"b\"\n", false, 6, false},
		// ESCAPE '\': "a\\" is the value a\ (PostgreSQL: an escape escapes the
		// escape); the quote after it closes the field.
		{"csv escaped escape before closing quote", csvBackslash, "\"a\\\\\",b\nc\n", false, 8, false},
		{"binary tuple", binaryFormat(), string(binaryTuple([]byte("ab"), nil)) + "rest", false, 12, false},
		{"binary zero fields", binaryFormat(), string(binaryTuple()), false, 2, false},
		{"binary empty value", binaryFormat(), string(binaryTuple([]byte{})), false, 6, false},
		{"binary trailer", binaryFormat(), string(binaryTrailer) + "x", false, 2, true},
		{"binary short count", binaryFormat(), "\x00", true, 0, false},
		{"binary short length", binaryFormat(), "\x00\x01\x00\x00", true, 0, false},
		{"binary short value", binaryFormat(), "\x00\x01\x00\x00\x00\x03ab", true, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, end := tc.f.nextRecord([]byte(tc.in), tc.final)
			if n != tc.n || end != tc.end {
				t.Errorf("nextRecord(%q, final=%v) = %d, %v; want %d, %v", tc.in, tc.final, n, end, tc.n, tc.end)
			}
		})
	}
}

// TestCopyNextRecordSplitsStream reads a stream record by record, as the
// router does, and checks that the records are the lines expected.
func TestCopyNextRecordSplitsStream(t *testing.T) {
	tests := []struct {
		name string
		f    *copyFormat
		in   string
		want []string
	}{
		{"text", textFormat(), "1\ta\n2\tb\\\nc\n3\t\\N\n\\.\n", []string{"1\ta\n", "2\tb\\\nc\n", "3\t\\N\n"}},
		{"text without marker", textFormat(), "1\n2", []string{"1\n", "2"}},
		{"csv", csvFormat(), "1,\"x\ny\"\n2,\"\"\"\"\n3,\n\\.\n", []string{"1,\"x\ny\"\n", "2,\"\"\"\"\n", "3,\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf := []byte(tc.in)
			var got []string
			for len(buf) > 0 {
				n, end := tc.f.nextRecord(buf, true)
				if n == 0 {
					t.Fatalf("no record in %q", buf)
				}
				if end {
					break
				}
				got = append(got, string(buf[:n]))
				buf = buf[n:]
			}
			if len(got) != len(tc.want) {
				t.Fatalf("records %q; want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("record %d = %q; want %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

type fieldWant struct {
	val    string
	isNull bool
	ok     bool
}

func checkFields(t *testing.T, f *copyFormat, rec []byte, want []fieldWant) {
	t.Helper()
	for k, w := range want {
		val, isNull, ok := f.field(rec, k)
		if ok != w.ok || isNull != w.isNull || string(val) != w.val {
			t.Errorf("field(%q, %d) = %q, null=%v, ok=%v; want %q, null=%v, ok=%v", rec, k, val, isNull, ok, w.val, w.isNull, w.ok)
		}
		if ok && !isNull && val == nil {
			t.Errorf("field(%q, %d): a non-NULL value is nil", rec, k)
		}
	}
}

func TestCopyTextField(t *testing.T) {
	comma := textFormat()
	comma.delimiter = ','
	emptyNull := textFormat()
	emptyNull.null = ""
	tests := []struct {
		name string
		f    *copyFormat
		rec  string
		want []fieldWant
	}{
		{"plain", textFormat(), "a\tbc\tdef\n", []fieldWant{{"a", false, true}, {"bc", false, true}, {"def", false, true}, {"", false, false}}},
		{"no line end", textFormat(), "a\tb", []fieldWant{{"a", false, true}, {"b", false, true}, {"", false, false}}},
		{"crlf", textFormat(), "a\tb\r\n", []fieldWant{{"a", false, true}, {"b", false, true}}},
		{"null", textFormat(), "\\N\tx\t\\N\n", []fieldWant{{"", true, true}, {"x", false, true}, {"", true, true}}},
		{"empty is not null", textFormat(), "\t\n", []fieldWant{{"", false, true}, {"", false, true}, {"", false, false}}},
		{"empty line", textFormat(), "\n", []fieldWant{{"", false, true}, {"", false, false}}},
		{"escaped null marker is data", textFormat(), "\\\\N\n", []fieldWant{{"\\N", false, true}}},
		{"quoted null text is data", textFormat(), "\\N \n", []fieldWant{{"N ", false, true}}},
		{"escapes", textFormat(), "a\\tb\\nc\\\\d\\re\\bf\\fg\\vh\n", []fieldWant{{"a\tb\nc\\d\re\bf\fg\vh", false, true}}},
		{"escaped delimiter", textFormat(), "a\\\tb\tc\n", []fieldWant{{"a\tb", false, true}, {"c", false, true}}},
		{"escaped newline", textFormat(), "a\\\nb\tc\n", []fieldWant{{"a\nb", false, true}, {"c", false, true}}},
		{"octal and hex", textFormat(), "\\101\\x41\\x4a\\7\\xg\n", []fieldWant{{"AAJ\x07xg", false, true}}},
		{"other delimiter", comma, "1,\\,,\\N\n", []fieldWant{{"1", false, true}, {",", false, true}, {"", true, true}}},
		{"tab is data with comma delimiter", comma, "a\tb,c\n", []fieldWant{{"a\tb", false, true}, {"c", false, true}}},
		{"empty null", emptyNull, "\tx\n", []fieldWant{{"", true, true}, {"x", false, true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkFields(t, tc.f, []byte(tc.rec), tc.want)
		})
	}
}

func TestCopyCSVField(t *testing.T) {
	backslash := csvFormat()
	backslash.escape = '\\'
	semicolon := csvFormat()
	semicolon.delimiter = ';'
	semicolon.quote = '\''
	semicolon.escape = '\''
	nullWord := csvFormat()
	nullWord.null = "NULL"
	tests := []struct {
		name string
		f    *copyFormat
		rec  string
		want []fieldWant
	}{
		{"plain", csvFormat(), "a,bc,def\n", []fieldWant{{"a", false, true}, {"bc", false, true}, {"def", false, true}, {"", false, false}}},
		{"crlf", csvFormat(), "a,b\r\n", []fieldWant{{"a", false, true}, {"b", false, true}}},
		{"empty is null, quoted empty is not", csvFormat(), ",\"\",\n", []fieldWant{{"", true, true}, {"", false, true}, {"", true, true}, {"", false, false}}},
		{"empty line", csvFormat(), "\n", []fieldWant{{"", true, true}, {"", false, false}}},
		{"quoted delimiter", csvFormat(), "\"a,b\",c\n", []fieldWant{{"a,b", false, true}, {"c", false, true}}},
		{"quoted newline", csvFormat(), "\"a\nb\",c\n", []fieldWant{{"a\nb", false, true}, {"c", false, true}}},
		{"doubled quote", csvFormat(), "\"a\"\"b\",\"\"\"\"\n", []fieldWant{{"a\"b", false, true}, {"\"", false, true}}},
		{"partly quoted", csvFormat(), "ab\"c,d\"e,f\n", []fieldWant{{"abc,de", false, true}, {"f", false, true}}},
		{"backslash is data", csvFormat(), "a\\,\\N\n", []fieldWant{{"a\\", false, true}, {"\\N", false, true}}},
		{"spaces kept", csvFormat(), " a , \"b\" \n", []fieldWant{{" a ", false, true}, {" b ", false, true}}},
		{"escape", backslash, "\"a\\\"b\",\"c\\\\\",\"d\\e\"\n", []fieldWant{{"a\"b", false, true}, {"c\\", false, true}, {"d\\e", false, true}}},
		{"escape outside quotes", backslash, "a\\b,\\\n", []fieldWant{{"a\\b", false, true}, {"\\", false, true}}},
		{"other delimiter and quote", semicolon, "'a;b';'it''s';\n", []fieldWant{{"a;b", false, true}, {"it's", false, true}, {"", true, true}}},
		{"null word", nullWord, "NULL,\"NULL\",,x\n", []fieldWant{{"", true, true}, {"NULL", false, true}, {"", false, true}, {"x", false, true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkFields(t, tc.f, []byte(tc.rec), tc.want)
		})
	}
}

func TestCopyBinaryField(t *testing.T) {
	rec := binaryTuple([]byte("abc"), nil, []byte{}, []byte{0, 1, 2, 3})
	f := binaryFormat()
	checkFields(t, f, rec, []fieldWant{
		{"abc", false, true},
		{"", true, true},
		{"", false, true},
		{"\x00\x01\x02\x03", false, true},
		{"", false, false},
	})
	if n, end := f.nextRecord(rec, false); n != len(rec) || end {
		t.Errorf("nextRecord = %d, %v; want %d, false", n, end, len(rec))
	}
	checkFields(t, f, binaryTuple(), []fieldWant{{"", false, false}})
	checkFields(t, f, binaryTrailer, []fieldWant{{"", false, false}})
	checkFields(t, f, []byte{0}, []fieldWant{{"", false, false}})
}

func TestCopyBinaryHeaderLen(t *testing.T) {
	hdr := append(append([]byte(nil), binaryCopySignature...), 0, 0, 0, 0, 0, 0, 0, 0)
	ext := append(append([]byte(nil), binaryCopySignature...), 0, 0, 0, 0, 0, 0, 0, 3, 'x', 'y', 'z')
	tests := []struct {
		name string
		in   []byte
		want int
	}{
		{"empty", nil, 0},
		{"partial signature", binaryCopySignature[:5], 0},
		{"signature only", binaryCopySignature, 0},
		{"header", hdr, 19},
		{"header and data", append(append([]byte(nil), hdr...), binaryTrailer...), 19},
		{"extension", ext, 22},
		{"extension incomplete", ext[:20], 0},
		{"wrong signature", []byte("PGCOPY\n\xff\r\n\x01xxxxxxxx"), -1},
		{"text data", []byte("1\tx\n"), -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := binaryHeaderLen(tc.in); got != tc.want {
				t.Errorf("binaryHeaderLen(%q) = %d; want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestCopyUnescapeText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{`\\`, `\`},
		{`a\`, `a\`},
		{`\b\f\n\r\t\v`, "\b\f\n\r\t\v"},
		{`\.`, "."},
		{`\N`, "N"},
		{`\0`, "\x00"},
		{`\101x`, "Ax"},
		{`\1018`, "A8"},
		{`\777`, "\xff"},
		{`\18`, "\x018"},
		{`\x41`, "A"},
		{`\x414`, "A4"},
		{`\xA`, "\n"},
		{`\xg`, "xg"},
		{`\x`, "x"},
		{`\q`, "q"},
	}
	for _, tc := range tests {
		if got := unescapeText([]byte(tc.in)); string(got) != tc.want {
			t.Errorf("unescapeText(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestCopyAppendField(t *testing.T) {
	comma := textFormat()
	comma.delimiter = ','
	tests := []struct {
		name string
		f    *copyFormat
		val  []byte
		want string
	}{
		{"text null", textFormat(), nil, `\N`},
		{"text empty", textFormat(), []byte{}, ``},
		{"text plain", textFormat(), []byte("abc"), `abc`},
		{"text specials", textFormat(), []byte("a\\b\nc\rd\te"), `a\\b\nc\rd\te`},
		{"text null marker", textFormat(), []byte(`\N`), `\\N`},
		{"text delimiter", comma, []byte("a,b"), `a\,b`},
		{"csv null", csvFormat(), nil, ``},
		{"csv empty", csvFormat(), []byte{}, `""`},
		{"csv plain", csvFormat(), []byte("abc"), `abc`},
		{"csv delimiter", csvFormat(), []byte("a,b"), `"a,b"`},
		{"csv quote", csvFormat(), []byte(`a"b`), `"a""b"`},
		{"csv newline", csvFormat(), []byte("a\nb"), "\"a\nb\""},
		{"csv carriage return", csvFormat(), []byte("a\rb"), "\"a\rb\""},
		{"csv end marker", csvFormat(), []byte(`\.`), `"\."`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []byte
			if tc.f.kind == 'c' {
				got = appendCSVField([]byte("x"), tc.val, tc.f)
			} else {
				got = appendTextField([]byte("x"), tc.val, tc.f)
			}
			if string(got) != "x"+tc.want {
				t.Errorf("append(%q) = %q; want %q", tc.val, got[1:], tc.want)
			}
		})
	}
}

// TestCopyAppendFieldRoundTrip writes a row with appendTextField or
// appendCSVField and reads it back with nextRecord and field.
func TestCopyAppendFieldRoundTrip(t *testing.T) {
	comma := textFormat()
	comma.delimiter = ','
	csvBackslash := csvFormat()
	csvBackslash.escape = '\\'
	csvSemicolon := csvFormat()
	csvSemicolon.delimiter = ';'
	csvSemicolon.quote = '\''
	csvSemicolon.escape = '\''
	csvNullWord := csvFormat()
	csvNullWord.null = "NULL"
	formats := []struct {
		name string
		f    *copyFormat
	}{
		{"text", textFormat()},
		{"text comma", comma},
		{"csv", csvFormat()},
		{"csv escape backslash", csvBackslash},
		{"csv semicolon", csvSemicolon},
		{"csv null word", csvNullWord},
	}
	rows := [][][]byte{
		{[]byte("1"), []byte("plain")},
		{[]byte("2"), nil},
		{[]byte("3"), []byte{}},
		{[]byte("4"), []byte("tab\there, comma; semi")},
		{[]byte("5"), []byte("line\nbreak\r\nand cr")},
		{[]byte("6"), []byte(`back\slash \N \. "quoted" 'single'`)},
		{[]byte("7"), []byte(`\.`)},
		{[]byte("8"), []byte(`\N`)},
		{[]byte("9"), []byte("NULL")},
		{[]byte("10"), []byte(`ends with backslash\`)},
		{[]byte("11"), []byte(`"`)},
		{nil, []byte("\x00\x01\xff")},
	}
	for _, fm := range formats {
		t.Run(fm.name, func(t *testing.T) {
			f := fm.f
			for _, row := range rows {
				var line []byte
				for i, v := range row {
					if i > 0 {
						line = append(line, f.delimiter)
					}
					if f.kind == 'c' {
						line = appendCSVField(line, v, f)
					} else {
						line = appendTextField(line, v, f)
					}
				}
				line = append(line, '\n')
				stream := append(append([]byte(nil), line...), "next\n"...)
				n, end := f.nextRecord(stream, false)
				if n != len(line) || end {
					t.Errorf("row %q written as %q: nextRecord = %d, %v; want %d, false", row, line, n, end, len(line))
					continue
				}
				for k, v := range row {
					got, isNull, ok := f.field(line, k)
					if !ok || isNull != (v == nil) || !bytes.Equal(got, v) {
						t.Errorf("row %q written as %q: field %d = %q, null=%v, ok=%v", row, line, k, got, isNull, ok)
					}
				}
				if _, _, ok := f.field(line, len(row)); ok {
					t.Errorf("row %q written as %q: field %d exists", row, line, len(row))
				}
			}
		})
	}
}

func FuzzCopyRecord(f *testing.F) {
	seeds := []string{
		"a\tb\n", "\\.\n", "a\\\nb\n", "\\N\t\\x41\\101\n", "\"a\nb\",c\n", "\"a\"\"\",\n", "\"a\\\\\",b\n",
		string(binaryTuple([]byte("ab"), nil)), string(binaryTrailer), "\x00\x02\xff\xff\xff\xfe",
	}
	for _, s := range seeds {
		for kind := byte(0); kind < 4; kind++ {
			f.Add([]byte(s), kind, true)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, kind byte, final bool) {
		var cf *copyFormat
		switch kind % 4 {
		case 0:
			cf = textFormat()
		case 1:
			cf = csvFormat()
		case 2:
			cf = csvFormat()
			cf.escape = '\\'
		default:
			cf = binaryFormat()
		}
		buf := data
		for len(buf) > 0 {
			n, end := cf.nextRecord(buf, final)
			if n < 0 || n > len(buf) {
				t.Fatalf("nextRecord(%q) = %d: not a prefix", buf, n)
			}
			if n == 0 {
				if final && cf.kind != 'b' {
					t.Fatalf("nextRecord(%q, final) found no record", buf)
				}
				return
			}
			rec := buf[:n]
			if cf.kind != 'b' && n < len(buf) && rec[n-1] != '\n' {
				t.Fatalf("record %q of %q does not end a line", rec, buf)
			}
			for k := 0; k < 4; k++ {
				val, isNull, ok := cf.field(rec, k)
				if isNull && val != nil {
					t.Fatalf("field(%q, %d): NULL with a value", rec, k)
				}
				if ok && !isNull && cf.kind == 'b' && !bytes.Contains(rec, val) {
					t.Fatalf("field(%q, %d) = %q: not in the record", rec, k, val)
				}
				if !ok {
					break
				}
			}
			if end {
				return
			}
			buf = buf[n:]
		}
	})
}

// TestCopyTextEnd: a text record that holds the end marker, as PostgreSQL 15
// reads it: the data before it is the last row, and the marker ends its line.
func TestCopyTextEnd(t *testing.T) {
	for _, tc := range []struct {
		rec, data, err string
		crnl           bool
	}{
		{rec: "\\.\n"},
		{rec: "\\.\r\n", crnl: true},
		{rec: "\\.\r\n", err: "end-of-copy marker does not match previous newline style"},
		{rec: "a\tb\\.\n", data: "a\tb"},
		{rec: "a\\\\\\.\r\n", data: "a\\\\", crnl: true},
		{rec: "a\\.", err: "end-of-copy marker corrupt"},
		{rec: "\\.", err: "end-of-copy marker corrupt"},
		{rec: "a\\.x\n", err: "end-of-copy marker corrupt"},
		{rec: "a\\.\r\n", err: "end-of-copy marker does not match previous newline style"},
		{rec: "a\\.\rb\n", err: "end-of-copy marker does not match previous newline style"},
		{rec: "a\\.\n", err: "end-of-copy marker does not match previous newline style", crnl: true},
	} {
		data, err := textEnd([]byte(tc.rec), tc.crnl)
		switch {
		case tc.err != "" && (err == nil || err.(*pgconn.PgError).Code != "22P04" || err.(*pgconn.PgError).Message != tc.err):
			t.Errorf("textEnd(%q, %v) = %q, %v; want 22P04 %s", tc.rec, tc.crnl, data, err, tc.err)
		case tc.err == "" && (err != nil || string(data) != tc.data):
			t.Errorf("textEnd(%q, %v) = %q, %v; want %q", tc.rec, tc.crnl, data, err, tc.data)
		}
	}
}
