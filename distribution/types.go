package distribution

import "strings"

// hashableTypes lists the pg_type.typname values a HASH distribution column may have.
var hashableTypes = map[string]bool{
	"int2": true, "int4": true, "int8": true, "oid": true,
	"numeric": true,
	"text":    true, "varchar": true, "bpchar": true, "char": true, "name": true,
	"uuid": true, "bool": true, "bytea": true,
	"float4": true, "float8": true,
	"date": true, "time": true, "timestamp": true, "timestamptz": true, "interval": true,
}

// sqlTypeNames maps SQL spellings of built-in types (as written in CREATE TABLE) to typname.
var sqlTypeNames = map[string]string{
	"smallint": "int2", "int2": "int2", "smallserial": "int2", "serial2": "int2",
	"integer": "int4", "int": "int4", "int4": "int4", "serial": "int4", "serial4": "int4",
	"bigint": "int8", "int8": "int8", "bigserial": "int8", "serial8": "int8",
	"oid":     "oid",
	"numeric": "numeric", "decimal": "numeric", "dec": "numeric",
	"real": "float4", "float4": "float4",
	"double precision": "float8", "float8": "float8", "float": "float8",
	"boolean": "bool", "bool": "bool",
	"text":              "text",
	"character varying": "varchar", "char varying": "varchar", "varchar": "varchar",
	"national character varying": "varchar", "national char varying": "varchar", "nchar varying": "varchar",
	"character": "bpchar", "char": "bpchar", "bpchar": "bpchar",
	"national character": "bpchar", "national char": "bpchar", "nchar": "bpchar",
	"name":                        "name",
	"uuid":                        "uuid",
	"bytea":                       "bytea",
	"date":                        "date",
	"time":                        "time",
	"time without time zone":      "time",
	"time with time zone":         "timetz",
	"timetz":                      "timetz",
	"timestamp":                   "timestamp",
	"timestamp without time zone": "timestamp",
	"timestamp with time zone":    "timestamptz",
	"timestamptz":                 "timestamptz",
	"interval":                    "interval",
	"bit":                         "bit",
	"bit varying":                 "varbit",
	"varbit":                      "varbit",
	"json":                        "json",
	"jsonb":                       "jsonb",
}

// NormalizeTypeName maps a type as written in SQL ("integer", "character varying(10)",
// "timestamp(3) with time zone", `"char"`) or in pg_query's qualified style ("pg_catalog.int4")
// to PostgreSQL's pg_type.typname ("int4", "varchar", "timestamptz", "char").
//
// Unqualified, unquoted char is the SQL keyword and gives "bpchar"; the one-byte type is
// `"char"` or "pg_catalog.char". Arrays give the array typname ("int4[]" -> "_int4").
// Unknown names come back lower-cased and without type modifiers.
func NormalizeTypeName(sqlName string) string {
	s := strings.TrimSpace(sqlName)
	if s == "" {
		return ""
	}
	// Array suffixes: int4[], integer[3], int4 array.
	base := ""
	if i := strings.LastIndexByte(s, '['); i > 0 && strings.HasSuffix(s, "]") {
		base = s[:i]
	} else if strings.HasSuffix(asciiLower(s), " array") {
		base = s[:len(s)-len(" array")]
	}
	if base != "" {
		elem := NormalizeTypeName(base)
		if elem == "" || strings.HasPrefix(elem, "_") {
			return elem
		}
		return "_" + elem
	}

	// Split off a schema qualification, honouring double quotes.
	parts, quoted := splitQualified(s)
	if len(parts) == 0 {
		return ""
	}
	last := parts[len(parts)-1]
	lastQuoted := quoted[len(parts)-1]
	if len(parts) >= 2 {
		schema := parts[len(parts)-2]
		if !quoted[len(parts)-2] {
			schema = asciiLower(schema)
		}
		if schema == "pg_catalog" {
			if lastQuoted {
				return last
			}
			// A qualified name names a pg_type row directly.
			return asciiLower(stripTypmod(last))
		}
		// Another schema: a user type; keep it qualified.
		if !lastQuoted {
			last = asciiLower(stripTypmod(last))
		}
		return strings.Join(parts[:len(parts)-1], ".") + "." + last
	}
	if lastQuoted {
		// A quoted identifier is a typname as written ("char", "int4").
		return last
	}

	low := asciiLower(last)
	// float(p): p <= 24 is real, otherwise double precision.
	if strings.HasPrefix(low, "float") {
		if p, ok := floatPrecision(low); ok {
			if p >= 1 && p <= 24 {
				return "float4"
			}
			return "float8"
		}
	}
	norm := strings.Join(strings.Fields(stripTypmod(low)), " ")
	if strings.HasPrefix(norm, "interval ") {
		// interval year to month, interval day to second ...
		return "interval"
	}
	if t, ok := sqlTypeNames[norm]; ok {
		return t
	}
	return norm
}

