// Package auth holds what client authentication and TLS need apart from the
// wire protocol: hba-style rules and their matching, the SCRAM-SHA-256 and md5
// verifiers as PostgreSQL computes them, userlist and pgpass files, and the
// certificates xlctl makes. It does no network I/O.
package auth
