// Package opstest holds the tests of running a cluster as an operator
// does: its metrics, its signals, its logs. It has no code of its own; the
// tests start real clusters (cluster/clustertest).
package opstest
