package gtm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xlgo/xlgo/gtm/gtmproto"
)

// DefaultCatalogAckTimeout is how long BumpCatalogEpoch waits for subscribers.
const DefaultCatalogAckTimeout = 5 * time.Second

// DefaultGXIDBlock is how many GXIDs one durable reservation covers.
const DefaultGXIDBlock = 10000

// DefaultCommitterLinger is how long a committer's hold on the snapshot
// gate outlives its connection.
const DefaultCommitterLinger = 5 * time.Second

// WithCommitterLinger sets how long a committer's hold on the snapshot gate
// outlives its connection (0: it ends with it).
func WithCommitterLinger(d time.Duration) Option {
	return func(o *options) { o.committerLinger = d }
}

// Option changes a Server's settings at Open.
type Option func(*options)

type options struct {
	committerLinger   time.Duration
	catalogAckTimeout time.Duration
	gxidBlock         uint64
	standbyOf         string
	replAckTimeout    time.Duration
	failoverAfter     time.Duration
	registerer        prometheus.Registerer
}

// WithCatalogAckTimeout sets how long a catalog epoch bump waits for each
// subscriber's acknowledgement before disconnecting it.
func WithCatalogAckTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.catalogAckTimeout = d
		}
	}
}

// WithGXIDBlock sets how many GXIDs are reserved with one log write.
func WithGXIDBlock(n uint64) Option {
	return func(o *options) {
		if n > 0 {
			o.gxidBlock = n
		}
	}
}

// Server is the GTM: its state, its log and the connections it serves.
type Server struct {
	dir    string
	logger *slog.Logger
	opts   options
	lock   *os.File
	wal    *wal

	gxMu         sync.Mutex
	nextGXID     uint64
	gxidReserved uint64
	nextGXIDSeen atomic.Uint64 // nextGXID, for metrics: gxMu is held across fsyncs

	decMu     sync.Mutex
	decisions map[string]decisionEntry

	bumpMu sync.Mutex // serializes catalog epoch bumps
	catMu  sync.Mutex // guards epoch and subs
	epoch  uint64
	subs   map[*serverConn]*subscriber

	seqMu sync.Mutex
	seqs  map[string]seqState

	claimMu sync.Mutex
	claims  map[string]string
	records map[string]string // guarded by claimMu

	quorum quorum

	gate *gate

	m                *metrics
	metricsCollector prometheus.Collector // registered with opts.registerer

	replMu       sync.Mutex
	replica      *replica // the attached standby (primary only)
	standby      atomic.Bool
	streaming    atomic.Bool // a standby that follows its primary right now
	followed     atomic.Bool // a standby that received its primary's snapshot since it started
	generation   atomic.Uint64
	promoteMu    sync.Mutex
	followCancel context.CancelFunc
	followDone   chan struct{}

	mu        sync.Mutex
	closed    bool
	closing   chan struct{}
	listeners map[net.Listener]struct{}
	conns     map[*serverConn]struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// decisionEntry is a decision in memory and the log offset that makes it durable.
type decisionEntry struct {
	d      gtmproto.Decision
	logEnd int64
}

// Errors returned by the state machine (mapped to gtmproto error codes).
var (
	ErrDecisionConflict = errors.New("a different decision is already logged for this gid")
	ErrInvalid          = errors.New("invalid request")
	ErrClosed           = errors.New("gtm server closed")
)

// Open locks dataDir (creating it if needed), replays its log, truncates a torn
// tail, and compacts the log to the live state. The Server answers nothing until
// Serve. With WithStandbyOf it is a standby: it follows its primary at once and
// serves nothing but Promote and NodeInfo until promoted.
func Open(dataDir string, logger *slog.Logger, opts ...Option) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o := options{catalogAckTimeout: DefaultCatalogAckTimeout, gxidBlock: DefaultGXIDBlock, replAckTimeout: DefaultReplAckTimeout,
		committerLinger: DefaultCommitterLinger}
	for _, opt := range opts {
		opt(&o)
	}
	if dataDir == "" {
		return nil, errors.New("gtm data dir not set")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("gtm data dir: %w", err)
	}
	lock, err := lockDir(dataDir)
	if err != nil {
		return nil, err
	}
	st, err := replay(dataDir, logger)
	if err != nil {
		lock.Close()
		return nil, err
	}
	if o.standbyOf == "" && st.generation == 0 {
		st.generation = 1 // a primary's log always has a generation; a fresh standby's has none
	}
	w, err := writeFreshLogState(dataDir, st.snapshot(), st.clone())
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("compact gtm log: %w", err)
	}
	m := newMetrics()
	w.m = m
	s := &Server{
		dir:       dataDir,
		logger:    logger,
		opts:      o,
		lock:      lock,
		wal:       w,
		m:         m,
		subs:      map[*serverConn]*subscriber{},
		gate:      newGate(m),
		closing:   make(chan struct{}),
		listeners: map[net.Listener]struct{}{},
		conns:     map[*serverConn]struct{}{},
		quorum:    quorum{leases: map[string]voice{}, votes: map[string]voice{}},
	}
	s.gate.linger = o.committerLinger
	s.gate.late = func(granted []*gateEntry) {
		for _, e := range granted {
			go e.conn.send(gtmproto.Frame{ID: e.id, Type: gtmproto.MsgOK})
		}
	}
	s.loadState(st)
	if err := s.register(); err != nil {
		w.close()
		lock.Close()
		return nil, err
	}
	logger.Info("gtm log replayed", "data_dir", dataDir, "next_gxid", s.nextGXID,
		"catalog_epoch", s.epoch, "decisions", len(s.decisions), "sequences", len(s.seqs), "generation", st.generation)
	if o.standbyOf != "" {
		s.standby.Store(true)
		logger.Info("gtm is a standby", "primary", o.standbyOf)
		s.startFollow()
	}
	return s, nil
}

