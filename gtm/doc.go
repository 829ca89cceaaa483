// Package gtm is the global transaction manager's state machine and server:
// global transaction ids, durable commit decisions (fsync'd log replayed on
// start), global sequences (seq.go), the snapshot gate (gate.go), the catalog
// epoch that coordinators follow, the standby that follows a primary's log
// synchronously and is promoted on failover (repl.go), and the Prometheus
// metrics of all these (metrics.go).
//
// The wire protocol is in package gtm/gtmproto; the log format is described in
// wal.go and its record types in records.go. New requests are one more entry in
// the handlers table (conn.go), new durable state one more record type.
package gtm
