// Package gtmclient is a coordinator's client of the GTM: one connection,
// concurrent requests, reconnection (to the primary or its promoted standby, from
// a list of addresses), the catalog-epoch subscription, global sequences with a
// per-coordinator range cache (SeqCache) and the snapshot gate (GateEnter).
package gtmclient
