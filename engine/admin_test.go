package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/server"
)

// resultRecorder keeps what a console command sends.
type resultRecorder struct {
	server.ResultWriter // the COPY methods: not used by the console
	cols                []string
	rows                [][]string
	tags                []string
	notices             []string
}

func (r *resultRecorder) RowDescription(fields []pgproto3.FieldDescription) error {
	r.cols = nil
	for _, f := range fields {
		r.cols = append(r.cols, string(f.Name))
	}
	return nil
}

func (r *resultRecorder) DataRow(values [][]byte) error {
	row := make([]string, len(values))
	for i, v := range values {
		row[i] = string(v)
	}
	r.rows = append(r.rows, row)
	return nil
}

func (r *resultRecorder) CommandComplete(tag string) error { r.tags = append(r.tags, tag); return nil }
func (r *resultRecorder) EmptyQuery() error                { r.tags = append(r.tags, "EMPTY"); return nil }
func (r *resultRecorder) Notice(n *pgproto3.NoticeResponse) error {
	r.notices = append(r.notices, n.Severity+": "+n.Message)
	return nil
}

// consoleAlone is a coordinator without datanodes or gtm, and a console session on it.
func consoleAlone(t *testing.T) (*Coordinator, *adminSession) {
	t.Helper()
	nodes, err := catalog.OpenNodeStore(filepath.Join(t.TempDir(), "pgxc_node.json"))
	if err != nil {
		t.Fatal(err)
	}
	co := NewCoordinator("coord1", "xlgo", nodes, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(co.Pool.Close)
	co.AdminUsers = []string{"ops"}
	sess, _, err := co.NewSession(context.Background(), server.Startup{User: "ops", Database: AdminDatabase, Params: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	return co, sess.(*adminSession)
}

func TestConsoleHooks(t *testing.T) {
	co, a := consoleAlone(t)
	ctx := context.Background()
	run := func(cmd string) (*resultRecorder, error) {
		r := &resultRecorder{}
		return r, a.SimpleQuery(ctx, cmd, r)
	}
	// Without hooks: 0A000.
	for _, cmd := range []string{"RELOAD", "shutdown", "SHUTDOWN WAIT_FOR_CLIENTS;"} {
		if _, err := run(cmd); !pgerr.Is(err, pgerr.FeatureNotSupported) {
			t.Errorf("%s without its hook: %v, want 0A000", cmd, err)
		}
	}
	reloads := 0
	co.Reload = func() error { reloads++; return nil }
	if r, err := run("reload;"); err != nil || reloads != 1 || len(r.tags) != 1 || r.tags[0] != "RELOAD" {
		t.Errorf("RELOAD: %v, %d calls, tags %v", err, reloads, r.tags)
	}
	co.Reload = func() error { return errors.New("bad line 3") }
	if _, err := run("RELOAD"); !pgerr.Is(err, pgerr.ConfigFileError) || !strings.Contains(err.Error(), "bad line 3") {
		t.Errorf("RELOAD failing: %v", err)
	}
	waits := make(chan bool, 2)
	co.Shutdown = func(wait bool) { waits <- wait }
	for cmd, want := range map[string]bool{"SHUTDOWN": false, "shutdown wait_for_clients": true} {
		r, err := run(cmd)
		if err != nil || r.tags[0] != "SHUTDOWN" {
			t.Fatalf("%s: %v %v", cmd, err, r.tags)
		}
		select {
		case got := <-waits:
			if got != want {
				t.Errorf("%s: Shutdown(%t)", cmd, got)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not call Shutdown", cmd)
		}
	}
}

func TestConsoleCommands(t *testing.T) {
	co, a := consoleAlone(t)
	ctx := context.Background()
	run := func(cmd string) (*resultRecorder, error) {
		r := &resultRecorder{}
		return r, a.SimpleQuery(ctx, cmd, r)
	}
	for cmd, code := range map[string]string{
		"SELECT 1":          pgerr.SyntaxError,
		"SHOW":              pgerr.SyntaxError,
		"SHOW LISTS":        pgerr.FeatureNotSupported,
		"KILL_CLIENT x":     pgerr.InvalidParameterValue,
		"KILL_CLIENT 99":    pgerr.UndefinedObject,
		"PAUSE a b":         pgerr.SyntaxError,
		"SHUTDOWN NOW":      pgerr.SyntaxError,
		"show pools; bogus": pgerr.SyntaxError,
	} {
		if _, err := run(cmd); !pgerr.Is(err, code) {
			t.Errorf("%s: %v, want %s", cmd, err, code)
		}
	}
	if r, err := run(" ; "); err != nil || len(r.tags) != 1 || r.tags[0] != "EMPTY" {
		t.Errorf("empty query: %v %v", err, r.tags)
	}
	r, err := run("show config")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, row := range r.rows {
		got[row[0]] = row[1]
	}
	if got["name"] != "coord1" || got["admin_users"] != "ops" || got["pool_max_per_key"] == "" {
		t.Errorf("SHOW CONFIG: %v", r.rows)
	}
	co.Config = func() [][2]string { return [][2]string{{"name", "from-flags"}, {"port", "20004"}} }
	r, _ = run("SHOW CONFIG")
	if len(r.rows) < 2 || r.rows[0][0] != "name" || r.rows[0][1] != "from-flags" || r.rows[1][1] != "20004" {
		t.Errorf("SHOW CONFIG with Config: %v", r.rows)
	}
	r, err = run("SHOW VERSION")
	if err != nil || len(r.rows) != 1 || r.rows[0][1] != "xlgo "+Version {
		t.Errorf("SHOW VERSION: %v %v", err, r.rows)
	}
	// PAUSE with no transaction running returns at once; RESUME of one
	// database while all are paused is refused.
	if r, err := run("PAUSE"); err != nil || r.tags[0] != "PAUSE" {
		t.Fatalf("PAUSE: %v", err)
	}
	if _, err := run("RESUME db1"); !pgerr.Is(err, pgerr.ObjectNotInPrerequisiteState) {
		t.Errorf("RESUME db1 while all are paused: %v", err)
	}
	r, _ = run("SHOW CONFIG")
	for _, row := range r.rows {
		if row[0] == "paused" && row[1] != "*" {
			t.Errorf("paused = %q, want *", row[1])
		}
	}
	if _, err := run("RESUME; PAUSE db1; RESUME db1"); err != nil {
		t.Errorf("RESUME; PAUSE db1; RESUME db1: %v", err)
	}
	if co.admin.pause.on.Load() {
		t.Error("still paused after RESUME")
	}
	// The extended protocol is refused.
	if err := a.Parse(ctx, "", "SHOW POOLS", nil); !pgerr.Is(err, pgerr.FeatureNotSupported) {
		t.Errorf("Parse: %v", err)
	}
}

func TestConsoleRefusesOthers(t *testing.T) {
	co, _ := consoleAlone(t)
	// No datanode can say whether "mallory" is a superuser: refused.
	_, _, err := co.NewSession(context.Background(), server.Startup{User: "mallory", Database: AdminDatabase, Params: map[string]string{}})
	if !pgerr.Is(err, pgerr.InsufficientPrivilege) || !strings.Contains(err.Error(), "permission denied for the admin console") {
		t.Errorf("mallory: %v", err)
	}
}
