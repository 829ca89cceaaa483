package opstest

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	osexec "os/exec"
	"testing"
	"time"

	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/internal/poll"
)

// TestInitMonitoring: a cluster made as xlctl init --monitoring makes it
// has a Prometheus (Debian's package) whose targets, every gtm and
// coordinator, are all up, and whose store holds the coordinators' figures.
func TestInitMonitoring(t *testing.T) {
	if _, err := osexec.LookPath("prometheus"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("prometheus is required under CI (.ci/run installs Debian's package): %v", err)
		}
		t.Skipf("skipping: prometheus is not installed here (apt-get install prometheus): %v", err)
	}
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 2, Monitoring: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr := c.Ctl.PrometheusAddr()
	conn := connect(t, c.CoordDSN(0, "postgres"))
	exec(t, conn, "SELECT 1")

	var targets struct {
		Data struct {
			ActiveTargets []struct {
				Labels    map[string]string `json:"labels"`
				Health    string            `json:"health"`
				LastError string            `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	poll.Within(t, 60*time.Second, "every target of Prometheus to be up", func() bool {
		if err := getJSON(ctx, "http://"+addr+"/api/v1/targets", &targets); err != nil {
			return false
		}
		up := 0
		for _, tg := range targets.Data.ActiveTargets {
			if tg.Health == "up" {
				up++
			}
		}
		return len(targets.Data.ActiveTargets) == 3 && up == 3
	})
	for _, tg := range targets.Data.ActiveTargets {
		t.Logf("target %s (%s): %s", tg.Labels["node"], tg.Labels["job"], tg.Health)
	}
	var q struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	poll.Within(t, 30*time.Second, "the coordinators' statements in Prometheus", func() bool {
		return getJSON(ctx, "http://"+addr+"/api/v1/query?query=xlgo_statements_total", &q) == nil && len(q.Data.Result) > 0
	})
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
