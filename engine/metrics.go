package engine

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xlgo/xlgo/internal/metrics"
	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/resolver"
)

// Metrics are a coordinator's Prometheus metrics, served by
// internal/metrics on the coordinator's metrics address. It is also the
// server's Observer (connections, bytes, errors sent).
type Metrics struct {
	Registry *prometheus.Registry

	statements   *prometheus.CounterVec   // kind, route
	duration     *prometheus.HistogramVec // kind
	errors       *prometheus.CounterVec   // sqlstate
	clients      prometheus.Gauge
	clientsTotal prometheus.Counter
	bytes        *prometheus.CounterVec // direction
	commits      *prometheus.CounterVec // kind, outcome
	twoPhase     prometheus.Histogram
	gateWait     *prometheus.HistogramVec // gate
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
	m.statements = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xlgo_statements_total",
		Help: "Client statements by kind (select, insert, update, delete, copy, ddl, transaction, utility) and route (single: one datanode, multi: several, coordinator: none, refused: 0A000)."},
		[]string{"kind", "route"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "xlgo_statement_duration_seconds",
		Help: "Time from a client statement's start to its end, by kind.", Buckets: metrics.Seconds}, []string{"kind"})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xlgo_client_errors_total",
		Help: "ErrorResponses sent to clients, by SQLSTATE and severity (ERROR, FATAL)."}, []string{"sqlstate", "severity"})
	m.clients = prometheus.NewGauge(prometheus.GaugeOpts{Name: "xlgo_client_connections", Help: "Client connections open now."})
	m.clientsTotal = prometheus.NewCounter(prometheus.CounterOpts{Name: "xlgo_client_connections_total", Help: "Client connections accepted."})
	m.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xlgo_client_bytes_total",
		Help: "Protocol bytes from clients (in) and to clients (out)."}, []string{"direction"})
	m.bytesIn, m.bytesOut = m.bytes.WithLabelValues("in"), m.bytes.WithLabelValues("out")
	m.commits = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xlgo_commits_total",
		Help: "Commits of transactions (blocks, and statements that ran on several datanodes) by kind (read: nothing written, one_node, two_phase) and outcome (committed, failed, resolver: decided, a datanode applies it later through the resolver). A statement outside a block that ran on one datanode committed there and counts in xlgo_statements_total only."},
		[]string{"kind", "outcome"})
	m.twoPhase = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "xlgo_two_phase_commit_duration_seconds",
		Help: "Duration of two-phase commits, PREPAREs to the last COMMIT PREPARED.", Buckets: metrics.Seconds})
	m.gateWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "xlgo_snapshot_gate_wait_seconds",
		Help: "Waits for the gtm's snapshot gate by readers of several datanodes (read) and committers (commit).", Buckets: metrics.Seconds}, []string{"gate"})
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
	for _, x := range []prometheus.Collector{m.statements, m.duration, m.errors, m.clients, m.clientsTotal, m.bytes, m.commits,
		m.twoPhase, m.gateWait, m.deadlocks, m.resolver, m.inDoubt, m.failovers, m.moveRows} {
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

// statement counts a client statement that ran from start, on nodes
// datanodes, ending with err.
func (m *Metrics) statement(text string, start time.Time, nodes int, err error) {
	kind := statementKind(text)
	route := "coordinator"
	switch {
	case err != nil && pgerr.Is(err, pgerr.FeatureNotSupported):
		route = "refused"
	case nodes == 1:
		route = "single"
	case nodes > 1:
		route = "multi"
	}
	m.statements.WithLabelValues(kind, route).Inc()
	m.duration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
}

// commit counts a transaction's end.
func (m *Metrics) commit(writers int, start time.Time, warning bool, err error) {
	kind := "read"
	switch {
	case writers == 1:
		kind = "one_node"
	case writers > 1:
		kind = "two_phase"
	}
	outcome := "committed"
	switch {
	case err != nil:
		outcome = "failed"
	case warning:
		outcome = "resolver"
	}
	m.commits.WithLabelValues(kind, outcome).Inc()
	if kind == "two_phase" && err == nil {
		m.twoPhase.Observe(time.Since(start).Seconds())
	}
}

// statementKind is the kind label of a statement text: its first keyword's.
func statementKind(text string) string {
	w := firstWord(text)
	switch w {
	case "select", "values", "table", "with":
		return "select"
	case "insert", "update", "delete", "copy", "merge":
		return w
	case "create", "alter", "drop", "truncate", "comment", "grant", "revoke", "reindex", "cluster", "vacuum", "analyze", "security", "refresh", "import":
		return "ddl"
	case "begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release":
		return "transaction"
	case "prepare":
		if rest := strings.TrimLeft(text[len(leadingSpace(text))+len(w):], " \t\r\n"); len(rest) >= 11 && strings.EqualFold(rest[:11], "transaction") {
			return "transaction"
		}
	}
	return "utility"
}

// firstWord is the lower-cased first keyword of a statement, past spaces,
// comments and parentheses.
func firstWord(text string) string {
	s := leadingSpace(text)
	text = text[len(s):]
	end := 0
	for end < len(text) && end < 16 {
		ch := text[end]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch == '_') {
			break
		}
		end++
	}
	return strings.ToLower(text[:end])
}

// leadingSpace is text's prefix of spaces, comments and opening parentheses.
func leadingSpace(text string) string {
	i := 0
	for i < len(text) {
		switch {
		case text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r' || text[i] == '(':
			i++
		case strings.HasPrefix(text[i:], "--"):
			j := strings.IndexByte(text[i:], '\n')
			if j < 0 {
				return text
			}
			i += j + 1
		case strings.HasPrefix(text[i:], "/*"):
			j := strings.Index(text[i+2:], "*/")
			if j < 0 {
				return text
			}
			i += j + 4
		default:
			return text[:i]
		}
	}
	return text[:i]
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
