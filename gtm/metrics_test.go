package gtm_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/xlgo/xlgo/gtm"
	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/internal/metrics"
	"github.com/xlgo/xlgo/internal/poll"
)

// metricsGTM is a gtm served in this process with its metrics on an HTTP
// address of their own.
type metricsGTM struct {
	srv         *gtm.Server
	addr        string
	metricsAddr string
	done        chan error
}

// startMetricsGTM opens a gtm over dir with its metrics registered and
// serves both on loopback ports until the end of the test (or stop).
func startMetricsGTM(t *testing.T, dir string, opts ...gtm.Option) *metricsGTM {
	t.Helper()
	reg := metrics.NewRegistry()
	srv, err := gtm.Open(dir, nil, append(opts, gtm.WithMetrics(reg))...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	maddr, err := metrics.Serve(ctx, "127.0.0.1:0", reg, false, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		srv.Close()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		srv.Close()
		t.Fatal(err)
	}
	g := &metricsGTM{srv: srv, addr: ln.Addr().String(), metricsAddr: maddr.String(), done: make(chan error, 1)}
	go func() { g.done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		cancel()
		g.stop(t)
	})
	return g
}

func (g *metricsGTM) stop(t *testing.T) {
	t.Helper()
	if err := g.srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-g.done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	g.done <- nil // a second stop finds it stopped
}

// scrape is one reading of a /metrics page, by metric family name.
type scrape map[string]*dto.MetricFamily

func scrapeMetrics(t *testing.T, addr string) scrape {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value is a counter's or gauge's value, or a histogram's count, of the
// series of name with labels (name, value, name, value ...).
func (s scrape) value(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	v, err := s.find(name, labels...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (s scrape) find(name string, labels ...string) (float64, error) {
	fam := s[name]
	if fam == nil {
		return 0, fmt.Errorf("no metric %s", name)
	}
next:
	for _, m := range fam.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), nil
		case m.Gauge != nil:
			return m.Gauge.GetValue(), nil
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), nil
		}
	}
	return 0, fmt.Errorf("no series %s%v", name, labels)
}

// metricIs polls the gtm's /metrics until name{labels} is want.
func metricIs(t *testing.T, addr string, want float64, name string, labels ...string) {
	t.Helper()
	poll.Until(t, fmt.Sprintf("%s%v = %v", name, labels, want), func() bool {
		v, err := scrapeMetrics(t, addr).find(name, labels...)
		return err == nil && v == want
	})
}

