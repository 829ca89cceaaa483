// Package distribution decides where a row lives: canonical encoding of a
// distribution value by column type, xxhash64 into buckets, bucket maps,
// modulo, and the node ids of pgxc_node. It is pure: no I/O.
package distribution