// NormalizeTypeNameParts maps pg_query's TypeName.Names (for example ["pg_catalog", "int4"]
// or ["serial"]) to a typname. pg_query qualifies every SQL keyword type with pg_catalog, so an
// unqualified name is an identifier and is taken as a typname (only the serial pseudo-types are mapped).
func NormalizeTypeNameParts(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		switch names[0] {
		case "serial", "serial4":
			return "int4"
		case "bigserial", "serial8":
			return "int8"
		case "smallserial", "serial2":
			return "int2"
		}
		return names[0]
	}
	if len(names) == 2 && names[0] == "pg_catalog" {
		return names[1]
	}
	return strings.Join(names, ".")
}

// Hashable reports whether a column of this type can be a HASH distribution column.
// typeName is a typname ("int4", "char" for the one-byte type) or an SQL spelling NormalizeTypeName accepts.
func Hashable(typeName string) bool {
	return hashableTypes[resolveType(typeName)]
}

// ModuloAllowed reports whether a column of this type can be a MODULO distribution column (int2, int4, int8).
func ModuloAllowed(typeName string) bool {
	switch resolveType(typeName) {
	case "int2", "int4", "int8":
		return true
	}
	return false
}

// resolveType takes a typname as is when it is one, otherwise normalises an SQL spelling.
// "char" is the typname of the one-byte type, so it is not read as the SQL keyword here.
func resolveType(typeName string) string {
	if hashableTypes[typeName] {
		return typeName
	}
	return NormalizeTypeName(typeName)
}

// stripTypmod removes parenthesised type modifiers: "numeric(10, 2)" -> "numeric".
func stripTypmod(s string) string {
	if strings.IndexByte(s, '(') < 0 {
		return s
	}
	var b strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '(':
			depth++
		case c == ')':
			if depth > 0 {
				depth--
			}
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(b.String())
}

// floatPrecision reads p from "float(p)"; ok is false when s is not of that form.
func floatPrecision(s string) (int, bool) {
	rest := strings.TrimSpace(strings.TrimPrefix(s, "float"))
	if !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") {
		return 0, false
	}
	num := strings.TrimSpace(rest[1 : len(rest)-1])
	if num == "" || len(num) > 4 {
		return 0, false
	}
	p := 0
	for i := 0; i < len(num); i++ {
		if num[i] < '0' || num[i] > '9' {
			return 0, false
		}
		p = p*10 + int(num[i]-'0')
	}
	return p, true
}

// splitQualified splits "a.b" on dots outside double quotes, unquoting quoted parts.
func splitQualified(s string) (parts []string, quoted []bool) {
	var cur strings.Builder
	inQuote, wasQuoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '"':
			if i+1 < len(s) && s[i+1] == '"' {
				cur.WriteByte('"')
				i++
			} else {
				inQuote = false
			}
		case inQuote:
			cur.WriteByte(c)
		case c == '"':
			inQuote, wasQuoted = true, true
		case c == '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			quoted = append(quoted, wasQuoted)
			cur.Reset()
			wasQuoted = false
		default:
			cur.WriteByte(c)
		}
	}
	part := cur.String()
	if !wasQuoted {
		part = strings.TrimSpace(part)
	}
	parts = append(parts, part)
	quoted = append(quoted, wasQuoted)
	return parts, quoted
}

// asciiLower lower-cases ASCII letters only, as PostgreSQL does for keywords and identifiers.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
