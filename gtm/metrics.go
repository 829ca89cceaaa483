package gtm

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xlgo/xlgo/gtm/gtmproto"
	xlmetrics "github.com/xlgo/xlgo/internal/metrics"
)

// WithMetrics registers the gtm's Prometheus metrics (xlgo_gtm_*) with reg
// at Open; Close unregisters them.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(o *options) { o.registerer = reg }
}

// metrics are the gtm's counters and histograms. They are kept whether or
// not they are registered: each update is an atomic add, cheap beside the
// fsync on the commit path. Gauges are read at scrape time (collector).
type metrics struct {
	gxids             prometheus.Counter
	gxidRanges        prometheus.Counter
	decisions         [2]prometheus.Counter // by commit (0 abort, 1 commit)
	decisionConflicts prometheus.Counter
	forgotten         prometheus.Counter

	walFsync   prometheus.Histogram
	walBytes   prometheus.Counter
	walRecords prometheus.Counter

	seqRanges prometheus.Counter
	seqValues prometheus.Counter

	gateGrants [3]prometheus.Counter  // by gtmproto.GateKind
	gateWaits  [3]prometheus.Counter  // by gtmproto.GateKind
	gateWait   [3]prometheus.Observer // by gtmproto.GateKind

	epochBumps  prometheus.Counter
	bumpTime    prometheus.Histogram
	subsDropped prometheus.Counter

	replAckWait        prometheus.Histogram
	standbyDisconnects prometheus.Counter

	connsAccepted prometheus.Counter
	requests      map[gtmproto.MsgType]prometheus.Observer
	requestErrors map[gtmproto.MsgType]prometheus.Counter

	all []prometheus.Collector
}

func newMetrics() *metrics {
	m := &metrics{}
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		m.all = append(m.all, c)
		return c
	}
	histogram := func(name, help string) prometheus.Histogram {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: xlmetrics.Seconds})
		m.all = append(m.all, h)
		return h
	}
	m.gxids = counter("xlgo_gtm_gxids_total", "Global transaction ids handed out.")
	m.gxidRanges = counter("xlgo_gtm_gxid_ranges_total", "Ranges of global transaction ids handed out (a single id is a range of one).")
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xlgo_gtm_decisions_total",
		Help: "Commit decisions of distributed transactions logged, by outcome (logging the same decision again is not counted)."}, []string{"outcome"})
	m.decisions[0], m.decisions[1] = decisions.WithLabelValues("abort"), decisions.WithLabelValues("commit")
	m.all = append(m.all, decisions)
	m.decisionConflicts = counter("xlgo_gtm_decision_conflicts_total", "Decisions refused because the opposite decision was logged for the gid before.")
	m.forgotten = counter("xlgo_gtm_decisions_forgotten_total", "Decisions dropped once every participant had finished.")

	m.walFsync = histogram("xlgo_gtm_wal_fsync_seconds", "Time of one fsync of the gtm log (shared by the requests that wait for it).")
	m.walBytes = counter("xlgo_gtm_wal_written_bytes_total", "Bytes appended to the gtm log (on a standby: replicated from the primary).")
	m.walRecords = counter("xlgo_gtm_wal_records_total", "Records appended to the gtm log (on a standby: replicated from the primary).")

	m.seqRanges = counter("xlgo_gtm_sequence_ranges_total", "Ranges of global sequence values handed out.")
	m.seqValues = counter("xlgo_gtm_sequence_values_total", "Global sequence values handed out (in ranges).")

	grants := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xlgo_gtm_gate_grants_total",
		Help: "Snapshot gate requests granted, by group."}, []string{"group"})
	waits := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xlgo_gtm_gate_waits_total",
		Help: "Snapshot gate requests that had to queue, by group."}, []string{"group"})
	wait := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "xlgo_gtm_gate_wait_seconds",
		Help: "Time a queued snapshot gate request waited until granted, by group.", Buckets: xlmetrics.Seconds}, []string{"group"})
	for _, k := range []gtmproto.GateKind{gtmproto.GateReader, gtmproto.GateCommitter} {
		m.gateGrants[k], m.gateWaits[k], m.gateWait[k] = grants.WithLabelValues(gateGroup(k)), waits.WithLabelValues(gateGroup(k)), wait.WithLabelValues(gateGroup(k))
	}
	m.all = append(m.all, grants, waits, wait)

	m.epochBumps = counter("xlgo_gtm_catalog_epoch_bumps_total", "Catalog epoch bumps.")
	m.bumpTime = histogram("xlgo_gtm_catalog_bump_seconds", "Time of a catalog epoch bump, until every subscriber acknowledged it or was dropped.")
	m.subsDropped = counter("xlgo_gtm_catalog_subscribers_dropped_total", "Catalog subscribers disconnected for not acknowledging a bump in time.")

	m.replAckWait = histogram("xlgo_gtm_standby_ack_wait_seconds", "Time a durable request waited for the standby's acknowledgement after the local fsync.")
	m.standbyDisconnects = counter("xlgo_gtm_standby_disconnects_total", "Standbys that went away or were dropped (too slow to acknowledge, too far behind).")

	m.connsAccepted = counter("xlgo_gtm_connections_accepted_total", "Client connections accepted.")
	reqs := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "xlgo_gtm_request_seconds",
		Help: "Time to serve a request, by request type (the snapshot gate's and replication's are not included).", Buckets: xlmetrics.Seconds}, []string{"request"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xlgo_gtm_request_errors_total",
		Help: "Requests that ran and failed, by request type (refusals by a standby, or by a gtm that may not serve, are not counted)."}, []string{"request"})
	m.requests = map[gtmproto.MsgType]prometheus.Observer{}
	m.requestErrors = map[gtmproto.MsgType]prometheus.Counter{}
	for t, h := range handlers {
		if h == nil {
			continue
		}
		m.requests[t], m.requestErrors[t] = reqs.WithLabelValues(t.String()), errs.WithLabelValues(t.String())
	}
	m.all = append(m.all, reqs, errs)
	return m
}

