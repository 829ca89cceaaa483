// Package txtest holds the cluster tests of distributed transactions: the
// bank invariant under concurrent transfers and audits, global sequences
// across a gtm restart, distributed deadlocks and the snapshot gate. It has
// no code of its own beyond its tests.
package txtest