// loadState makes st the live state (at Open, and when a standby is promoted).
func (s *Server) loadState(st *state) {
	s.gxMu.Lock()
	s.nextGXID, s.gxidReserved = st.gxidReserved, st.gxidReserved
	s.nextGXIDSeen.Store(s.nextGXID)
	s.gxMu.Unlock()
	s.decMu.Lock()
	s.decisions = make(map[string]decisionEntry, len(st.decisions))
	for gid, d := range st.decisions {
		s.decisions[gid] = decisionEntry{d: d}
	}
	s.decMu.Unlock()
	s.catMu.Lock()
	s.epoch = st.catalogEpoch
	s.catMu.Unlock()
	s.seqMu.Lock()
	s.seqs = make(map[string]seqState, len(st.seqs))
	for name, q := range st.seqs {
		s.seqs[name] = q
	}
	s.seqMu.Unlock()
	s.claimMu.Lock()
	s.claims = maps.Clone(st.claims)
	s.records = maps.Clone(st.records)
	if s.records == nil {
		s.records = map[string]string{}
	}
	s.claimMu.Unlock()
	s.generation.Store(st.generation)
}

// Claim records value under key unless key is claimed already, and returns
// the value that holds: the first claim wins, durably, and every later claim
// of the key gets that one back. Coordinators claim a datanode's failover this
// way, so exactly one of them carries it out. An empty value only reads the
// key ("" when it is not claimed).
func (s *Server) Claim(key, value string) (string, error) {
	if key == "" || len(key) > gtmproto.MaxClaimLen || len(value) > gtmproto.MaxClaimLen {
		return "", fmt.Errorf("%w: claim key empty, or key or value too long", ErrInvalid)
	}
	s.claimMu.Lock()
	if old, ok := s.claims[key]; ok || value == "" {
		s.claimMu.Unlock()
		return old, s.durable(s.wal.end())
	}
	var e gtmproto.Encoder
	end, err := s.wal.append(recClaim, e.String(key).String(value).Bytes())
	if err != nil {
		s.claimMu.Unlock()
		return "", err
	}
	s.claims[key] = value
	s.claimMu.Unlock()
	s.logger.Info("claim recorded", "key", key, "value", value)
	return value, s.durable(end)
}

// PutRecord sets a record's value durably ("" removes it).
func (s *Server) PutRecord(key, value string) error {
	if key == "" || len(key) > gtmproto.MaxClaimLen || len(value) > gtmproto.MaxClaimLen {
		return fmt.Errorf("%w: record key empty, or key or value too long", ErrInvalid)
	}
	s.claimMu.Lock()
	var e gtmproto.Encoder
	end, err := s.wal.append(recPut, e.String(key).String(value).Bytes())
	if err != nil {
		s.claimMu.Unlock()
		return err
	}
	if value == "" {
		delete(s.records, key)
	} else {
		s.records[key] = value
	}
	s.claimMu.Unlock()
	return s.durable(end)
}

