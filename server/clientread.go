package server

import (
	"encoding/binary"
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

// maxReadAhead bounds what a watcher reads ahead for one connection: a
// client that pipelines more while its statement runs is not read further
// until the statement ends (its going away is then seen at the next read).
const maxReadAhead = 1 << 20

// A message is handed to the Backend only once it is whole: the Backend
// allocates a message's whole length as soon as it reads its header, so
// that a client that announced a long message and sent little of it would
// have the coordinator hold the length it announced (up to a gigabyte per
// connection). Here the memory held grows with the bytes that came, in
// steps of at most twice what came.

// readChunk is how much is read from the socket at a time.
const readChunk = 8 << 10

// clientReader is what the connection's Backend reads from.
type clientReader struct {
	c *clientConn

	mu    sync.Mutex
	ahead []byte // read by the watcher, not yet consumed
	err   error  // the watcher's read failed: the client is gone

	// Used by the connection goroutine only.
	maxBody int    // the Backend's limit on a message body (SetMaxBodyLen)
	ready   []byte // whole messages (or a header the Backend will refuse) for the Backend
	partial []byte // the start of a message still coming
	buf     []byte // readChunk bytes, reused for messages that fit
}

// setMaxBody sets the longest message body the connection accepts.
func (c *clientConn) setMaxBody(n int) {
	c.in.maxBody = n
	c.be.SetMaxBodyLen(n)
}

func (r *clientReader) Read(p []byte) (int, error) {
	for len(r.ready) == 0 {
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.ready)
	r.c.srv.opts.Observer.BytesIn(n)
	r.ready = r.ready[n:]
	if len(r.ready) == 0 {
		r.ready = nil
	}
	return n, nil
}

// fill reads from the client until ready holds something: every whole
// message read, or the header of a message the Backend will refuse for its
// length (it then fails at once, as it did reading it itself). Messages that
// fit in buf are read into it, again and again; a longer one gets an array
// of its own that grows as it comes.
func (r *clientReader) fill() error {
	for {
		// Release what is whole.
		whole := 0
		for rest := r.partial; len(rest) >= 5; rest = r.partial[whole:] {
			l := int64(int32(binary.BigEndian.Uint32(rest[1:5])))
			if l < 4 || l-4 > int64(r.maxBody) {
				whole += 5 // the Backend reports the bad length
				break
			}
			if int64(len(rest)) < 1+l {
				break
			}
			whole += int(1 + l)
		}
		if whole > 0 {
			// ready is read before the next fill, which may reuse its bytes.
			r.ready = r.partial[:whole:whole]
			r.partial = r.partial[whole:]
			return nil
		}
		// What is left of the last read goes to the front of buf, when it fits.
		if len(r.partial) <= readChunk {
			if r.buf == nil {
				r.buf = make([]byte, readChunk)
			}
			r.partial = r.buf[:copy(r.buf, r.partial)]
		}
		// Room for the next bytes: as much as the message being received
		// still needs, in steps that at most double what is held.
		want := readChunk - len(r.partial)
		if len(r.partial) >= 5 {
			if l := int(int32(binary.BigEndian.Uint32(r.partial[1:5]))); 1+l > readChunk {
				want = min(1+l-len(r.partial), max(readChunk, len(r.partial)))
			}
		}
		if cap(r.partial)-len(r.partial) < want {
			grown := make([]byte, len(r.partial), len(r.partial)+want)
			copy(grown, r.partial)
			r.partial = grown
		}
		n, err := r.readRaw(r.partial[len(r.partial) : len(r.partial)+want])
		r.partial = r.partial[:len(r.partial)+n]
		if err != nil && n == 0 {
			return err
		}
	}
}

// readRaw reads the client's next bytes: those a watcher read ahead first.
func (r *clientReader) readRaw(p []byte) (int, error) {
	r.mu.Lock()
	if len(r.ahead) > 0 {
		n := copy(p, r.ahead)
		r.ahead = r.ahead[n:]
		if len(r.ahead) == 0 {
			r.ahead = nil
		}
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

// discard reads and drops up to n bytes of what the client still sends.
func (r *clientReader) discard(n int64) {
	r.ready, r.partial, r.buf = nil, nil, nil
	buf := make([]byte, 4096)
	for n > 0 {
		m, err := r.readRaw(buf[:min(int64(len(buf)), n)])
		n -= int64(m)
		if err != nil {
			return
		}
	}
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
			c.in.mu.Lock()
			full := len(c.in.ahead) >= maxReadAhead
			c.in.mu.Unlock()
			if full {
				return // the client is there and sending; it is read again when the statement ends
			}
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
