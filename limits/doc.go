// Package limits holds the cluster tests of the coordinator's limits
// against hostile clients: bad and huge message lengths, cut messages, slow
// clients, too many connections, a statement past the memory budget, text
// that is not UTF-8, deep nesting and too many parameters. It has no code
// of its own beyond its tests.
package limits
