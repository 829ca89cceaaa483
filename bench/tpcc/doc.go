// Package tpcc is a TPC-C client (specification revision 5.11) for plain
// PostgreSQL and xlgo: the schema (DISTRIBUTE BY HASH on each table's
// warehouse column and a replicated ITEM table on xlgo), the initial
// population loaded with COPY, the five transactions run by terminals bound
// to a home warehouse and district without keying or think times, and the
// consistency conditions of clause 3.3.2. It owns no servers: callers give it
// connection strings (cmd/tpcc for the command line, the tests for clusters
// they start).
package tpcc