// The gtm's counters move by exactly what its clients did, its gauges show
// its state, and every xlgo_gtm_ metric passes promlint.
func TestMetricsCountWhatClientsDid(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := startMetricsGTM(t, t.TempDir())
	before := scrapeMetrics(t, g.metricsAddr)

	dial := func() *gtmclient.Client {
		c, err := gtmclient.Dial(ctx, g.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	c, watcher := dial(), dial()
	watcher.WatchCatalog(func(uint64) {})
	metricIs(t, g.metricsAddr, 1, "xlgo_gtm_catalog_subscribers")

	// GXIDs: the client takes GXIDRange at a time, so three ranges.
	const gxids = 2*gtmclient.GXIDRange + 1
	for range gxids {
		if _, err := c.NextGXID(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// Decisions: commits and aborts; the same decision again is no new one,
	// the opposite one a conflict; two are forgotten.
	const commits, aborts = 5, 3
	for i := range commits {
		if err := c.LogDecision(ctx, fmt.Sprintf("c%d", i), []string{"dn1", "dn2"}, true); err != nil {
			t.Fatal(err)
		}
	}
	for i := range aborts {
		if err := c.LogDecision(ctx, fmt.Sprintf("a%d", i), []string{"dn1", "dn2"}, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.LogDecision(ctx, "c0", []string{"dn1", "dn2"}, true); err != nil {
		t.Fatal(err)
	}
	if err := c.LogDecision(ctx, "c0", []string{"dn1", "dn2"}, false); !errors.Is(err, gtmclient.ErrDecisionConflict) {
		t.Fatalf("opposite decision: %v", err)
	}
	for _, gid := range []string{"c0", "a0"} {
		if err := c.Forget(ctx, gid); err != nil {
			t.Fatal(err)
		}
	}

	// Sequences: ranges of 10 from a sequence of 25 values: 10, 10, 5.
	def := gtmclient.NewSeqDef("db.public.s")
	def.MaxValue = 25
	if err := c.SeqCreate(ctx, def); err != nil {
		t.Fatal(err)
	}
	var values int64
	for range 3 {
		_, n, _, err := c.SeqNextRange(ctx, def.Name, 10)
		if err != nil {
			t.Fatal(err)
		}
		values += n
	}
	if values != 25 {
		t.Fatalf("%d values from a sequence of 25", values)
	}

	// Catalog epoch: two bumps.
	epoch, err := c.CatalogEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.BumpCatalogEpoch(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// The gate: a reader holds it, a committer queues behind it.
	leaveReader, err := c.GateEnter(ctx, gtmclient.GateReader)
	if err != nil {
		t.Fatal(err)
	}
	committer := make(chan func(), 1)
	go func() {
		rel, err := watcher.GateEnter(ctx, gtmclient.GateCommitter)
		if err != nil {
			t.Error(err)
			rel = func() {}
		}
		committer <- rel
	}()
	metricIs(t, g.metricsAddr, 1, "xlgo_gtm_gate_waiting", "group", "committer")
	during := scrapeMetrics(t, g.metricsAddr)
	for _, w := range []struct {
		group            string
		holders, waiting float64
	}{{"reader", 1, 0}, {"committer", 0, 1}} {
		if v := during.value(t, "xlgo_gtm_gate_holders", "group", w.group); v != w.holders {
			t.Errorf("gate holders{%s} = %v, want %v", w.group, v, w.holders)
		}
		if v := during.value(t, "xlgo_gtm_gate_waiting", "group", w.group); v != w.waiting {
			t.Errorf("gate waiting{%s} = %v, want %v", w.group, v, w.waiting)
		}
	}
	leaveReader()
	(<-committer)()
	metricIs(t, g.metricsAddr, 0, "xlgo_gtm_gate_holders", "group", "committer")

	after := scrapeMetrics(t, g.metricsAddr)
	moved := func(name string, labels ...string) float64 {
		t.Helper()
		return after.value(t, name, labels...) - before.value(t, name, labels...)
	}
	for _, w := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"xlgo_gtm_gxids_total", nil, 3 * gtmclient.GXIDRange},
		{"xlgo_gtm_gxid_ranges_total", nil, 3},
		{"xlgo_gtm_next_gxid", nil, 3 * gtmclient.GXIDRange},
		{"xlgo_gtm_decisions_total", []string{"outcome", "commit"}, commits},
		{"xlgo_gtm_decisions_total", []string{"outcome", "abort"}, aborts},
		{"xlgo_gtm_decision_conflicts_total", nil, 1},
		{"xlgo_gtm_decisions_forgotten_total", nil, 2},
		{"xlgo_gtm_decisions_pending", nil, commits + aborts - 2},
		{"xlgo_gtm_sequence_ranges_total", nil, 3},
		{"xlgo_gtm_sequence_values_total", nil, 25},
		{"xlgo_gtm_sequences", nil, 1},
		{"xlgo_gtm_catalog_epoch_bumps_total", nil, 2},
		{"xlgo_gtm_catalog_bump_seconds", nil, 2},
		{"xlgo_gtm_catalog_subscribers_dropped_total", nil, 0},
		{"xlgo_gtm_gate_grants_total", []string{"group", "reader"}, 1},
		{"xlgo_gtm_gate_grants_total", []string{"group", "committer"}, 1},
		{"xlgo_gtm_gate_waits_total", []string{"group", "reader"}, 0},
		{"xlgo_gtm_gate_waits_total", []string{"group", "committer"}, 1},
		{"xlgo_gtm_gate_wait_seconds", []string{"group", "committer"}, 1},
		{"xlgo_gtm_connections", nil, 2},
		{"xlgo_gtm_connections_accepted_total", nil, 2},
		{"xlgo_gtm_request_seconds", []string{"request", "LogDecision"}, commits + aborts + 2},
		{"xlgo_gtm_request_errors_total", []string{"request", "LogDecision"}, 1},
		{"xlgo_gtm_request_seconds", []string{"request", "NextGXIDs"}, 3},
		{"xlgo_gtm_request_seconds", []string{"request", "SeqNextRange"}, 3},
		{"xlgo_gtm_request_errors_total", []string{"request", "SeqNextRange"}, 0},
	} {
		if got := moved(w.name, w.labels...); got != w.want {
			t.Errorf("%s%v moved by %v, want %v", w.name, w.labels, got, w.want)
		}
	}
	if e := after.value(t, "xlgo_gtm_catalog_epoch"); e != float64(epoch+2) {
		t.Errorf("catalog epoch %v, want %d", e, epoch+2)
	}
	for name, want := range map[string]float64{"xlgo_gtm_primary": 1, "xlgo_gtm_serving": 1, "xlgo_gtm_generation": 1,
		"xlgo_gtm_standby_connected": 0, "xlgo_gtm_primary_connected": 0, "xlgo_gtm_standby_lag_bytes": 0} {
		if v := after.value(t, name); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}

	// The log: every durable request waited for an fsync; the log grew by
	// what was written to it, at least one record per change.
	if n := moved("xlgo_gtm_wal_fsync_seconds"); n < 1 {
		t.Errorf("%v fsyncs of the log", n)
	}
	if written, grown := moved("xlgo_gtm_wal_written_bytes_total"), moved("xlgo_gtm_wal_size_bytes"); written != grown || written <= 0 {
		t.Errorf("log written %v bytes, grew by %v", written, grown)
	}
	if recs, changes := moved("xlgo_gtm_wal_records_total"), float64(commits+aborts+2+1+3+2); recs < changes {
		t.Errorf("%v log records for %v changes", recs, changes)
	}

	lintGTMMetrics(t, after)
}

// lintGTMMetrics fails t for every promlint problem of the xlgo_gtm_ metrics.
func lintGTMMetrics(t *testing.T, s scrape) {
	t.Helper()
	var fams []*dto.MetricFamily
	for name, f := range s {
		if strings.HasPrefix(name, "xlgo_gtm_") {
			fams = append(fams, f)
		}
	}
	if len(fams) == 0 {
		t.Fatal("no xlgo_gtm_ metrics")
	}
	problems, err := promlint.NewWithMetricFamilies(fams).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// A primary shows its standby (connected, lag, acknowledgement waits) and
// the standby its role and what it replicated; a standby that goes is
// counted, and a promoted one shows itself primary.
func TestMetricsOfStandby(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := startMetricsGTM(t, t.TempDir())
	s := startMetricsGTM(t, t.TempDir(), gtm.WithStandbyOf(p.addr))
	metricIs(t, p.metricsAddr, 1, "xlgo_gtm_standby_connected")
	metricIs(t, s.metricsAddr, 1, "xlgo_gtm_primary_connected")

	c, err := gtmclient.Dial(ctx, p.addr+","+s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sBefore := scrapeMetrics(t, s.metricsAddr)
	const decisions = 4
	for i := range decisions {
		if err := c.LogDecision(ctx, fmt.Sprintf("g%d", i), []string{"dn1", "dn2"}, true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.NextGXID(ctx); err != nil {
		t.Fatal(err)
	}
	// A durable answer means the standby acknowledged: nothing is owed.
	pm := scrapeMetrics(t, p.metricsAddr)
	for name, want := range map[string]float64{"xlgo_gtm_standby_lag_bytes": 0, "xlgo_gtm_standby_lag_seconds": 0, "xlgo_gtm_primary": 1} {
		if v := pm.value(t, name); v != want {
			t.Errorf("primary: %s = %v, want %v", name, v, want)
		}
	}
	if n := pm.value(t, "xlgo_gtm_standby_ack_wait_seconds"); n < decisions+1 {
		t.Errorf("primary: %v waits for the standby's acknowledgement, want at least %d", n, decisions+1)
	}
	sm := scrapeMetrics(t, s.metricsAddr)
	for name, want := range map[string]float64{"xlgo_gtm_primary": 0, "xlgo_gtm_serving": 0, "xlgo_gtm_standby_connected": 0,
		"xlgo_gtm_decisions_pending": decisions, "xlgo_gtm_generation": 1,
		// A standby shows the first id it would hand out: past the block the primary reserved.
		"xlgo_gtm_next_gxid": 1 + gtm.DefaultGXIDBlock} {
		if v := sm.value(t, name); v != want {
			t.Errorf("standby: %s = %v, want %v", name, v, want)
		}
	}
	if n := sm.value(t, "xlgo_gtm_wal_records_total") - sBefore.value(t, "xlgo_gtm_wal_records_total"); n < decisions+1 {
		t.Errorf("standby: %v records replicated, want at least %d", n, decisions+1)
	}
	if n := sm.value(t, "xlgo_gtm_wal_fsync_seconds") - sBefore.value(t, "xlgo_gtm_wal_fsync_seconds"); n < 1 {
		t.Errorf("standby: %v fsyncs", n)
	}

	// The primary goes; the promoted standby is the primary.
	p.stop(t)
	metricIs(t, s.metricsAddr, 0, "xlgo_gtm_primary_connected")
	sc, err := gtmclient.Dial(ctx, s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if _, _, err := sc.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	sm = scrapeMetrics(t, s.metricsAddr)
	for name, want := range map[string]float64{"xlgo_gtm_primary": 1, "xlgo_gtm_serving": 1, "xlgo_gtm_generation": 2} {
		if v := sm.value(t, name); v != want {
			t.Errorf("promoted: %s = %v, want %v", name, v, want)
		}
	}
}

// A standby that goes away is counted by its primary.
func TestMetricsStandbyDisconnect(t *testing.T) {
	p := startMetricsGTM(t, t.TempDir())
	s := startMetricsGTM(t, t.TempDir(), gtm.WithStandbyOf(p.addr))
	metricIs(t, p.metricsAddr, 1, "xlgo_gtm_standby_connected")
	s.stop(t)
	metricIs(t, p.metricsAddr, 0, "xlgo_gtm_standby_connected")
	metricIs(t, p.metricsAddr, 1, "xlgo_gtm_standby_disconnects_total")
}

// A registry holds one gtm's metrics at a time: Close gives them back.
func TestMetricsRegistration(t *testing.T) {
	reg := metrics.NewRegistry()
	dir := t.TempDir()
	a, err := gtm.Open(dir, nil, gtm.WithMetrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := gtm.Open(t.TempDir(), nil, gtm.WithMetrics(reg)); err == nil {
		b.Close()
		t.Fatal("a second gtm registered its metrics with the same registry")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a, err = gtm.Open(dir, nil, gtm.WithMetrics(reg))
	if err != nil {
		t.Fatalf("reopened on the same registry: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

var metricsListeningRE = regexp.MustCompile(`msg="metrics listening".* addr=(\S+)`)

// cmd/gtm registers the gtm's metrics on --metrics-listen, and serves no
// profiles without --pprof.
func TestProcessServesMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping under -short: the test builds cmd/gtm and runs it")
	}
	bin := buildGTM(t)
	p := startProcess(t, bin, "--port", "0", "--data-dir", filepath.Join(t.TempDir(), "gtm"), "--metrics-listen", "127.0.0.1:0")
	m := metricsListeningRE.FindStringSubmatch(p.logs())
	if m == nil {
		t.Fatalf("no metrics address in the log:\n%s", p.logs())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := gtmclient.Dial(ctx, p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.LogDecision(ctx, "g", []string{"dn1"}, false); err != nil {
		t.Fatal(err)
	}
	sc := scrapeMetrics(t, m[1])
	for name, want := range map[string]float64{"xlgo_gtm_primary": 1, "xlgo_gtm_connections": 1} {
		if v := sc.value(t, name); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	if v := sc.value(t, "xlgo_gtm_decisions_total", "outcome", "abort"); v != 1 {
		t.Errorf("abort decisions %v, want 1", v)
	}
	if sc["go_goroutines"] == nil || sc["process_cpu_seconds_total"] == nil {
		t.Error("the Go and process collectors' metrics are missing")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + m[1] + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/debug/pprof/ without --pprof: %s", resp.Status)
	}
}
