package engine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xlgo/xlgo/internal/metrics"
	"github.com/xlgo/xlgo/internal/sqlscan"
	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/resolver"
)

// Metrics are a coordinator's Prometheus metrics, served by
// internal/metrics on the coordinator's metrics address. It is also the
// server's Observer (connections, bytes, errors sent).
type Metrics struct {
	Registry *prometheus.Registry

	statements   [numKinds][numRoutes]prometheus.Counter
	duration     [numKinds]prometheus.Observer
	errors       *prometheus.CounterVec // sqlstate
	clients      prometheus.Gauge
	clientsTotal prometheus.Counter
	bytes        *prometheus.CounterVec   // direction
	commits      [3][3]prometheus.Counter // commitKinds, commitOutcomes
	twoPhase     prometheus.Histogram
	gateWait     [2]prometheus.Observer // read, commit
	deadlocks    prometheus.Counter
	resolver     *prometheus.CounterVec // action
	inDoubt      prometheus.Gauge
	failovers    prometheus.Counter
	moveRows     prometheus.Counter

	bytesIn, bytesOut prometheus.Counter
}

func newMetrics(c *Coordinator) *Metrics {
	m := &Metrics{Registry: metrics.NewRegistry()}
	f := func(c prometheus.Collector) { m.Registry.MustRegister(c) }
	statements := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xlgo_statements_total",
		Help: "Client statements by kind (select, insert, update, delete, copy, merge, ddl, transaction, utility) and route (single: one datanode, multi: several, coordinator: none, refused: 0A000)."},
		[]string{"kind", "route"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "xlgo_statement_duration_seconds",
		Help: "Time from a client statement's start to its end, by kind.", Buckets: metrics.Seconds}, []string{"kind"})
	for k, kind := range kindNames {
		for r, route := range routeNames {
			m.statements[k][r] = statements.WithLabelValues(kind, route)
		}
		m.duration[k] = duration.WithLabelValues(kind)
	}
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xlgo_client_errors_total",
		Help: "ErrorResponses sent to clients, by SQLSTATE and severity (ERROR, FATAL)."}, []string{"sqlstate", "severity"})
	m.clients = prometheus.NewGauge(prometheus.GaugeOpts{Name: "xlgo_client_connections", Help: "Client connections open now."})
	m.clientsTotal = prometheus.NewCounter(prometheus.CounterOpts{Name: "xlgo_client_connections_total", Help: "Client connections accepted."})
	m.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xlgo_client_bytes_total",
		Help: "Protocol bytes from clients (in) and to clients (out)."}, []string{"direction"})
	m.bytesIn, m.bytesOut = m.bytes.WithLabelValues("in"), m.bytes.WithLabelValues("out")
	commits := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xlgo_commits_total",
		Help: "Commits of transactions (blocks, and statements that ran on several datanodes) by kind (read: nothing written, one_node, two_phase) and outcome (committed, failed, resolver: decided, a datanode applies it later through the resolver). A statement outside a block that ran on one datanode committed there and counts in xlgo_statements_total only."},
		[]string{"kind", "outcome"})
	for k, kind := range commitKinds {
		for o, outcome := range commitOutcomes {
			m.commits[k][o] = commits.WithLabelValues(kind, outcome)
		}
	}
	m.twoPhase = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "xlgo_two_phase_commit_duration_seconds",
		Help: "Duration of two-phase commits, PREPAREs to the last COMMIT PREPARED.", Buckets: metrics.Seconds})
	gateWait := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "xlgo_snapshot_gate_wait_seconds",
		Help: "Waits for the gtm's snapshot gate by readers of several datanodes (read) and committers (commit).", Buckets: metrics.Seconds}, []string{"gate"})
	m.gateWait[gateRead], m.gateWait[gateCommit] = gateWait.WithLabelValues("read"), gateWait.WithLabelValues("commit")
	m.deadlocks = prometheus.NewCounter(prometheus.CounterOpts{Name: "xlgo_deadlocks_broken_total",
		Help: "Distributed deadlocks this coordinator broke by cancelling a victim."})
	m.resolver = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xlgo_resolver_actions_total",
		Help: "Prepared transactions the resolver finished, by action (commit, abort)."}, []string{"action"})
	m.inDoubt = prometheus.NewGauge(prometheus.GaugeOpts{Name: "xlgo_in_doubt_transactions",
		Help: "Prepared transactions of this cluster the resolver found on the datanodes at its last pass and left (undecided, within their grace)."})
	m.failovers = prometheus.NewCounter(prometheus.CounterOpts{Name: "xlgo_datanode_failovers_total",
		Help: "Datanode failovers (standby promotions) this coordinator carried out."})
	m.moveRows = prometheus.NewCounter(prometheus.CounterOpts{Name: "xlgo_rebalance_rows_copied_total",
		Help: "Rows copied by online redistributions run by this coordinator."})
	for _, x := range []prometheus.Collector{statements, duration, m.errors, m.clients, m.clientsTotal, m.bytes, commits,
		m.twoPhase, gateWait, m.deadlocks, m.resolver, m.inDoubt, m.failovers, m.moveRows} {
		f(x)
	}
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "xlgo_sessions", Help: "Client sessions open now (past authentication)."},
		func() float64 { return float64(c.sessions.Load()) }))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "xlgo_catalog_generation", Help: "The generation of the table catalog this coordinator plans with."},
		func() float64 { return float64(c.Cache.Generation()) }))
	f(poolCollector{c})
	return m
}

