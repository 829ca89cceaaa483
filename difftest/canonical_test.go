package difftest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/distribution"
)

// canonicalTypes are the hashable column types whose text form xlgo reads
// itself, with the SQL that names each.
var canonicalTypes = []struct{ name, sql string }{
	{"int2", "int2"}, {"int4", "int4"}, {"int8", "int8"}, {"oid", "oid"}, {"numeric", "numeric"},
	{"float4", "float4"}, {"float8", "float8"}, {"bool", "bool"}, {"text", "text"}, {"varchar", "varchar"},
	{"bpchar", "bpchar"}, {"char", `"char"`}, {"name", "name"}, {"uuid", "uuid"}, {"bytea", "bytea"},
	{"date", "date"}, {"time", "time"}, {"timestamp", "timestamp"}, {"timestamptz", "timestamptz"},
	{"interval", "interval"}, // binary only: its text form depends on IntervalStyle
}

// FuzzCanonicalMatchesPostgres: every text a distribution column's value
// can be given in, and that xlgo encodes itself (a literal, a text
// parameter, a COPY field), encodes as the value PostgreSQL stores for it:
// PostgreSQL reads the text with the type's input function and sends the
// value back in binary, and that binary form encodes to the same bytes, so
// both land in the same bucket. (Text PostgreSQL refuses is refused there;
// text xlgo leaves alone is read by a datanode.)
func FuzzCanonicalMatchesPostgres(f *testing.F) {
	for _, s := range []string{
		"0", "-0", "+1", "01", " 42 ", "\t7\n", "2147483647", "-2147483648", "9223372036854775807", "-9223372036854775808",
		"4294967295", "1.0", "1.50", "-0.000", "1e3", "1E-3", ".5", "5.", "1e-400", "123456789012345678901234567890.123456789",
		"NaN", "nan", "-Infinity", "inf", "+inf", "1.17549435e-38", "3.4028235e38", "4.9e-324", "1e308", "0.1",
		"t", "TRUE", "yes", "on", "of", "n", "1", "0", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"{A0EEBC99-9C0B4EF8-BB6D6BB9-BD380A11}", "a0eebc999c0b4ef8bb6d6bb9bd380a11", "2020-02-29", "0001-01-01",
		"2000-01-01", "infinity", "-infinity", "24:00:00", "23:59:59.999999", "00:00:00.0000005", "12:30",
		"2020-02-29 10:00:00.123+05:30", "2020-02-29T10:00:00Z", "2020-02-29 10:00:00-08", "1999-12-31 23:59:59.9999995",
		`\xdeadbeef`, `\x`, `\x de ad`, `\101`, "ab  ", "", " ", "é", "x\x00y", "\xff", "1_000", "0x10",
		"this name is longer than sixty-three bytes, so PostgreSQL truncates it",
	} {
		f.Add(s)
	}
	pg := clustertest.StartPlain(f)
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, pg.DSN("postgres")+" timezone=UTC datestyle=ISO,MDY")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { conn.Close(context.Background()) })

	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range canonicalTypes {
			canon, ok := distribution.CanonicalText(typ.name, s)
			if !ok {
				continue
			}
			qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			res := conn.ExecParams(qctx, "SELECT $1::"+typ.sql, [][]byte{[]byte(s)}, nil, []int16{0}, []int16{1}).Read()
			cancel()
			if res.Err != nil {
				if _, isPg := res.Err.(*pgconn.PgError); !isPg {
					t.Fatalf("%s %q: %v", typ.name, s, res.Err)
				}
				continue // PostgreSQL refuses it: so does the datanode
			}
			stored := res.Rows[0][0]
			fromPG, err := distribution.CanonicalBinary(typ.name, stored)
			if err != nil {
				t.Fatalf("%s %q: PostgreSQL stores %x, which does not encode: %v", typ.name, s, stored, err)
			}
			if !bytes.Equal(fromPG, canon) {
				t.Fatalf("%s %q: xlgo encodes it as %x (bucket %d); PostgreSQL stores %x, which encodes as %x (bucket %d)",
					typ.name, s, canon, distribution.Bucket(canon), stored, fromPG, distribution.Bucket(fromPG))
			}
		}
	})
}

