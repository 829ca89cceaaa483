package server

import "io"

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