// Records lists the records whose key starts with prefix.
func (s *Server) Records(prefix string) map[string]string {
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	out := map[string]string{}
	for k, v := range s.records {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

// lockDir takes an exclusive lock on dataDir so two GTMs never share a log.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("gtm data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("gtm data dir %s is in use by another GTM", dir)
		}
		return nil, fmt.Errorf("lock gtm data dir %s: %w", dir, err)
	}
	return f, nil
}

// replay reads the log (if any), truncating a torn tail, and returns the state.
func replay(dir string, logger *slog.Logger) (*state, error) {
	st := newState()
	path := filepath.Join(dir, logName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read gtm log: %w", err)
	}
	if len(data) < len(logMagic) || !bytes.Equal(data[:len(logMagic)], []byte(logMagic)) {
		return nil, fmt.Errorf("%s is not a GTM log (bad header)", path)
	}
	body := data[len(logMagic):]
	good, err := scanLog(body, st.apply)
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", path, err)
	}
	if good < len(body) {
		at := int64(len(logMagic) + good)
		logger.Warn("gtm log has a torn tail; truncating", "offset", at, "bytes", len(body)-good)
		if err := truncateFile(path, at); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("truncate gtm log: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("truncate gtm log: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync gtm log: %w", err)
	}
	return nil
}

// NextGXID hands out the next global transaction id. An id is returned only
// after a log record covering it is durable, so ids are never reused.
func (s *Server) NextGXID() (uint64, error) { return s.NextGXIDs(1) }

// NextGXIDs hands out n consecutive global transaction ids and returns the
// first: a coordinator takes a range at a time and numbers its transactions
// from it without asking again. Ids of a range never used are skipped.
func (s *Server) NextGXIDs(n uint64) (uint64, error) {
	if n < 1 || n > gtmproto.MaxGXIDRange {
		return 0, fmt.Errorf("%w: a range of %d gxids (1 to %d)", ErrInvalid, n, gtmproto.MaxGXIDRange)
	}
	s.gxMu.Lock()
	defer s.gxMu.Unlock()
	if s.nextGXID+n > s.gxidReserved {
		upTo := s.nextGXID + max(n, s.opts.gxidBlock)
		if err := s.appendDurable(recGXIDReserved, encodeUvarint(upTo)); err != nil {
			return 0, err
		}
		s.gxidReserved = upTo
	}
	id := s.nextGXID
	s.nextGXID += n
	s.nextGXIDSeen.Store(s.nextGXID)
	s.m.gxids.Add(float64(n))
	s.m.gxidRanges.Inc()
	return id, nil
}

// LogDecision durably records the commit decision for a prepared distributed
// transaction. Logging the same decision again succeeds; a different one fails
// with ErrDecisionConflict (the first decision wins).
func (s *Server) LogDecision(d gtmproto.Decision) error {
	if err := validateDecision(d); err != nil {
		return err
	}
	d.Participants = slices.Clone(d.Participants)
	s.decMu.Lock()
	if old, ok := s.decisions[d.GID]; ok {
		s.decMu.Unlock()
		if old.d.Commit != d.Commit {
			s.m.decisionConflicts.Inc()
			return fmt.Errorf("%w: gid %q already %s", ErrDecisionConflict, d.GID, verdict(old.d.Commit))
		}
		return s.durable(old.logEnd)
	}
	var e gtmproto.Encoder
	end, err := s.wal.append(recDecision, e.Decision(d).Bytes())
	if err != nil {
		s.decMu.Unlock()
		return err
	}
	s.decisions[d.GID] = decisionEntry{d: d, logEnd: end}
	s.decMu.Unlock()
	if err := s.durable(end); err != nil {
		return err
	}
	if d.Commit {
		s.m.decisions[1].Inc()
	} else {
		s.m.decisions[0].Inc()
	}
	s.logger.Debug("decision logged", "gid", d.GID, "commit", d.Commit, "participants", d.Participants)
	return nil
}

