package gtm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/xlgo/xlgo/gtm/gtmproto"
)

// Replication (the GTM standby, Postgres-XL's "GTM slave").
//
// A standby dials its primary and sends MsgReplicate. The primary answers with
// a snapshot of its log's state (MsgReplSnapshot) and then every record it
// appends (MsgReplRecords), in log order, tagged with the primary's log offset.
// The standby writes and fsyncs them to its own log and acknowledges the offset
// (MsgReplAck). While a standby is attached, the primary answers a durable
// request only once the standby acknowledged the request's record, so a
// promoted standby holds every decision, sequence range, GXID block and catalog
// epoch a client was ever told about. A standby that disconnects or does not
// acknowledge within the ack timeout is dropped and the primary goes on alone.
//
// Every promotion bumps the log's generation; a primary refuses a standby whose
// generation is newer than its own (that standby was promoted since).

// DefaultReplAckTimeout is how long a durable request waits for the standby.
const DefaultReplAckTimeout = 10 * time.Second

// maxReplLag bounds the records queued for a standby that does not keep up.
const maxReplLag = 64 << 20

// errNoResponse tells handle that the handler answered (or will answer) by itself.
var errNoResponse = errors.New("no response")

// ErrStandby is returned for requests a standby does not serve.
var ErrStandby = errors.New("gtm is a standby")

// WithStandbyOf makes Open start a standby that follows the primary at addr.
func WithStandbyOf(addr string) Option {
	return func(o *options) { o.standbyOf = addr }
}

// WithReplAckTimeout sets how long a durable request waits for the standby's
// acknowledgement before the standby is dropped.
func WithReplAckTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.replAckTimeout = d
		}
	}
}

// replica is the primary's side of an attached standby.
type replica struct {
	conn  *serverConn
	reqID uint64

	mu      sync.Mutex
	buf     []byte // records not yet sent
	bufEnd  int64  // log offset past buf
	acked   int64  // everything up to here is durable on the standby
	owed    []owed // what was sent and not acknowledged yet, oldest first (for the lag metric)
	changed chan struct{}
	sig     chan struct{} // capacity 1: buf has data
	gone    chan struct{}
	once    sync.Once
}

// owed is log sent to the standby up to end, the first of it at at.
type owed struct {
	end int64
	at  time.Time
}

// owedGrain is how close in time records must be to share one owed entry:
// it bounds the entries a standby that stalls makes the primary keep.
const owedGrain = 5 * time.Millisecond

// oweLocked notes, under r.mu, that the log up to end is on its way to the
// standby.
func (r *replica) oweLocked(end int64) {
	now := time.Now()
	if n := len(r.owed); n > 0 && now.Sub(r.owed[n-1].at) < owedGrain {
		r.owed[n-1].end = end
		return
	}
	r.owed = append(r.owed, owed{end, now})
}

// lag returns the offset the standby acknowledged and since when it owes
// an acknowledgement (zero when it owes none).
func (r *replica) lag() (acked int64, since time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.owed) > 0 {
		since = r.owed[0].at
	}
	return r.acked, since
}

func newReplica(c *serverConn, id uint64) *replica {
	return &replica{conn: c, reqID: id, changed: make(chan struct{}), sig: make(chan struct{}, 1), gone: make(chan struct{})}
}

// enqueue is called under the wal's lock for every appended record.
func (r *replica) enqueue(rec []byte, end int64) {
	select {
	case <-r.gone:
		return
	default:
	}
	r.mu.Lock()
	r.oweLocked(end)
	r.buf = append(r.buf, rec...)
	r.bufEnd = end
	over := len(r.buf) > maxReplLag
	r.mu.Unlock()
	if over {
		r.conn.s.logger.Warn("standby does not keep up with the log; dropping it", "remote", r.conn.remote)
		r.stop()
		return
	}
	select {
	case r.sig <- struct{}{}:
	default:
	}
}

func (r *replica) stop() {
	r.once.Do(func() {
		close(r.gone)
		r.conn.close()
	})
}

func (r *replica) ack(end int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if end > r.acked {
		r.acked = end
		i := 0
		for i < len(r.owed) && r.owed[i].end <= end {
			i++
		}
		r.owed = append(r.owed[:0], r.owed[i:]...)
		close(r.changed)
		r.changed = make(chan struct{})
	}
}

// waitAck reports false if expired closes before the standby acknowledged
// end; a standby that is gone, or a closing server, count as done.
func (r *replica) waitAck(end int64, expired, closing <-chan struct{}) bool {
	for {
		r.mu.Lock()
		acked, changed := r.acked, r.changed
		r.mu.Unlock()
		if acked >= end {
			return true
		}
		select {
		case <-changed:
		case <-r.gone:
			return true
		case <-closing:
			return true
		case <-expired:
			return false
		}
	}
}

