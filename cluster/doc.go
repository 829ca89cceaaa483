// Package cluster is what xlctl does: the cluster config, initdb and pg_ctl
// for datanodes, starting and supervising gtm and coordinators, node
// registration, status. It runs processes; it does not plan or route SQL.
package cluster
