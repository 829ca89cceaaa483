// Package gtmclient is a coordinator's client of the GTM: one connection,
// concurrent requests, reconnection, and the catalog-epoch subscription.
package gtmclient
