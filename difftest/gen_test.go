package difftest

import (
	"os"
	"path/filepath"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

func testSchema(t *testing.T) *Schema {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSchema(string(data))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The generator writes SQL that PostgreSQL's parser takes, the same for the
// same seed.
func TestGeneratorParses(t *testing.T) {
	s := testSchema(t)
	if len(s.tables) < 9 {
		t.Fatalf("schema: %d tables", len(s.tables))
	}
	a, b := NewGenerator(s, 42), NewGenerator(s, 42)
	for i := 0; i < 3000; i++ {
		q := a.Query()
		if q2 := b.Query(); q2 != q {
			t.Fatalf("seed 42, query %d differs between two runs:\n%s\n%s", i, q, q2)
		}
		if _, err := pg_query.Parse(q); err != nil {
			t.Fatalf("query %d does not parse: %v\n%s", i, err, q)
		}
	}
}