// FuzzCanonicalBinaryMatchesPostgres: a value in binary form (a binary
// parameter, a binary COPY field) that PostgreSQL accepts, xlgo encodes
// too, and as PostgreSQL's own binary form of the value it stores: a value
// xlgo could not encode would be placed on a node its hash does not name.
func FuzzCanonicalBinaryMatchesPostgres(f *testing.F) {
	for _, seed := range []struct {
		typ byte
		b   []byte
	}{
		{0, []byte{0, 1}}, {1, []byte{0xff, 0xff, 0xff, 0xfe}}, {2, []byte{0, 0, 0, 0, 0, 0, 0, 42}}, {3, []byte{0xff, 0xff, 0xff, 0xff}},
		{4, []byte{0, 2, 0, 0, 0, 0, 0, 2, 0, 1, 0x13, 0x88}},       // numeric 1.5000 (dscale 2 hides a digit)
		{4, []byte{0, 1, 0, 0, 0x40, 0, 0, 0, 0, 7}},                // -7
		{4, []byte{0, 0, 0, 0, 0xc0, 0, 0, 0}},                      // NaN
		{4, []byte{0, 2, 0xff, 0xff, 0, 0, 0, 8, 0x13, 0x88, 0, 1}}, // 0.50000001
		{5, []byte{0x80, 0, 0, 0}}, {6, []byte{0x7f, 0xf8, 0, 0, 0, 0, 0, 1}}, {7, []byte{2}},
		{8, []byte("x")}, {10, []byte("ab  ")}, {11, []byte{0x80}}, {12, []byte("n")}, {13, make([]byte, 16)},
		{14, []byte{0, 1, 2}}, {15, []byte{0x7f, 0xff, 0xff, 0xff}}, {16, []byte{0, 0, 0x14, 0x1d, 0xd7, 0x60, 0, 0}},
		{17, []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, {18, []byte{0x80, 0, 0, 0, 0, 0, 0, 0}},
		{19, []byte{0, 0, 0, 0x14, 0x1d, 0xd7, 0x60, 0, 0, 0, 0, 1, 0, 0, 0, 0}}, // interval '1 day 24:00'
	} {
		f.Add(seed.typ, seed.b)
	}
	pg := clustertest.StartPlain(f)
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, pg.DSN("postgres")+" timezone=UTC datestyle=ISO,MDY")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { conn.Close(context.Background()) })

	f.Fuzz(func(t *testing.T, which byte, b []byte) {
		typ := canonicalTypes[int(which)%len(canonicalTypes)]
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		res := conn.ExecParams(qctx, "SELECT $1::"+typ.sql, [][]byte{b}, nil, []int16{1}, []int16{1}).Read()
		cancel()
		canon, xerr := distribution.CanonicalBinary(typ.name, b)
		if res.Err != nil {
			if _, isPg := res.Err.(*pgconn.PgError); !isPg {
				t.Fatalf("%s %x: %v", typ.name, b, res.Err)
			}
			return // PostgreSQL refuses it: so does the datanode
		}
		if xerr != nil {
			t.Fatalf("%s %x: PostgreSQL accepts it (as %x) but xlgo cannot encode it: %v", typ.name, b, res.Rows[0][0], xerr)
		}
		fromPG, err := distribution.CanonicalBinary(typ.name, res.Rows[0][0])
		if err != nil || !bytes.Equal(fromPG, canon) {
			t.Fatalf("%s %x: xlgo encodes it as %x; PostgreSQL stores %x, which encodes as %x, %v", typ.name, b, canon, res.Rows[0][0], fromPG, err)
		}
	})
}
