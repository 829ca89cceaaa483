package opstest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xlgo/xlgo/cluster/clustertest"
	"github.com/xlgo/xlgo/internal/poll"
)

// TestSessionIDEverywhere: a session's id is in the application_name of the
// datanode backends its transaction uses (pg_stat_activity there,
// pgxc_stat_activity on the coordinator) and in the coordinator's log lines
// about it, JSON ones included, with a slow statement's line.
func TestSessionIDEverywhere(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Datanodes: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c.Ctl.Config.LogFormat = "json"
	c.Ctl.Config.CoordinatorSettings = map[string]string{"log_min_duration_statement": "0"}
	// The log format is a flag: a restart takes it.
	c.RestartCoordinator(t, 0, nil)
	poll.Within(t, 30*time.Second, "the coordinator to answer", func() bool {
		conn, err := connectErr(c.CoordDSN(0, "postgres"))
		if err == nil {
			conn.Close(ctx)
		}
		return err == nil
	})
	if err := c.Ctl.Reload(ctx); err != nil { // writes the --config file of coordinator_settings
		t.Fatal(err)
	}
	worker := connect(t, c.CoordDSN(0, "postgres"))
	exec(t, worker, "CREATE TABLE w (id int PRIMARY KEY, v int) DISTRIBUTE BY HASH (id)")
	exec(t, worker, "INSERT INTO w SELECT g, 0 FROM generate_series(1, 20) g")
	exec(t, worker, "BEGIN")
	exec(t, worker, "UPDATE w SET v = v + 1 /* the worker's update */")

	watcher := connect(t, c.CoordDSN(0, "postgres"))
	rows, err := watcher.Query(ctx, `SELECT node_name, session_id, application_name FROM pgxc_stat_activity
		WHERE application_name LIKE 'xlgo coord1 s%' AND query LIKE '%the worker''s update%' ORDER BY node_name`)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var node, app string
		var id int64
		if err := rows.Scan(&node, &id, &app); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: session %d, application_name %q", node, id, app)
		if !strings.HasPrefix(app, fmt.Sprintf("xlgo coord1 s%d", id)) {
			t.Errorf("%s: application_name %q does not name session %d", node, app, id)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != ids[1] {
		t.Fatalf("the worker's backends: sessions %v, want one session on both datanodes", ids)
	}
	exec(t, worker, "COMMIT")
	want := fmt.Sprintf(`"session":%d`, ids[0])
	poll.Within(t, 10*time.Second, "a JSON log line of the worker's slow statement with its session", func() bool {
		for _, l := range strings.Split(c.LogTail("coord1", 200), "\n") {
			if strings.HasPrefix(l, "{") && strings.Contains(l, want) && strings.Contains(l, `"msg":"slow statement"`) &&
				strings.Contains(l, "the worker's update") {
				return true
			}
		}
		return false
	})
}
