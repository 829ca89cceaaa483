// Package server is the PostgreSQL wire front end of a coordinator: it accepts
// connections (TCP and Unix socket), runs the startup, TLS and authentication
// exchange, reads protocol messages and writes results, and turns each message
// into a call on a Session that an Engine made (handler.go). It must not plan,
// execute or reach a datanode: package engine does that behind the interfaces.
package server
