// Package regress runs the SQL regression suite in pg_regress layout: every
// sql/NAME.sql goes through psql to a coordinator of one test cluster, and
// its output, results/NAME.out, must equal expected/NAME.out.
package regress

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster/clustertest"
)

var update = flag.Bool("update", false, "rewrite expected/NAME.out from the results")

// coordinatorRE picks the coordinator a file runs against (1-based).
var coordinatorRE = regexp.MustCompile(`^--\s*regress:\s*coordinator=(\d+)\s*$`)

func TestRegress(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("sql", "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatal("no regress/sql/*.sql files")
	}
	c := clustertest.Start(t, clustertest.Options{Coordinators: 2, Datanodes: 2})
	psql := findPsql(t, c)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cc, err := pgx.ParseConfig(c.CoordDSN(0, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		t.Fatalf("connect to coord1: %v\n%s", err, c.LogTail("coord1", 30))
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE regression"); err != nil {
		t.Fatalf("CREATE DATABASE regression through coord1: %v\n%s", err, c.LogTail("coord1", 30))
	}
	conn.Close(ctx)

	if err := os.MkdirAll("results", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".sql")
		t.Run(name, func(t *testing.T) {
			coord, err := coordinatorOf(f, len(c.Config.Coordinators))
			if err != nil {
				t.Fatal(err)
			}
			runFile(t, c, psql, f, name, coord)
		})
	}
}

// coordinatorOf reads the `-- regress: coordinator=N` first line (default 1)
// and returns the 0-based index.
func coordinatorOf(path string, n int) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, sc.Err()
	}
	m := coordinatorRE.FindStringSubmatch(strings.TrimSpace(sc.Text()))
	if m == nil {
		return 0, nil
	}
	i, _ := strconv.Atoi(m[1])
	if i < 1 || i > n {
		return 0, errors.New(path + ": coordinator=" + m[1] + " but the test cluster has " + strconv.Itoa(n))
	}
	return i - 1, nil
}

func findPsql(t *testing.T, c *clustertest.Cluster) string {
	t.Helper()
	if p := filepath.Join(c.Config.PgBin, "psql"); fileExists(p) {
		return p
	}
	p, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql not found: %v", err)
	}
	return p
}

// dropLocations takes the LOCATION lines of verbose errors (a server source
// file and line, which change with PostgreSQL's minor version) out of a
// result file.
func dropLocations(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var keep []string
	for _, l := range strings.SplitAfter(string(data), "\n") {
		if !strings.HasPrefix(l, "LOCATION:  ") {
			keep = append(keep, l)
		}
	}
	return os.WriteFile(path, []byte(strings.Join(keep, "")), 0o644)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func runFile(t *testing.T, c *clustertest.Cluster, psql, sqlPath, name string, coord int) {
	in, err := os.Open(sqlPath)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	resultPath := filepath.Join("results", name+".out")
	out, err := os.Create(resultPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// VERBOSITY=verbose: every error shows its SQLSTATE, which the expected
	// files record (its LOCATION, a source line, is taken out below).
	cmd := exec.CommandContext(ctx, psql, "-X", "-a", "-q", "-v", "VERBOSITY=verbose", "-d", "regression",
		"-h", "127.0.0.1", "-p", strconv.Itoa(c.CoordPort(coord)), "-U", c.User)
	cmd.Stdin = in
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(psqlEnv(), "PGTZ=UTC", "PGDATESTYLE=Postgres, MDY", "PGAPPNAME=pg_regress")
	runErr := cmd.Run()
	out.Close()
	if err := dropLocations(resultPath); err != nil {
		t.Fatal(err)
	}

	expectedPath := filepath.Join("expected", name+".out")
	if *update {
		data, err := os.ReadFile(resultPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(expectedPath, data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", expectedPath)
	} else if !fileExists(expectedPath) {
		t.Errorf("%s is missing; review %s and run go test ./regress -update", expectedPath, resultPath)
	} else {
		d := exec.Command("diff", "-u", expectedPath, resultPath)
		var buf bytes.Buffer
		d.Stdout, d.Stderr = &buf, &buf
		if err := d.Run(); err != nil {
			t.Errorf("%s differs from %s:\n%s", resultPath, expectedPath, buf.String())
		}
	}
	if runErr != nil {
		t.Errorf("psql on coord%d: %v\n--- coord%d log (last lines)\n%s", coord+1, runErr, coord+1, c.LogTail("coord"+strconv.Itoa(coord+1), 30))
	}
}

// psqlEnv is the environment minus settings that would change psql's output.
func psqlEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "LC_") || k == "LANG" || k == "LANGUAGE" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "LANG=C")
}
