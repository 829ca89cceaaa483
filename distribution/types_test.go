package distribution

import "testing"

func TestNormalizeTypeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"integer", "int4"}, {"INT", "int4"}, {"int4", "int4"}, {"serial", "int4"}, {"serial4", "int4"},
		{"bigint", "int8"}, {"bigserial", "int8"}, {"int8", "int8"}, {"serial8", "int8"},
		{"smallint", "int2"}, {"smallserial", "int2"}, {"serial2", "int2"},
		{"numeric", "numeric"}, {"numeric(10,2)", "numeric"}, {"NUMERIC ( 10 , 2 )", "numeric"}, {"decimal(5)", "numeric"}, {"dec", "numeric"},
		{"real", "float4"}, {"double precision", "float8"}, {"DOUBLE   PRECISION", "float8"}, {"float", "float8"},
		{"float(10)", "float4"}, {"float(24)", "float4"}, {"float(25)", "float8"}, {"float(53)", "float8"}, {"float8", "float8"},
		{"boolean", "bool"}, {"bool", "bool"},
		{"text", "text"}, {"character varying", "varchar"}, {"character varying(255)", "varchar"}, {"varchar(10)", "varchar"},
		{"char varying(3)", "varchar"}, {"national character varying(3)", "varchar"},
		{"character", "bpchar"}, {"character(10)", "bpchar"}, {"char", "bpchar"}, {"char(1)", "bpchar"}, {"CHAR(2)", "bpchar"},
		{"bpchar", "bpchar"}, {"nchar(2)", "bpchar"},
		{`"char"`, "char"}, {"pg_catalog.char", "char"}, {`pg_catalog."char"`, "char"}, {`"pg_catalog"."char"`, "char"},
		{"name", "name"}, {"uuid", "uuid"}, {"bytea", "bytea"}, {"oid", "oid"},
		{"date", "date"}, {"time", "time"}, {"time(3)", "time"}, {"time without time zone", "time"},
		{"time with time zone", "timetz"}, {"timetz", "timetz"},
		{"timestamp", "timestamp"}, {"timestamp(6)", "timestamp"}, {"timestamp without time zone", "timestamp"},
		{"timestamp(3) without time zone", "timestamp"}, {"timestamp with time zone", "timestamptz"},
		{"TIMESTAMP(0) WITH TIME ZONE", "timestamptz"}, {"timestamptz", "timestamptz"}, {"timestamptz(2)", "timestamptz"},
		{"interval", "interval"}, {"interval day to second", "interval"}, {"interval year", "interval"}, {"interval(3)", "interval"},
		{"pg_catalog.int4", "int4"}, {"pg_catalog.bpchar", "bpchar"}, {"pg_catalog.varchar(10)", "varchar"},
		{"pg_catalog.timestamptz", "timestamptz"}, {"PG_CATALOG.INT8", "int8"}, {"pg_catalog.numeric", "numeric"},
		{"int4[]", "_int4"}, {"integer[]", "_int4"}, {"text[3]", "_text"}, {"int array", "_int4"},
		{"  integer  ", "int4"}, {"bit varying(5)", "varbit"}, {"jsonb", "jsonb"},
		{"public.mytype", "public.mytype"}, {"MyType", "mytype"}, {`"MyType"`, "MyType"}, {"", ""},
	}
	for _, tc := range tests {
		if got := NormalizeTypeName(tc.in); got != tc.want {
			t.Errorf("NormalizeTypeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNormalizeTypeNameParts(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{[]string{"pg_catalog", "int4"}, "int4"},
		{[]string{"pg_catalog", "bpchar"}, "bpchar"},
		{[]string{"char"}, "char"}, // pg_query's `"char"`
		{[]string{"serial"}, "int4"},
		{[]string{"bigserial"}, "int8"},
		{[]string{"smallserial"}, "int2"},
		{[]string{"text"}, "text"},
		{[]string{"public", "t"}, "public.t"},
		{nil, ""},
	}
	for _, tc := range tests {
		if got := NormalizeTypeNameParts(tc.in); got != tc.want {
			t.Errorf("NormalizeTypeNameParts(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHashableAndModuloAllowed(t *testing.T) {
	tests := []struct {
		typ              string
		hashable, modulo bool
	}{
		{"int2", true, true}, {"int4", true, true}, {"int8", true, true},
		{"integer", true, true}, {"bigint", true, true}, {"smallint", true, true}, {"serial", true, true}, {"bigserial", true, true},
		{"pg_catalog.int4", true, true},
		{"oid", true, false}, {"numeric", true, false}, {"decimal(10,2)", true, false},
		{"text", true, false}, {"varchar", true, false}, {"character varying(5)", true, false},
		{"bpchar", true, false}, {"character(3)", true, false}, {"char", true, false}, {`"char"`, true, false},
		{"name", true, false}, {"uuid", true, false}, {"date", true, false}, {"time", true, false},
		{"timestamp", true, false}, {"timestamptz", true, false}, {"timestamp with time zone", true, false},
		{"interval", true, false}, {"bool", true, false}, {"boolean", true, false}, {"bytea", true, false},
		{"float4", true, false}, {"real", true, false}, {"float8", true, false}, {"double precision", true, false},
		{"timetz", false, false}, {"json", false, false}, {"jsonb", false, false}, {"point", false, false},
		{"int4[]", false, false}, {"_int4", false, false}, {"money", false, false}, {"inet", false, false},
		{"xml", false, false}, {"varbit", false, false}, {"public.mytype", false, false}, {"", false, false},
	}
	for _, tc := range tests {
		if got := Hashable(tc.typ); got != tc.hashable {
			t.Errorf("Hashable(%q) = %v, want %v", tc.typ, got, tc.hashable)
		}
		if got := ModuloAllowed(tc.typ); got != tc.modulo {
			t.Errorf("ModuloAllowed(%q) = %v, want %v", tc.typ, got, tc.modulo)
		}
	}
}

// TestEveryHashableTypeHasBinary: each hashable type accepts some binary value.
func TestEveryHashableTypeHasBinary(t *testing.T) {
	sizes := map[string]int{
		"int2": 2, "int4": 4, "int8": 8, "oid": 4, "numeric": 8, "text": 0, "varchar": 0, "bpchar": 0,
		"char": 1, "name": 0, "uuid": 16, "bool": 1, "bytea": 0, "float4": 4, "float8": 8,
		"date": 4, "time": 8, "timestamp": 8, "timestamptz": 8, "interval": 16,
	}
	for typ := range hashableTypes {
		n, ok := sizes[typ]
		if !ok {
			t.Errorf("no binary size known for hashable type %q", typ)
			continue
		}
		if _, err := CanonicalBinary(typ, make([]byte, n)); err != nil {
			t.Errorf("CanonicalBinary(%q, %d zero bytes): %v", typ, n, err)
		}
	}
}
