// Package catalog holds the cluster catalog a coordinator routes by: its
// pgxc_node and pgxc_group (a durable file of the coordinator's own, changed
// by CREATE/ALTER/DROP NODE as in Postgres-XL) and, per database, each
// table's locator (pgxc_class), kept in schema pgxc on every datanode and
// changed in the same distributed transaction as the DDL that needs it.
// It defines the data; reading pgxc_class goes through a Querier it is given.
package catalog
