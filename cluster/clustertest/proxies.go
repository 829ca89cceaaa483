package clustertest

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xlgo/xlgo/cluster"
	"github.com/xlgo/xlgo/internal/faultproxy"
)

// ProxyDatanode puts a fault proxy between coordinator coord and datanode dn
// (both from 0): the coordinator's pgxc_node entry for the datanode names the
// proxy's port (ALTER NODE) and its pool drops the backends it had
// (pgxc_pool_reload), so every connection the coordinator makes to the
// datanode from then on — its sessions', its resolver's, its deadlock
// detector's — passes the proxy. Direct DSNs (DatanodeDSN) do not. The
// proxy is closed when the test ends.
func (c *Cluster) ProxyDatanode(t testing.TB, coord, dn int) *faultproxy.Proxy {
	t.Helper()
	n := c.Config.Datanodes[dn]
	p, err := faultproxy.Start(n.Addr())
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	via := n
	via.Host, via.Port = "127.0.0.1", p.Port()
	c.onCoordinator(t, coord, cluster.AlterNodeSQL(cluster.RoleDatanode, via), cluster.PoolReloadSQL)
	return p
}

// ProxyGTM starts a fault proxy in front of the gtm, closed when the test
// ends. A coordinator reaches the gtm through it once restarted with
// "--gtm", p.Addr() (RestartCoordinator), its resolver included.
func (c *Cluster) ProxyGTM(t testing.TB) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.Start(c.Config.GTM.Addr())
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// onCoordinator runs statements on coordinator i (simple protocol).
func (c *Cluster) onCoordinator(t testing.TB, i int, sqls ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(c.CoordDSN(i, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("clustertest: connect to coord%d: %v", i+1, err)
	}
	defer conn.Close(context.Background())
	for _, sql := range sqls {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("clustertest: %s on coord%d: %v", sql, i+1, err)
		}
	}
}

// PprofArgs are the flags that make coordinator i, (re)started with
// RestartCoordinator, serve its profiles beside its metrics, and that
// address, for Goroutines.
func (c *Cluster) PprofArgs(i int) (args []string, addr string) {
	return []string{"--pprof"}, c.Config.MetricsAddr(c.Config.Coordinators[i])
}

// Goroutines returns the goroutine stacks of a process serving its profiles
// at addr (see PprofArgs) whose text contains any of subs (all when none),
// without stopping it.
func Goroutines(addr string, subs ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/debug/pprof/goroutine?debug=2", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if len(subs) == 0 {
		return string(body), nil
	}
	var out []string
	for _, g := range strings.Split(string(body), "\n\n") {
		for _, s := range subs {
			if strings.Contains(g, s) {
				out = append(out, g)
				break
			}
		}
	}
	return strings.Join(out, "\n\n"), nil
}
