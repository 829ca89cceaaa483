// Command coordinator runs an xlgo coordinator: the PostgreSQL-protocol
// front end that plans statements over the datanodes of the cluster.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/resolver"
	"github.com/xlgo/xlgo/server"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "coordinator: error: %v\n", err)
		os.Exit(1)
	}
}

type options struct {
	name, listen, socketDir, gtmAddr, dataDir, clusterName, logLevel string
	port                                                             int
	resolveInterval, resolveGrace                                    time.Duration
	resolveUser                                                      string
}

func newCommand() *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:           "coordinator",
		Short:         "xlgo coordinator: PostgreSQL wire protocol in front of the datanodes",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: want debug, info, warn or error", o.logLevel)
			}
			if o.name == "" {
				return errors.New("--name is required")
			}
			if o.dataDir == "" {
				return errors.New("--data-dir is required")
			}
			logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("node", o.name)
			return run(logger, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "this coordinator's node name (required)")
	f.StringVar(&o.listen, "listen", "127.0.0.1", "comma-separated addresses to listen on ('*' for all)")
	f.IntVar(&o.port, "port", 5432, "TCP port")
	f.StringVar(&o.socketDir, "unix-socket-dir", server.DefaultSocketDir(), "directory of the Unix socket ('' for none)")
	f.StringVar(&o.gtmAddr, "gtm", "127.0.0.1:6666", "GTM address host:port ('' for none: single-node writes only)")
	f.StringVar(&o.dataDir, "data-dir", "", "directory of this coordinator's node catalog (required)")
	f.StringVar(&o.clusterName, "cluster-name", "xlgo", "cluster name, the prefix of global transaction ids")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.DurationVar(&o.resolveInterval, "resolve-interval", 30*time.Second, "how often to resolve in-doubt transactions (also once at start; 0: only at start)")
	f.DurationVar(&o.resolveGrace, "resolve-grace", resolver.DefaultGrace, "age after which an undecided prepared transaction is aborted")
	f.StringVar(&o.resolveUser, "resolve-user", "", "role the resolver connects to datanodes as (default $PGUSER, else the OS user)")
	return cmd
}

func run(logger *slog.Logger, o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if addr := os.Getenv("XLGO_PPROF"); addr != "" {
		// Profiling endpoints for benchmarks, on an address the operator chose.
		go func() { logger.Info("pprof", "err", http.ListenAndServe(addr, nil)) }()
	}
	if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	nodes, err := catalog.OpenNodeStore(filepath.Join(o.dataDir, "pgxc_node.json"))
	if err != nil {
		return err
	}
	var gtm *gtmclient.Client
	if o.gtmAddr != "" {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		gtm, err = dialGTM(dctx, o.gtmAddr, logger)
		cancel()
		if err != nil {
			return fmt.Errorf("gtm %s: %w", o.gtmAddr, err)
		}
		defer gtm.Close()
	}
	if os.Getenv("XLGO_FAILPOINT") != "" && os.Getenv("XLGO_FAILPOINT_DIR") == "" {
		os.Setenv("XLGO_FAILPOINT_DIR", o.dataDir)
	}
	co := server.NewCoordinator(o.name, o.clusterName, nodes, gtm, logger)
	defer co.Pool.Close()
	if gtm != nil {
		res := resolver.New(gtm, func() []resolver.Datanode {
			var out []resolver.Datanode
			for _, n := range nodes.Datanodes() {
				out = append(out, resolver.Datanode{Name: n.Name, Host: n.Host, Port: n.Port})
			}
			return out
		}, o.clusterName, o.resolveUser, logger.With("component", "resolver"))
		res.Grace = o.resolveGrace
		go res.Run(ctx, o.resolveInterval)
	}
	var addrs []string
	for _, a := range strings.Split(o.listen, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	srv := server.NewServer(co, server.Options{ListenAddrs: addrs, Port: o.port, UnixSocketDir: o.socketDir, Logger: logger})
	if err := srv.Listen(); err != nil {
		return err
	}
	logger.Info("coordinator listening", "port", o.port, "socket", srv.UnixSocketPath(), "gtm", o.gtmAddr)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	logger.Info("coordinator stopped")
	return nil
}

// dialGTM connects to the GTM, waiting for it to come up.
func dialGTM(ctx context.Context, addr string, logger *slog.Logger) (*gtmclient.Client, error) {
	for {
		c, err := gtmclient.Dial(ctx, addr)
		if err == nil {
			return c, nil
		}
		logger.Warn("waiting for the gtm", "addr", addr, "err", err)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(500 * time.Millisecond):
		}
	}
}
