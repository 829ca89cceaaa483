// Package dialect recognises the Postgres-XL statements and clauses that
// PostgreSQL's grammar lacks (DISTRIBUTE BY, CREATE NODE, EXECUTE DIRECT ...)
// with PostgreSQL's own lexer (and splits and checks text with the scanner
// of internal/sqlscan), never with regular expressions over raw text.
// It is pure: values in, values out, no I/O.
package dialect
