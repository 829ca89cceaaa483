// Package difftest runs one corpus of SELECT statements against an xlgo
// cluster and against one plain PostgreSQL holding the same data, and reports
// every query whose rows differ. It owns only its test data; it changes no server code.
package difftest
