package server

import (
	"sync"
	"sync/atomic"
	"time"
)

// A client that goes away while its statement runs must stop the statement
// (its datanode work, its locks). The connection goroutine reads the client
// itself, with no goroutine in between, while it waits for a message; once
// a statement has run for longWork, a watcher reads ahead on the connection
// until the statement ends, and the bytes it read are the next ones the
// connection goroutine gets.

// longWork is how long a statement runs before its client is watched.
const longWork = 200 * time.Millisecond

// clientReader is what the connection's Backend reads from.
type clientReader struct {
	c *clientConn

	mu    sync.Mutex
	ahead []byte // read by the watcher, not yet consumed
	err   error  // the watcher's read failed: the client is gone
}

func (r *clientReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	if len(r.ahead) > 0 {
		n := copy(p, r.ahead)
		r.ahead = r.ahead[n:]
		r.mu.Unlock()
		return n, nil
	}
	err := r.err
	r.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := r.c.nc.Read(p)
	if err != nil {
		r.c.readFailed.Store(true)
	}
	return n, err
}

// watchState is a connection's part in the watching of long statements.
type watchState struct {
	since    atomic.Int64 // when the message being handled came (UnixNano), 0 between messages
	mu       sync.Mutex   // orders start against stop
	watching atomic.Bool
	stopping atomic.Bool
	done     chan struct{}
}

// working marks the connection busy with a message from now until idle.
func (c *clientConn) working() { c.watch.since.Store(time.Now().UnixNano()) }

// idle ends the handling of a message: a watcher, if one started, stops,
// and the client is read by the connection goroutine again.
func (c *clientConn) idle() {
	c.watch.since.Store(0)
	if c.watch.watching.Load() {
		c.stopWatcher()
	}
}

// startWatcher starts reading ahead on a connection whose message has been
// handled for longer than longWork; the server's monitor calls it.
func (c *clientConn) startWatcher(now int64) {
	w := &c.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	since := w.since.Load()
	if since == 0 || now-since < int64(longWork) || w.watching.Load() {
		return
	}
	w.watching.Store(true)
	w.done = make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := c.nc.Read(buf)
			if n > 0 {
				c.in.mu.Lock()
				c.in.ahead = append(c.in.ahead, buf[:n]...)
				c.in.mu.Unlock()
			}
			if err != nil {
				if w.stopping.Load() && isTimeout(err) {
					return
				}
				c.in.mu.Lock()
				c.in.err = err
				c.in.mu.Unlock()
				c.readFailed.Store(true)
				c.cancel() // stops the statement
				return
			}
		}
	}(w.done)
}

// stopWatcher ends a watcher's read (by a deadline in the past) and waits
// for it.
func (c *clientConn) stopWatcher() {
	w := &c.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.watching.Load() {
		return
	}
	w.stopping.Store(true)
	c.nc.SetReadDeadline(time.Now())
	<-w.done
	c.nc.SetReadDeadline(time.Time{})
	if c.aborted.Load() {
		c.raw.SetDeadline(time.Now()) // Server.Close's wake-up, undone above
	}
	w.stopping.Store(false)
	w.watching.Store(false)
}

// watchLongWork starts the watchers of connections busy for longer than
// longWork, until ctx ends.
func (s *Server) watchLongWork(done <-chan struct{}) {
	t := time.NewTicker(longWork / 2)
	defer t.Stop()
	var busy []*clientConn
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			n := now.UnixNano()
			busy = busy[:0]
			s.mu.Lock()
			for c := range s.conns {
				if since := c.watch.since.Load(); since != 0 && n-since >= int64(longWork) && !c.watch.watching.Load() {
					busy = append(busy, c)
				}
			}
			s.mu.Unlock()
			for _, c := range busy {
				c.startWatcher(n)
			}
		}
	}
}