func gateGroup(k gtmproto.GateKind) string {
	if k == gtmproto.GateReader {
		return "reader"
	}
	return "committer"
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// collector is every xlgo_gtm_ metric of s: the counters of s.m and the
// gauges read from s's state at scrape time.
func (s *Server) collector() prometheus.Collector {
	cs := collectors(append([]prometheus.Collector(nil), s.m.all...))
	gauge := func(name, help string, labels prometheus.Labels, f func() float64) {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, f))
	}
	gauge("xlgo_gtm_primary", "1 on a primary, 0 on a standby.", nil, func() float64 { return b2f(!s.standby.Load()) })
	gauge("xlgo_gtm_serving", "1 while this gtm answers clients (a primary that, with automatic failover, holds its standby or a majority's leases).", nil,
		func() float64 { return b2f(!s.standby.Load() && s.serving()) })
	gauge("xlgo_gtm_generation", "The log's generation (bumped by every promotion).", nil, func() float64 { return float64(s.wal.figures().generation) })
	gauge("xlgo_gtm_next_gxid", "The next global transaction id handed out (on a standby: the first one it would hand out if promoted).", nil,
		func() float64 {
			if s.standby.Load() {
				return float64(s.wal.figures().gxidReserved)
			}
			return float64(s.nextGXIDSeen.Load())
		})
	gauge("xlgo_gtm_decisions_pending", "Decisions logged and not yet forgotten (the transactions' participants have not all finished).", nil,
		func() float64 { return float64(s.wal.figures().decisions) })
	gauge("xlgo_gtm_sequences", "Global sequences.", nil, func() float64 { return float64(s.wal.figures().sequences) })
	gauge("xlgo_gtm_catalog_epoch", "The catalog epoch.", nil, func() float64 { return float64(s.wal.figures().catalogEpoch) })
	gauge("xlgo_gtm_catalog_subscribers", "Connections following the catalog epoch (one per coordinator).", nil, func() float64 {
		s.catMu.Lock()
		defer s.catMu.Unlock()
		return float64(len(s.subs))
	})
	gauge("xlgo_gtm_wal_size_bytes", "Size of the gtm log (compacted at start).", nil, func() float64 { return float64(s.wal.figures().size) })
	for _, k := range []gtmproto.GateKind{gtmproto.GateReader, gtmproto.GateCommitter} {
		group := prometheus.Labels{"group": gateGroup(k)}
		gauge("xlgo_gtm_gate_holders", "Holders of the snapshot gate, by group.", group, func() float64 {
			if st := s.gate.stats(); st.active == k {
				return float64(st.holders)
			}
			return 0
		})
		gauge("xlgo_gtm_gate_waiting", "Snapshot gate requests queued, by group.", group, func() float64 {
			st := s.gate.stats()
			if k == gtmproto.GateReader {
				return float64(st.readersWaiting)
			}
			return float64(st.committersWaiting)
		})
	}
	gauge("xlgo_gtm_standby_connected", "1 while a standby is attached to this primary.", nil, func() float64 {
		s.replMu.Lock()
		defer s.replMu.Unlock()
		return b2f(s.replica != nil)
	})
	gauge("xlgo_gtm_standby_lag_bytes", "Bytes of this primary's log its standby has not acknowledged yet (0 without a standby).", nil, func() float64 {
		s.replMu.Lock()
		r := s.replica
		s.replMu.Unlock()
		if r == nil {
			return 0
		}
		acked, _ := r.lag()
		return float64(max(0, s.wal.figures().size-acked))
	})
	gauge("xlgo_gtm_standby_lag_seconds", "How long the oldest record the standby has not acknowledged has waited (0 when it acknowledged everything).", nil,
		func() float64 {
			s.replMu.Lock()
			r := s.replica
			s.replMu.Unlock()
			if r == nil {
				return 0
			}
			_, since := r.lag()
			if since.IsZero() {
				return 0
			}
			return time.Since(since).Seconds()
		})
	gauge("xlgo_gtm_primary_connected", "1 while this standby streams its primary's log.", nil, func() float64 {
		return b2f(s.standby.Load() && s.streaming.Load())
	})
	gauge("xlgo_gtm_connections", "Open client connections (coordinators, tools, a standby).", nil, func() float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return float64(len(s.conns))
	})
	gauge("xlgo_gtm_coordinator_leases", "Coordinators holding a current lease (automatic failover only).", nil, func() float64 {
		if s.opts.failoverAfter <= 0 {
			return 0
		}
		s.quorum.mu.Lock()
		defer s.quorum.mu.Unlock()
		n, _ := current(s.quorum.leases, s.leaseTime())
		return float64(n)
	})
	return cs
}

// register registers s's metrics with the WithMetrics registerer, if any.
func (s *Server) register() error {
	if s.opts.registerer == nil {
		return nil
	}
	s.metricsCollector = s.collector()
	if err := s.opts.registerer.Register(s.metricsCollector); err != nil {
		return fmt.Errorf("register gtm metrics: %w", err)
	}
	return nil
}

func (s *Server) unregister() {
	if s.metricsCollector != nil {
		s.opts.registerer.Unregister(s.metricsCollector)
	}
}

// collectors is one Collector made of several.
type collectors []prometheus.Collector

func (cs collectors) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range cs {
		c.Describe(ch)
	}
}

func (cs collectors) Collect(ch chan<- prometheus.Metric) {
	for _, c := range cs {
		c.Collect(ch)
	}
}