// take returns the queued records and the offset past them.
func (r *replica) take() ([]byte, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, end := r.buf, r.bufEnd
	r.buf = nil
	return b, end
}

// durable returns once the log up to end is fsync'd here and, while a standby
// is attached, acknowledged by it.
func (s *Server) durable(end int64) error {
	if err := s.wal.syncTo(end); err != nil {
		return err
	}
	s.replMu.Lock()
	r := s.replica
	s.replMu.Unlock()
	if r == nil {
		return nil
	}
	start := time.Now()
	expired := make(chan struct{})
	timer := time.AfterFunc(s.opts.replAckTimeout, func() { close(expired) })
	defer timer.Stop()
	acked := r.waitAck(end, expired, s.closing)
	s.m.replAckWait.Observe(time.Since(start).Seconds())
	if !acked {
		s.logger.Warn("standby did not acknowledge in time; dropping it and going on alone",
			"remote", r.conn.remote, "timeout", s.opts.replAckTimeout)
		r.stop()
	}
	return nil
}

// appendDurable appends a record and waits until it is durable (and replicated).
func (s *Server) appendDurable(t recordType, body []byte) error {
	end, err := s.wal.append(t, body)
	if err != nil {
		return err
	}
	return s.durable(end)
}

// serveReplica streams the log to the standby on c until the connection ends.
func (s *Server) serveReplica(c *serverConn, id uint64, standbyGen uint64) error {
	if gen := s.generation.Load(); standbyGen > gen {
		return fmt.Errorf("%w: the standby is at generation %d, newer than this gtm's %d (it was promoted since); "+
			"start this gtm as its standby instead", ErrInvalid, standbyGen, gen)
	}
	r := newReplica(c, id)
	snap, off, gen, err := s.wal.attach(r)
	if err != nil {
		return err
	}
	s.replMu.Lock()
	s.replica = r
	s.replMu.Unlock()
	defer func() {
		s.wal.detach(r)
		s.replMu.Lock()
		if s.replica == r {
			s.replica = nil
		}
		s.replMu.Unlock()
		r.stop()
		select {
		case <-s.closing:
		default:
			s.m.standbyDisconnects.Inc()
			s.logger.Warn("standby disconnected; going on alone", "remote", c.remote)
		}
	}()
	s.logger.Info("standby attached; replicating synchronously", "remote", c.remote, "offset", off, "generation", gen)
	var e gtmproto.Encoder
	c.send(gtmproto.Frame{ID: id, Type: gtmproto.MsgReplSnapshot, Body: e.Uvarint(gen).Uvarint(uint64(off)).Raw(snap).Bytes()})
	// With automatic failover the standby must tell a lost primary from an
	// idle one: an empty MsgReplRecords (end 0) now and then says "still here".
	var beat <-chan time.Time
	if s.opts.failoverAfter > 0 {
		t := time.NewTicker(s.opts.failoverAfter / 6)
		defer t.Stop()
		beat = t.C
	}
	for {
		select {
		case <-r.sig:
		case <-beat:
			var e gtmproto.Encoder
			c.send(gtmproto.Frame{ID: id, Type: gtmproto.MsgReplRecords, Body: e.Uvarint(0).Raw(nil).Bytes()})
			continue
		case <-r.gone:
			return errNoResponse
		case <-c.done:
			return errNoResponse
		}
		recs, end := r.take()
		if len(recs) == 0 {
			continue
		}
		var e gtmproto.Encoder
		c.send(gtmproto.Frame{ID: id, Type: gtmproto.MsgReplRecords, Body: e.Uvarint(uint64(end)).Raw(recs).Bytes()})
	}
}

// replAck records a standby's acknowledgement arriving on c.
func (s *Server) replAck(c *serverConn, end int64) {
	s.replMu.Lock()
	r := s.replica
	s.replMu.Unlock()
	if r != nil && r.conn == c {
		r.ack(end)
	}
}

// IsStandby reports whether the server is a standby (not yet promoted).
func (s *Server) IsStandby() bool { return s.standby.Load() }

// NodeInfo describes the server's role: whether it is a standby, whether its
// peer (the standby of a primary, the primary of a standby) is connected, its
// generation and the peer's address.
func (s *Server) NodeInfo() (standby, peerConnected bool, generation uint64, peer string) {
	if s.standby.Load() {
		return true, s.streaming.Load(), s.wal.state().generation, s.opts.standbyOf
	}
	s.replMu.Lock()
	r := s.replica
	s.replMu.Unlock()
	if r != nil {
		peer = r.conn.remote
	}
	return false, r != nil, s.generation.Load(), peer
}

