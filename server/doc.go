// Package server is the PostgreSQL wire front end of a coordinator: it accepts
// connections (TCP and Unix socket), runs the startup and authentication
// exchange, and turns protocol messages into calls on a Session.
// It owns no planning or execution: a Session (session.go) does that.
package server
