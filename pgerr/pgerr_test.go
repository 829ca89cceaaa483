package pgerr

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestCodesMatchPostgreSQL reads codes.go and PostgreSQL's errcodes.txt:
// every constant is a real code of the condition it names, and no two
// constants share a name or a condition's code under two names.
func TestCodesMatchPostgreSQL(t *testing.T) {
	path := "/usr/share/postgresql/15/errcodes.txt"
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (PostgreSQL 15 is installed by .ci/run and scripts/setup.sh)", err)
	}
	defer f.Close()
	line := regexp.MustCompile(`^([0-9A-Z]{5})\s+[EWS]\s+ERRCODE_\S+\s+(\S+)`)
	real := map[string]string{} // code -> condition name
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			real[m[1]] = m[2]
		}
	}
	fs := token.NewFileSet()
	file, err := parser.ParseFile(fs, "codes.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	n := 0
	ast.Inspect(file, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok {
			return true
		}
		code, err := strconv.Unquote(vs.Values[0].(*ast.BasicLit).Value)
		if err != nil {
			t.Fatal(err)
		}
		name := vs.Names[0].Name
		if _, ok := real[code]; !ok {
			t.Errorf("%s = %q is not a SQLSTATE of PostgreSQL 15", name, code)
		}
		if other, dup := seen[code]; dup {
			t.Errorf("%s and %s are both %q", name, other, code)
		}
		seen[code] = name
		n++
		return true
	})
	if n != len(real) {
		t.Errorf("codes.go has %d codes, errcodes.txt %d", n, len(real))
	}
}

func TestNewAndCode(t *testing.T) {
	err := Unsupported("a %s", "construct")
	if Code(err) != FeatureNotSupported || err.Message != "a construct" || err.Severity != "ERROR" {
		t.Fatalf("%+v", err)
	}
	var e error = New(DivisionByZero, "division by zero")
	if !Is(e, "22012") || Is(nil, "22012") || Code(os.ErrNotExist) != "" {
		t.Fatal("Is/Code")
	}
	if Code(&pgconn.PgError{Code: UniqueViolation}) != "23505" {
		t.Fatal("a pgconn error's code")
	}
}
