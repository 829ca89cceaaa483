package dialect

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestCheckEncoding: text that is not UTF-8 is refused as PostgreSQL
// refuses it, naming the bytes of the first bad character; so is a zero byte.
func TestCheckEncoding(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT 'é', '€', '𝄞', '\uFFFD'", ""},
		{"SELECT '\xa8'", "0xa8"},
		{"SELECT '\xe2\x28\xa1'", "0xe2 0x28 0xa1"},
		{"SELECT 1 -- \xc3", "0xc3"},
		{"SELECT '\xf0\x9f\x98'", "0xf0 0x9f 0x98 0x27"},
		{"x\xed\xa0\x80", "0xed 0xa0 0x80"}, // a surrogate
		{"\xc0\xaf", "0xc0 0xaf"},           // an overlong '/'
		{"\xf8\x88\x80\x80\x80", "0xf8"},
		{"a\x00b", "0x00"},
		{`CREATE NODE "0` + "\xa8\xa8" + `"`, "0xa8"},
	} {
		err := CheckEncoding(tc.in)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckEncoding(%q) = %v, want nil", tc.in, err)
		case tc.want != "" && (err == nil || err.Code != "22021" || err.Message != `invalid byte sequence for encoding "UTF8": `+tc.want):
			t.Errorf("CheckEncoding(%q) = %v, want 22021 ... %s", tc.in, err, tc.want)
		}
		if tc.want == "" {
			continue
		}
		// Every way in refuses it: splitting a Query and parsing a statement.
		if _, err := SplitStatements(tc.in); err == nil {
			t.Errorf("SplitStatements(%q) accepted it", tc.in)
		}
		if st, err := Parse(tc.in); err == nil {
			t.Errorf("Parse(%q) = %#v, want 22021", tc.in, st)
		}
	}
}

// TestParamZero: $0 is refused as PostgreSQL refuses it (the deparser
// would write it as "?").
func TestParamZero(t *testing.T) {
	for _, sql := range []string{"SELECT $0", "SELECT 'x', $00 A", "SELECT $1; SELECT $0 + 1"} {
		_, err := SplitStatements(sql)
		if err == nil || err.(*pgconn.PgError).Code != "42P02" || err.(*pgconn.PgError).Message != "there is no parameter $0" {
			t.Errorf("SplitStatements(%q) = %v", sql, err)
		}
	}
	if _, err := SplitStatements("SELECT $1, '$0', $10"); err != nil {
		t.Errorf("SELECT $1, '$0', $10: %v", err)
	}
}

// TestRefusedAsPostgres15: what PostgreSQL 15 (the datanodes) refuses as
// it scans but pg_query's newer scanner reads is refused with 15's error,
// rather than read as 16 would (0x1F as 31).
func TestRefusedAsPostgres15(t *testing.T) {
	for _, c := range []struct{ sql, msg string }{
		{"SELECT 0x1F", `trailing junk after numeric literal at or near "0x1F"`},
		{"SELECT 1; SELECT 1_000", `trailing junk after numeric literal at or near "1_000"`},
		{"SELECT 0b101 + 1", `trailing junk after numeric literal at or near "0b101"`},
		{"SELECT 'x', $00A", `trailing junk after parameter at or near "$00A"`},
		{"SELECT $1x", `trailing junk after parameter at or near "$1x"`},
	} {
		_, err := SplitStatements(c.sql)
		pe, _ := err.(*pgconn.PgError)
		if pe == nil || pe.Code != "42601" || pe.Message != c.msg || int(pe.Position) != strings.Index(c.sql, c.msg[strings.Index(c.msg, `"`)+1:len(c.msg)-1])+1 {
			t.Errorf("SplitStatements(%q) = %v, want 42601 %s", c.sql, err, c.msg)
		}
	}
}