// follow runs on a standby until promotion or Close: it streams the primary's
// log, reconnecting with a backoff.
func (s *Server) follow(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		err := s.followOnce(ctx)
		s.streaming.Store(false)
		s.streamingChanged(false)
		if ctx.Err() != nil {
			return
		}
		s.logger.Warn("standby lost its primary; reconnecting", "primary", s.opts.standbyOf, "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (s *Server) followOnce(ctx context.Context) error {
	d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: 15 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", s.opts.standbyOf)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	defer nc.Close()
	write := func(f gtmproto.Frame) error {
		_ = nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		return gtmproto.WriteFrame(nc, f)
	}
	ack := func(end int64) error {
		var e gtmproto.Encoder
		return write(gtmproto.Frame{Type: gtmproto.MsgReplAck, Body: e.Uvarint(uint64(end)).Bytes()})
	}
	var e gtmproto.Encoder
	if err := write(gtmproto.Frame{ID: 1, Type: gtmproto.MsgReplicate, Body: e.Uvarint(s.wal.state().generation).Bytes()}); err != nil {
		return err
	}
	r := bufio.NewReaderSize(nc, 64<<10)
	snapshotted := false
	for {
		if s.opts.failoverAfter > 0 { // the primary beats every failoverAfter/6 (serveReplica)
			_ = nc.SetReadDeadline(time.Now().Add(s.opts.failoverAfter / 2))
		}
		f, err := gtmproto.ReadFrame(r, gtmproto.MaxResponseFrame)
		if err != nil {
			return err
		}
		s.quorum.heard()
		dec := gtmproto.NewDecoder(f.Body)
		switch f.Type {
		case gtmproto.MsgError:
			_, msg, _ := gtmproto.DecodeError(f.Body)
			return fmt.Errorf("primary refused replication: %s", msg)
		case gtmproto.MsgReplSnapshot:
			gen := dec.Uvarint()
			off := int64(dec.Uvarint())
			recs := dec.Raw(gtmproto.MaxResponseFrame)
			if err := dec.Finish(); err != nil {
				return err
			}
			if err := s.wal.replace(s.dir, recs); err != nil {
				return err
			}
			if err := ack(off); err != nil {
				return err
			}
			snapshotted = true
			s.streaming.Store(true)
			s.streamingChanged(true)
			s.followed.Store(true)
			s.logger.Info("standby streaming from primary", "primary", s.opts.standbyOf, "offset", off, "generation", gen)
		case gtmproto.MsgReplRecords:
			end := int64(dec.Uvarint())
			recs := dec.Raw(gtmproto.MaxResponseFrame)
			if err := dec.Finish(); err != nil {
				return err
			}
			if !snapshotted {
				return errors.New("primary sent records before its snapshot")
			}
			if end == 0 && len(recs) == 0 {
				continue // a heartbeat
			}
			local, err := s.wal.appendRaw(recs)
			if err != nil {
				return err
			}
			if err := s.wal.syncTo(local); err != nil {
				return err
			}
			if err := ack(end); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected %s from the primary", f.Type)
		}
	}
}

// Promote turns a standby into a primary that serves at once: it stops
// following, bumps the generation durably and loads the replicated state.
// wasStreaming tells whether this standby streamed from its primary since it
// started (until it lost it); if not, its state is what it had logged before.
// Promoting a primary does nothing. A standby that never received its
// primary's state refuses (it would hand out ids the primary already did).
func (s *Server) Promote() (generation uint64, wasStreaming bool, err error) {
	s.promoteMu.Lock()
	defer s.promoteMu.Unlock()
	if !s.standby.Load() {
		return s.generation.Load(), false, nil
	}
	s.stopFollow()
	wasStreaming = s.followed.Load()
	st := s.wal.state()
	if st.generation == 0 {
		s.startFollow()
		return 0, false, fmt.Errorf("%w: this standby never received the state of its primary %s; it cannot be promoted",
			ErrInvalid, s.opts.standbyOf)
	}
	gen := st.generation + 1
	if err := s.wal.appendSync(recGeneration, encodeUvarint(gen)); err != nil {
		s.startFollow()
		return 0, false, err
	}
	st.generation = gen
	s.loadState(st)
	s.gate.hold(s.opts.committerLinger) // commits the old primary let through may still be applied
	s.standby.Store(false)
	s.logger.Info("standby promoted; serving as the primary", "generation", gen, "was_streaming", wasStreaming,
		"next_gxid", st.gxidReserved, "catalog_epoch", st.catalogEpoch, "decisions", len(st.decisions), "sequences", len(st.seqs))
	if !wasStreaming {
		s.logger.Warn("promoted without having streamed from the primary since start: only the state logged before is here")
	}
	return gen, wasStreaming, nil
}

func (s *Server) startFollow() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.followCancel, s.followDone = cancel, done
	go func() {
		defer close(done)
		s.follow(ctx)
	}()
}

func (s *Server) stopFollow() {
	if s.followCancel != nil {
		s.followCancel()
		<-s.followDone
		s.followCancel, s.followDone = nil, nil
	}
}