// ClientOpened implements server.Observer.
func (m *Metrics) ClientOpened() { m.clients.Inc(); m.clientsTotal.Inc() }

// ClientClosed implements server.Observer.
func (m *Metrics) ClientClosed() { m.clients.Dec() }

// BytesIn implements server.Observer.
func (m *Metrics) BytesIn(n int) { m.bytesIn.Add(float64(n)) }

// BytesOut implements server.Observer.
func (m *Metrics) BytesOut(n int) { m.bytesOut.Add(float64(n)) }

// ClientError implements server.Observer.
func (m *Metrics) ClientError(code string, fatal bool) {
	sev := "ERROR"
	if fatal {
		sev = "FATAL"
	}
	if code == "" {
		code = pgerr.InternalError
	}
	m.errors.WithLabelValues(code, sev).Inc()
}

// ResolverReport counts what a pass of the coordinator's resolver did
// (resolver.Resolver's OnReport): transactions committed and rolled back,
// and those it left prepared (undecided within their grace, busy, failed).
func (m *Metrics) ResolverReport(rep resolver.Report) {
	left := 0
	for _, a := range rep.Actions {
		switch a.Outcome {
		case resolver.DidCommit:
			m.resolver.WithLabelValues("commit").Inc()
		case resolver.DidRollback:
			m.resolver.WithLabelValues("abort").Inc()
		case resolver.DidNothing:
		default:
			left++
		}
	}
	m.inDoubt.Set(float64(left))
}

// The labels of statements, commits and gate waits, resolved once: a
// statement costs two atomic adds, no label lookup.
const (
	kindSelect = iota
	kindInsert
	kindUpdate
	kindDelete
	kindCopy
	kindMerge
	kindDDL
	kindTransaction
	kindUtility
	numKinds
)

const (
	routeSingle = iota
	routeMulti
	routeCoordinator
	routeRefused
	numRoutes
)

const (
	gateRead = iota
	gateCommit
)

var (
	kindNames      = [numKinds]string{"select", "insert", "update", "delete", "copy", "merge", "ddl", "transaction", "utility"}
	routeNames     = [numRoutes]string{"single", "multi", "coordinator", "refused"}
	commitKinds    = [3]string{"read", "one_node", "two_phase"}
	commitOutcomes = [3]string{"committed", "failed", "resolver"}
)

// statement counts a client statement that ran from start, on nodes
// datanodes, ending with err.
func (m *Metrics) statement(text string, start time.Time, nodes int, err error) {
	kind := statementKind(text)
	route := routeCoordinator
	switch {
	case err != nil && pgerr.Is(err, pgerr.FeatureNotSupported):
		route = routeRefused
	case nodes == 1:
		route = routeSingle
	case nodes > 1:
		route = routeMulti
	}
	m.statements[kind][route].Inc()
	m.duration[kind].Observe(time.Since(start).Seconds())
}