func verdict(commit bool) string {
	if commit {
		return "committed"
	}
	return "aborted"
}

func validateDecision(d gtmproto.Decision) error {
	if d.GID == "" {
		return fmt.Errorf("%w: empty gid", ErrInvalid)
	}
	if len(d.Participants) == 0 {
		return fmt.Errorf("%w: decision for %q has no participants", ErrInvalid, d.GID)
	}
	for _, p := range d.Participants {
		if p == "" {
			return fmt.Errorf("%w: decision for %q has an empty participant name", ErrInvalid, d.GID)
		}
	}
	return nil
}

// Forget drops the decision for gid once every participant has finished.
// Forgetting an unknown gid succeeds.
func (s *Server) Forget(gid string) error {
	s.decMu.Lock()
	defer s.decMu.Unlock()
	if _, ok := s.decisions[gid]; !ok {
		return nil
	}
	// No fsync: if the record is lost the decision is merely kept longer.
	if _, err := s.wal.append(recForget, encodeString(gid)); err != nil {
		return err
	}
	delete(s.decisions, gid)
	s.m.forgotten.Inc()
	s.logger.Debug("decision forgotten", "gid", gid)
	return nil
}

// ForgetMany drops the decisions of gids (see Forget) with one write to the
// log.
func (s *Server) ForgetMany(gids []string) error {
	s.decMu.Lock()
	defer s.decMu.Unlock()
	var recs []walRecord
	for _, gid := range gids {
		if _, ok := s.decisions[gid]; ok {
			recs = append(recs, walRecord{recForget, encodeString(gid)})
		}
	}
	if len(recs) == 0 {
		return nil
	}
	// No fsync, as for Forget.
	if _, err := s.wal.appendBatch(recs); err != nil {
		return err
	}
	held := len(s.decisions)
	for _, gid := range gids {
		delete(s.decisions, gid)
	}
	s.m.forgotten.Add(float64(held - len(s.decisions)))
	s.logger.Debug("decisions forgotten", "count", len(recs))
	return nil
}

// Decision reports the durable decision for gid.
func (s *Server) Decision(gid string) (gtmproto.DecisionState, error) {
	s.decMu.Lock()
	e, ok := s.decisions[gid]
	s.decMu.Unlock()
	if !ok {
		return gtmproto.StateUnknown, nil
	}
	// Never answer from a decision that is not durable yet.
	if err := s.durable(e.logEnd); err != nil {
		return 0, err
	}
	if e.d.Commit {
		return gtmproto.StateCommitted, nil
	}
	return gtmproto.StateAborted, nil
}

// ListDecisions returns every durable decision not yet forgotten, by gid.
func (s *Server) ListDecisions() ([]gtmproto.Decision, error) {
	s.decMu.Lock()
	out := make([]gtmproto.Decision, 0, len(s.decisions))
	var end int64
	for _, e := range s.decisions {
		out = append(out, e.d)
		end = max(end, e.logEnd)
	}
	s.decMu.Unlock()
	if err := s.durable(end); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GID < out[j].GID })
	return out, nil
}

// CatalogEpoch returns the current (durable) catalog epoch.
func (s *Server) CatalogEpoch() uint64 {
	s.catMu.Lock()
	defer s.catMu.Unlock()
	return s.epoch
}

// BumpCatalogEpoch increments the catalog epoch durably, notifies every
// subscriber and returns once each has acknowledged the new epoch or, after
// the ack timeout, has been disconnected.
func (s *Server) BumpCatalogEpoch() (uint64, error) { return s.bumpCatalogEpoch(false) }

