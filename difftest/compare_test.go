package difftest

import (
	"strings"
	"testing"
)

func TestOrderedTotally(t *testing.T) {
	for _, c := range []struct {
		sql  string
		want bool
	}{
		{"SELECT a FROM t", false},
		{"SELECT a FROM t ORDER BY a", true},
		{"SELECT a, b FROM t ORDER BY a", false},
		{"SELECT a, b FROM t ORDER BY a, b DESC NULLS FIRST", true},
		{"SELECT a, b FROM t ORDER BY 2, 1", true},
		{"SELECT a, b FROM t ORDER BY 2", false},
		{"SELECT t.a, b FROM t ORDER BY a, b", true},
		{"SELECT x.a AS k, count(*) AS n FROM t x GROUP BY 1 ORDER BY k, n", true},
		{"SELECT a, lower(b) FROM t ORDER BY lower(b), a", true},
		{"SELECT a, lower(b) FROM t ORDER BY upper(b), a", false},
		{"SELECT a FROM t ORDER BY a COLLATE \"C\"", true},
		{"SELECT * FROM t ORDER BY a", false},
		{"SELECT a FROM t UNION SELECT b FROM u ORDER BY 1", true},
		{"SELECT a, c FROM t UNION SELECT b, d FROM u ORDER BY 1", false},
		{"VALUES (1), (2) ORDER BY 1", false},
		{"WITH w AS (SELECT 1 AS a) SELECT a FROM w ORDER BY a", true},
		{"SELECT a FROM t ORDER BY a; SELECT 1", false},
	} {
		if got := OrderedTotally(c.sql); got != c.want {
			t.Errorf("OrderedTotally(%q) = %v, want %v", c.sql, got, c.want)
		}
	}
}

func row(vals ...any) Row {
	r := make(Row, len(vals))
	for i, v := range vals {
		if s, ok := v.(string); ok {
			r[i] = &s
		}
	}
	return r
}

func TestCompareRows(t *testing.T) {
	a := []Row{row("1", "x"), row("2", nil), row("2", nil)}
	b := []Row{row("2", nil), row("1", "x"), row("2", nil)}
	if d := CompareRows(a, b, false); d != "" {
		t.Errorf("same multiset: %s", d)
	}
	if d := CompareRows(a, b, true); !strings.Contains(d, "row 1 differs") {
		t.Errorf("different order, ordered: %q", d)
	}
	if d := CompareRows(a, a, true); d != "" {
		t.Errorf("same rows in order: %s", d)
	}
	// NULL and the string "NULL" differ; so do duplicates counts.
	if d := CompareRows([]Row{row("NULL")}, []Row{row(nil)}, false); d == "" {
		t.Error("NULL equals 'NULL'")
	}
	if d := CompareRows(a[:2], a, false); !strings.Contains(d, "1 missing") {
		t.Errorf("missing duplicate: %q", d)
	}
	if d := CompareRows(a, a[:2], true); !strings.Contains(d, "3 rows, want 2") {
		t.Errorf("row count: %q", d)
	}
}

func TestParseCorpus(t *testing.T) {
	qs, err := ParseCorpus("-- header\n\n-- section: one\nSELECT 1;\n-- a note\nSELECT ';'\n  FROM t;\n-- section: two\nSELECT 3")
	if err != nil {
		t.Fatal(err)
	}
	want := []Query{{1, "one", "SELECT 1"}, {2, "one", "SELECT ';'\n  FROM t"}, {3, "two", "SELECT 3"}}
	if len(qs) != len(want) {
		t.Fatalf("got %d queries: %+v", len(qs), qs)
	}
	for i := range want {
		if qs[i] != want[i] {
			t.Errorf("query %d = %+v, want %+v", i, qs[i], want[i])
		}
	}
}

func TestPlainSQL(t *testing.T) {
	got, err := PlainSQL("CREATE TABLE t (a int, b text) DISTRIBUTE BY HASH (a) TO NODE (datanode1)")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToUpper(got), "DISTRIBUTE") || strings.Contains(strings.ToUpper(got), "NODE") {
		t.Errorf("XL clause left in %q", got)
	}
	if _, err := PlainSQL("CREATE NODE GROUP g WITH (datanode1)"); err == nil {
		t.Error("an XL-only statement passed as plain SQL")
	}
}
