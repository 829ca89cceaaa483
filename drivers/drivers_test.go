// Package drivers is the driver matrix: one small program per client driver
// (pgx, lib/pq, JDBC, psycopg2, node-postgres), each of which connects to a
// coordinator, binds parameters of common types to prepared statements, reads
// them back, runs a committed and a rolled-back transaction and reads the
// SQLSTATEs of errors. TestDrivers starts a cluster and runs every program.
package drivers

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

const jdbcJar = "/usr/share/java/postgresql.jar"

// systemPython is Debian's python3, which python3-psycopg2 belongs to (the
// python3 first on PATH may be another one).
const systemPython = "/usr/bin/python3"

func TestDrivers(t *testing.T) {
	root, err := clustertest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "drivers")
	c := clustertest.Start(t, clustertest.Options{Coordinators: 1, Datanodes: 2})
	env := clustertest.ClientEnv("127.0.0.1", c.CoordPort(0), c.User, "postgres")

	t.Run("pgx", func(t *testing.T) {
		goBin := clustertest.RequireTool(t, "go", "the Go toolchain")
		run(t, c, root, env, goBin, "run", "./drivers/pgx")
	})
	t.Run("libpq", func(t *testing.T) {
		goBin := clustertest.RequireTool(t, "go", "the Go toolchain")
		// Its own module, so that the main module does not depend on lib/pq.
		run(t, c, filepath.Join(dir, "libpq"), append(env, "GOWORK=off"), goBin, "run", ".")
	})
	t.Run("jdbc", func(t *testing.T) {
		javac := clustertest.RequireTool(t, "javac", "Debian package default-jdk-headless")
		java := clustertest.RequireTool(t, "java", "Debian package default-jdk-headless")
		if _, err := os.Stat(jdbcJar); err != nil {
			clustertest.MissingTool(t, "the PostgreSQL JDBC driver (Debian package libpostgresql-jdbc-java): "+err.Error())
		}
		classes := t.TempDir()
		run(t, c, dir, env, javac, "-d", classes, "-cp", jdbcJar, filepath.Join(dir, "jdbc", "DriverCheck.java"))
		run(t, c, dir, env, java, "-cp", classes+string(os.PathListSeparator)+jdbcJar, "DriverCheck")
	})
	t.Run("psycopg", func(t *testing.T) {
		py := clustertest.RequireTool(t, systemPython, "Debian package python3")
		if out, err := exec.Command(py, "-c", "import psycopg2").CombinedOutput(); err != nil {
			clustertest.MissingTool(t, "psycopg2 for "+py+" (Debian package python3-psycopg2): "+strings.TrimSpace(string(out)))
		}
		run(t, c, dir, env, py, filepath.Join(dir, "psycopg", "check.py"))
	})
	t.Run("node", func(t *testing.T) {
		node := clustertest.RequireTool(t, "node", "Debian package nodejs")
		npm := clustertest.RequireTool(t, "npm", "Debian package npm")
		nodeDir := filepath.Join(dir, "node")
		// node-postgres comes from the npm registry into drivers/node/node_modules.
		run(t, c, nodeDir, os.Environ(), npm, "install", "--no-package-lock", "--no-audit", "--no-fund")
		run(t, c, nodeDir, env, node, "check.js")
	})
}

// run runs a program to completion, logs what it printed and fails the test
// when it exits non-zero.
func run(t *testing.T, c *clustertest.Cluster, dir string, env []string, prog string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s %s (%.1fs):\n%s", filepath.Base(prog), strings.Join(args, " "), time.Since(start).Seconds(), out.String())
	if err != nil {
		t.Fatalf("%s %s: %v\n--- coord1 log (last lines)\n%s", filepath.Base(prog), strings.Join(args, " "), err, c.LogTail("coord1", 15))
	}
}
