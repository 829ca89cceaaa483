package server

import (
	"io"
	"time"

	"github.com/xlgo/xlgo/auth"
)

// Observer is told of the server's traffic, for metrics. Its methods run
// on the connections' goroutines and must not block.
type Observer interface {
	// ClientOpened and ClientClosed bracket each admitted client connection.
	ClientOpened()
	ClientClosed()
	// BytesIn and BytesOut count the protocol bytes read from and written
	// to clients (after TLS).
	BytesIn(n int)
	BytesOut(n int)
	// ClientError is an ErrorResponse sent to a client, by SQLSTATE.
	ClientError(code string, fatal bool)
}

// nopObserver observes nothing.
type nopObserver struct{}

func (nopObserver) ClientOpened()            {}
func (nopObserver) ClientClosed()            {}
func (nopObserver) BytesIn(int)              {}
func (nopObserver) BytesOut(int)             {}
func (nopObserver) ClientError(string, bool) {}

// countingWriter counts what goes to the client.
type countingWriter struct {
	w   io.Writer
	obs Observer
}

func (cw countingWriter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	cw.obs.BytesOut(n)
	return n, err
}

// Reloadable are the settings a reload (SIGHUP) changes: clients that come
// after it get them, those connected keep theirs.
type Reloadable struct {
	HBA            *auth.HBA // nil: auth.DefaultHBA()
	TLS            *auth.ServerTLS
	StartupTimeout time.Duration // 0: DefaultStartupTimeout
	MaxConnections int           // 0: DefaultMaxConnections
}

// liveSettings are Reloadable's values in force.
type liveSettings struct {
	hba            *auth.HBA
	tls            *auth.ServerTLS
	startupTimeout time.Duration
	maxConnections int
}

// Reload puts r in force for the clients that connect from now on.
func (s *Server) Reload(r Reloadable) {
	l := &liveSettings{hba: r.HBA, tls: r.TLS, startupTimeout: r.StartupTimeout, maxConnections: r.MaxConnections}
	if l.hba == nil {
		l.hba = auth.DefaultHBA()
	}
	if l.startupTimeout <= 0 {
		l.startupTimeout = DefaultStartupTimeout
	}
	if l.maxConnections <= 0 {
		l.maxConnections = DefaultMaxConnections
	}
	s.live.Store(l)
}
