// Package planner turns a parsed statement and a catalog snapshot into a
// plan: a tree of executor primitives as plain data with a deterministic
// EXPLAIN text. It is pure: no I/O. What it cannot run correctly it refuses
// with SQLSTATE 0A000 naming the construct, never a wrong answer. Its
// StatementCache keeps, for every session, the route templates that let a
// statement pinned to one node by one value skip parsing and planning.
package planner
