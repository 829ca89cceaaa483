package opstest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/internal/metrics"
)

// dashboardPath is the Grafana dashboard the monitoring profile of
// docker-compose.yml provisions.
var dashboardPath = filepath.Join("..", "docker", "grafana", "dashboards", "xlgo.json")

type dashboardPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"` // a collapsed row's
}

type dashboard struct {
	UID           string           `json:"uid"`
	Title         string           `json:"title"`
	SchemaVersion int              `json:"schemaVersion"`
	Panels        []dashboardPanel `json:"panels"`
}

var metricName = regexp.MustCompile(`xlgo_[a-z0-9_]+`)

// family is the metric family of a series name: a histogram's _bucket,
// _sum and _count series belong to the histogram.
func family(name string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if s, ok := strings.CutSuffix(name, suffix); ok {
			return s
		}
	}
	return name
}

// dashboardMetrics reads the dashboard and returns the metric families its
// panels' queries use, each with the panels using it.
func dashboardMetrics(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	if d.UID != "xlgo" || d.Title != "xlgo cluster" || d.SchemaVersion < 36 {
		t.Errorf("dashboard uid %q, title %q, schemaVersion %d", d.UID, d.Title, d.SchemaVersion)
	}
	used := map[string][]string{}
	ids := map[int]bool{}
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
			}
			ids[p.ID] = true
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no queries", p.Title)
			}
			for _, tg := range p.Targets {
				names := metricName.FindAllString(tg.Expr, -1)
				if len(names) == 0 {
					t.Errorf("panel %q query %s uses no xlgo metric: %s", p.Title, tg.RefID, tg.Expr)
				}
				for _, n := range names {
					f := family(n)
					if !slices.Contains(used[f], p.Title) {
						used[f] = append(used[f], p.Title)
					}
				}
			}
		}
	}
	walk(d.Panels)
	return used
}

// TestDashboardMetricsExist checks that every metric the Grafana dashboard
// queries is served by a real cluster: it runs statements of every kind, a
// two-phase commit, an error and a resolver commit of an in-doubt
// transaction so that the labelled series exist, then scrapes the
// coordinator's and the gtm's /metrics.
func TestDashboardMetricsExist(t *testing.T) {
	used := dashboardMetrics(t)
	if len(used) == 0 {
		t.Fatal("the dashboard uses no metrics")
	}

	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// An in-doubt transaction with a commit decision at the gtm: the
	// coordinator's resolver commits it at its (re)start.
	gid := fmt.Sprintf("xlgo_%s_900001", c.Config.ClusterName)
	dn, err := pgx.Connect(ctx, c.DatanodeDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{"BEGIN", "SELECT 1", "PREPARE TRANSACTION '" + gid + "'"} {
		if _, err := dn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	dn.Close(ctx)
	g, err := gtmclient.Dial(ctx, c.Config.GTM.Addr())
	if err != nil {
		t.Fatal(err)
	}
	err = g.LogDecision(ctx, gid, []string{c.Config.Datanodes[0].Name}, true)
	g.Close()
	if err != nil {
		t.Fatal(err)
	}
	c.RestartCoordinator(t, 0, nil)

	conn := connect(t, c.CoordDSN(0, "postgres"))
	for _, sql := range []string{
		"CREATE TABLE t (id int, v text) DISTRIBUTE BY HASH (id)",
		"INSERT INTO t SELECT g, 'x' FROM generate_series(1, 20) g",
		"INSERT INTO t VALUES (21, 'y')",
		"SELECT count(*) FROM t",
		"BEGIN", "UPDATE t SET v = 'z'", "COMMIT", // two-phase
		"CREATE SEQUENCE s", "SELECT nextval('s')",
	} {
		exec(t, conn, sql)
	}
	wantCode(t, conn, "SELECT 1/0", "22012")

	coord := c.Config.MetricsAddr(c.Config.Coordinators[0])
	gtm := c.Config.MetricsAddr(c.Config.GTM)
	var missing []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		served := metrics.Families{}
		for _, addr := range []string{coord, gtm} {
			for name, f := range scrape(t, ctx, addr) {
				served[name] = f
			}
		}
		missing = missing[:0]
		for name, panels := range used {
			if f := served[name]; f == nil || len(f.GetMetric()) == 0 {
				missing = append(missing, fmt.Sprintf("%s (panels %s)", name, strings.Join(panels, ", ")))
			}
		}
		// The resolver's pass at the coordinator's start may still run.
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("the dashboard uses %s, served by neither the coordinator nor the gtm", m)
	}
}