// bumpCatalogEpoch bumps the epoch; a fence asks subscribers to acknowledge
// only once nothing planned under the old catalog runs.
func (s *Server) bumpCatalogEpoch(fence bool) (uint64, error) {
	s.bumpMu.Lock()
	defer s.bumpMu.Unlock()
	start := time.Now()
	next := s.CatalogEpoch() + 1 // only bumps change the epoch, and they hold bumpMu
	if err := s.appendDurable(recCatalogEpoch, encodeUvarint(next)); err != nil {
		return 0, err
	}
	s.m.epochBumps.Inc()
	s.catMu.Lock()
	s.epoch = next
	subs := make([]*subscriber, 0, len(s.subs))
	for _, sub := range s.subs {
		subs = append(subs, sub)
	}
	s.catMu.Unlock()

	var e gtmproto.Encoder
	e.Uvarint(next)
	if fence {
		e.Bool(true)
	}
	notify := gtmproto.Frame{Type: gtmproto.MsgCatalogNotify, Body: e.Bytes()}
	for _, sub := range subs {
		go sub.conn.send(notify)
	}
	expired := make(chan struct{})
	timer := time.AfterFunc(s.opts.catalogAckTimeout, func() { close(expired) })
	defer timer.Stop()
	dropped := 0
	for _, sub := range subs {
		if sub.waitAck(next, expired, s.closing) {
			continue
		}
		dropped++
		s.logger.Warn("catalog subscriber did not acknowledge in time; disconnecting it",
			"remote", sub.conn.remote, "catalog_epoch", next, "timeout", s.opts.catalogAckTimeout)
		sub.conn.close()
	}
	s.m.subsDropped.Add(float64(dropped))
	s.m.bumpTime.Observe(time.Since(start).Seconds())
	s.logger.Info("catalog epoch bumped", "catalog_epoch", next, "subscribers", len(subs), "dropped", dropped)
	return next, nil
}

// subscribe registers c for catalog notifications and returns the current epoch.
func (s *Server) subscribe(c *serverConn) uint64 {
	s.catMu.Lock()
	defer s.catMu.Unlock()
	if _, ok := s.subs[c]; !ok && !c.isClosed() {
		s.subs[c] = &subscriber{conn: c, ackSig: make(chan struct{}, 1)}
	}
	return s.epoch
}

func (s *Server) unsubscribe(c *serverConn) {
	s.catMu.Lock()
	defer s.catMu.Unlock()
	delete(s.subs, c)
}

func (s *Server) ack(c *serverConn, epoch uint64) {
	s.catMu.Lock()
	sub := s.subs[c]
	s.catMu.Unlock()
	if sub != nil {
		sub.ack(epoch)
	}
}

// connKeepAlive finds a client connection whose peer is gone within about
// 20 s of silence.
var connKeepAlive = net.KeepAliveConfig{Enable: true, Idle: 5 * time.Second, Interval: 5 * time.Second, Count: 3}

// Serve accepts connections on ln until Close; it returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	s.logger.Info("gtm listening", "addr", ln.Addr().String())
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-s.closing:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logger.Warn("accept failed; retrying", "err", err, "backoff", backoff)
				time.Sleep(backoff)
				continue
			}
			s.mu.Lock()
			delete(s.listeners, ln)
			s.mu.Unlock()
			return fmt.Errorf("gtm accept: %w", err)
		}
		backoff = 0
		if tc, ok := nc.(*net.TCPConn); ok {
			// What a connection holds (snapshot gate grants above all) is
			// leased to it: a client whose host vanished without closing it
			// loses its grants once the probes find it dead.
			_ = tc.SetKeepAliveConfig(connKeepAlive)
		}
		c := newServerConn(s, nc)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.m.connsAccepted.Inc()
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
		}()
	}
}

// Close stops accepting, closes every connection, waits for in-flight requests
// and closes the log. Everything acknowledged before is already durable.
func (s *Server) Close() error {
	s.promoteMu.Lock()
	s.stopFollow()
	s.promoteMu.Unlock()
	s.shutdown()
	s.wg.Wait()
	s.closeOnce.Do(func() {
		s.unregister()
		s.closeErr = errors.Join(s.wal.close(), s.lock.Close())
	})
	return s.closeErr
}

// shutdown closes listeners and connections without touching the log.
func (s *Server) shutdown() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.closing)
	lns := s.listeners
	conns := s.conns
	s.listeners = map[net.Listener]struct{}{}
	s.conns = map[*serverConn]struct{}{}
	s.mu.Unlock()
	for ln := range lns {
		ln.Close()
	}
	for c := range conns {
		c.close()
	}
}

func (s *Server) removeConn(c *serverConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.unsubscribe(c)
	for _, e := range s.gate.dropConn(c) {
		go e.conn.send(gtmproto.Frame{ID: e.id, Type: gtmproto.MsgOK})
	}
}
