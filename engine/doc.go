// Package engine is the statement engine of a coordinator: its sessions
// (server.Session), which parse each statement, plan it against the cluster
// catalog, run the plan on the datanodes and hold the session's backends,
// settings and transaction state; DDL, COPY routing, global sequences, the XL
// statements, the extended protocol and the lookups of route templates
// (planner.StatementCache); the admin console (database xlgo) and what it
// keeps of the clients (PAUSE, counters). Transactions end through package
// txn; the wire protocol is package server's.
package engine
