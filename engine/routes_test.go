package engine

import (
	"strings"
	"testing"
)

// TestPlainText: a statement that calls what the coordinator must see
// never follows a route template, however the name is spelt.
func TestPlainText(t *testing.T) {
	for _, c := range []struct {
		sql   string
		plain bool
	}{
		{"SELECT * FROM t WHERE id = 5", true},
		{"UPDATE t SET a = a + 1 WHERE id = 5 -- nextval", true},
		{"SELECT nextval('s')", false},
		{"SELECT NEXTVAL('s')", false},
		{"SELECT pg_catalog.setval('s', 1)", false},
		{`SELECT "nextval"('s')`, false},
		{`SELECT U&"nextv\0061l"('s')`, false},
		{`SELECT U&"\0070gxc_node_str"()`, false},
		{"SELECT pg_advisory_lock(1)", false},
		{"SELECT set_config('a', 'b', false)", false},
		{"SELECT pgxc_node_str()", false},
		{"SELECT 'currval'", false},
		{"SELECT $$lastval$$", false},
	} {
		if got := plainText(c.sql); got != c.plain {
			t.Errorf("plainText(%q) = %v", c.sql, got)
		}
	}
}

// TestTypeNamesQuery: the type names of a statement's parameters are asked
// with one query built in linear time, whatever their number.
func TestTypeNamesQuery(t *testing.T) {
	if q := typeNamesQuery([]uint32{23, 25, 4294967295}); !strings.HasSuffix(q, " WHERE oid IN (23,25,4294967295)") {
		t.Errorf("query %q", q)
	}
	oids := make([]uint32, 65535)
	for i := range oids {
		oids[i] = uint32(16384 + i)
	}
	if n := testing.AllocsPerRun(3, func() { typeNamesQuery(oids) }); n > 2 {
		t.Errorf("65,535 types: %v allocations", n)
	}
}
