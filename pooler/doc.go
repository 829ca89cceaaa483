// Package pooler keeps connections to datanodes, pooled per (datanode,
// database, user), so that sessions borrow a backend instead of opening one.
// It knows nothing of SQL beyond resetting a backend it takes back.
package pooler
