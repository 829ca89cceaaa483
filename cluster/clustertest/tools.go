package clustertest

import (
	"fmt"
	"github.com/xlgo/xlgo/cluster"
	"os"
	"os/exec"
	"testing"
)

// RequireTool returns the path of an external program a test runs (pgbench,
// sysbench, java ...), looked up on PATH unless name is a path. When it is
// missing the test fails under CI (CI=true), where .ci/run installs it, and is
// skipped elsewhere; hint names what provides it.
func RequireTool(t testing.TB, name, hint string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		MissingTool(t, fmt.Sprintf("%s not found (%s): %v", name, hint, err))
	}
	return path
}

// MissingTool fails the test under CI and skips it elsewhere, with the reason.
func MissingTool(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("required under CI: %s", reason)
	}
	t.Skipf("skipping: %s", reason)
}

// ClientEnv is the environment for a client program connecting to
// host:port as user to database db: the test's environment without PG*
// variables, plus PGHOST, PGPORT, PGUSER, PGDATABASE and PGSSLMODE=disable.
func ClientEnv(host string, port int, user, db string) []string {
	return append(cluster.CleanEnv(),
		"PGHOST="+host,
		fmt.Sprintf("PGPORT=%d", port),
		"PGUSER="+user,
		"PGDATABASE="+db,
		"PGSSLMODE=disable",
	)
}
