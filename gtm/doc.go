// Package gtm is the global transaction manager's state machine and server:
// global transaction ids, durable commit decisions (fsync'd log replayed on
// start) and the catalog epoch that coordinators follow.
package gtm