// commit counts a transaction's end.
func (m *Metrics) commit(writers int, start time.Time, warning bool, err error) {
	kind := min(writers, 2) // read, one_node, two_phase
	outcome := 0
	switch {
	case err != nil:
		outcome = 1
	case warning:
		outcome = 2
	}
	m.commits[kind][outcome].Inc()
	if kind == 2 && err == nil {
		m.twoPhase.Observe(time.Since(start).Seconds())
	}
}

// statementKind is the kind of a statement text, by its first keyword
// (past comments and opening parentheses).
func statementKind(text string) int {
	sc := sqlscan.New(text)
	var buf [16]byte
	t := sc.Next()
	for t.Kind == sqlscan.Comment || t.IsByte(text, '(') {
		t = sc.Next()
	}
	switch w := t.Lower(text, buf[:]); string(w) {
	case "select", "values", "table", "with":
		return kindSelect
	case "insert":
		return kindInsert
	case "update":
		return kindUpdate
	case "delete":
		return kindDelete
	case "copy":
		return kindCopy
	case "merge":
		return kindMerge
	case "create", "alter", "drop", "truncate", "comment", "grant", "revoke", "reindex", "cluster", "vacuum", "analyze", "security", "refresh", "import":
		return kindDDL
	case "begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release":
		return kindTransaction
	case "prepare":
		next := sc.Next()
		for next.Kind == sqlscan.Comment {
			next = sc.Next()
		}
		if string(next.Lower(text, buf[:])) == "transaction" {
			return kindTransaction
		}
	}
	return kindUtility
}

// poolCollector reports the backend pool's figures per datanode at scrape
// time.
type poolCollector struct{ c *Coordinator }

var (
	backendsDesc = prometheus.NewDesc("xlgo_backends", "Datanode backends of the pool by state: active (lent to a session), idle (kept), waiting (sessions waiting for one).",
		[]string{"datanode", "state"}, nil)
	backendWaitsDesc = prometheus.NewDesc("xlgo_backend_waits_total", "Lendings of a backend that had to wait for one to be free.",
		[]string{"datanode"}, nil)
	backendWaitDesc = prometheus.NewDesc("xlgo_backend_wait_seconds_total", "Time sessions waited for a free backend.",
		[]string{"datanode"}, nil)
	backendGetsDesc = prometheus.NewDesc("xlgo_backend_lendings_total", "Backends lent to sessions.",
		[]string{"datanode"}, nil)
	backendConnectsDesc = prometheus.NewDesc("xlgo_backend_connects_total", "Backend connections opened to datanodes.",
		[]string{"datanode"}, nil)
)

func (p poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{backendsDesc, backendWaitsDesc, backendWaitDesc, backendGetsDesc, backendConnectsDesc} {
		ch <- d
	}
}

func (p poolCollector) Collect(ch chan<- prometheus.Metric) {
	type sums struct {
		active, idle, waiting int
		waits, gets, connects uint64
		wait                  time.Duration
	}
	per := map[string]*sums{}
	for _, n := range p.c.Nodes.Datanodes() {
		per[n.Name] = &sums{}
	}
	for _, st := range p.c.Pool.KeyStats() {
		s := per[st.Node]
		if s == nil {
			continue // a datanode no longer in pgxc_node
		}
		s.active += st.Active
		s.idle += st.Idle
		s.waiting += st.Waiting
		s.waits += st.Waits
		s.gets += st.Gets
		s.connects += st.Connects
		s.wait += st.WaitTime
	}
	for node, s := range per {
		ch <- prometheus.MustNewConstMetric(backendsDesc, prometheus.GaugeValue, float64(s.active), node, "active")
		ch <- prometheus.MustNewConstMetric(backendsDesc, prometheus.GaugeValue, float64(s.idle), node, "idle")
		ch <- prometheus.MustNewConstMetric(backendsDesc, prometheus.GaugeValue, float64(s.waiting), node, "waiting")
		ch <- prometheus.MustNewConstMetric(backendWaitsDesc, prometheus.CounterValue, float64(s.waits), node)
		ch <- prometheus.MustNewConstMetric(backendWaitDesc, prometheus.CounterValue, s.wait.Seconds(), node)
		ch <- prometheus.MustNewConstMetric(backendGetsDesc, prometheus.CounterValue, float64(s.gets), node)
		ch <- prometheus.MustNewConstMetric(backendConnectsDesc, prometheus.CounterValue, float64(s.connects), node)
	}
}
