// Package pgerr owns the errors xlgo gives clients: PostgreSQL's SQLSTATE
// codes as named constants (as errcodes.txt names them) and the one
// constructor of a client error. It must not hold codes PostgreSQL does not
// define: drivers act on them.
package pgerr

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// New is an error with a SQLSTATE, as a client sees it.
func New(code, format string, args ...any) *pgconn.PgError {
	return &pgconn.PgError{Severity: "ERROR", Code: code, Message: fmt.Sprintf(format, args...)}
}

// Unsupported is the error for a construct xlgo cannot run correctly (yet):
// refused whole, never answered wrong.
func Unsupported(format string, args ...any) *pgconn.PgError {
	return New(FeatureNotSupported, format, args...)
}

// Code is the SQLSTATE of err, or "" when it carries none.
func Code(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// Is tells whether err carries SQLSTATE code.
func Is(err error, code string) bool { return err != nil && Code(err) == code }
