// Package executor runs plans: remote statements on datanodes through the
// session's backends, rows pulled and evaluated, INSERT rows routed to the
// nodes that hold them. Transactions and two-phase commit are driven by the
// session through Backends; the executor only says where it writes.
package executor
