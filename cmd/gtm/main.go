// Command gtm runs the global transaction manager: global transaction ids,
// durable two-phase commit decisions, global sequences, the snapshot gate and
// the catalog epoch. With --standby-of it runs a standby that follows a
// primary's log until it is promoted (gtmclient's Promote, xlctl failover gtm).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/xlgo/xlgo/gtm"
	"github.com/xlgo/xlgo/internal/logging"
	"github.com/xlgo/xlgo/internal/metrics"
)

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "gtm: error: %v\n", err)
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	var (
		listen        string
		port          int
		dataDir       string
		logLevel      string
		name          string
		ackTimeout    time.Duration
		standbyOf     string
		replAck       time.Duration
		linger        time.Duration
		failoverAfter time.Duration
		logFormat     string
		metricsListen string
		pprof         bool
	)
	cmd := &cobra.Command{
		Use:           "gtm",
		Short:         "xlgo global transaction manager",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lv, err := logging.ParseLevel(logLevel)
			if err != nil {
				return err
			}
			level := new(slog.LevelVar)
			level.Set(lv)
			if dataDir == "" {
				return errors.New("--data-dir is required")
			}
			if port < 0 || port > 65535 {
				return fmt.Errorf("--port %d out of range", port)
			}
			handler, err := logging.Handler(os.Stderr, logFormat, level)
			if err != nil {
				return err
			}
			logger := slog.New(handler).With("node", name)
			opts := []gtm.Option{gtm.WithCatalogAckTimeout(ackTimeout), gtm.WithReplAckTimeout(replAck), gtm.WithCommitterLinger(linger),
				gtm.WithFailover(failoverAfter)}
			if standbyOf != "" {
				if _, _, err := net.SplitHostPort(standbyOf); err != nil {
					return fmt.Errorf("--standby-of %q: want host:port", standbyOf)
				}
				opts = append(opts, gtm.WithStandbyOf(standbyOf))
			}
			return run(cmd.Context(), logger, net.JoinHostPort(listen, strconv.Itoa(port)), dataDir, opts, metricsListen, pprof)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1", "address to listen on")
	f.IntVar(&port, "port", 6666, "TCP port to listen on (0 picks a free port)")
	f.StringVar(&dataDir, "data-dir", "", "directory holding the GTM log (required)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "text (key=value) or json, one object a line")
	f.StringVar(&metricsListen, "metrics-listen", "", "host:port to serve Prometheus metrics on at /metrics ('' for none)")
	f.BoolVar(&pprof, "pprof", false, "serve pprof's profiles at /debug/pprof/ on the --metrics-listen address")
	f.StringVar(&name, "name", "gtm", "node name used in logs")
	f.DurationVar(&ackTimeout, "catalog-ack-timeout", gtm.DefaultCatalogAckTimeout,
		"how long a catalog epoch bump waits for each coordinator's acknowledgement")
	f.StringVar(&standbyOf, "standby-of", "", "run as a standby of the primary gtm at host:port (serves nothing until promoted)")
	f.DurationVar(&replAck, "standby-ack-timeout", gtm.DefaultReplAckTimeout,
		"how long a primary waits for its standby's acknowledgement before going on alone")
	f.DurationVar(&failoverAfter, "failover-after", 0,
		"fail over automatically with this failover time, the coordinators as witnesses (0: off; the coordinators' --gtm-failover-after must match)")
	f.DurationVar(&linger, "committer-linger", gtm.DefaultCommitterLinger,
		"how long a committer's hold on the snapshot gate outlives its connection (the COMMIT PREPAREDs it sent still arrive)")
	return cmd
}

func run(ctx context.Context, logger *slog.Logger, addr, dataDir string, opts []gtm.Option, metricsAddr string, withPprof bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	reg := metrics.NewRegistry()
	if metricsAddr != "" {
		opts = append(opts, gtm.WithMetrics(reg))
	}
	srv, err := gtm.Open(dataDir, logger, opts...)
	if err != nil {
		return err
	}
	if metricsAddr != "" {
		if _, err := metrics.Serve(ctx, metricsAddr, reg, withPprof, logger); err != nil {
			srv.Close()
			return fmt.Errorf("metrics: cannot listen on %s: %w", metricsAddr, err)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		srv.Close()
		return fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case <-ctx.Done():
		logger.Info("gtm shutting down")
		if err := srv.Close(); err != nil {
			return fmt.Errorf("close: %w", err)
		}
		<-served
		logger.Info("gtm stopped")
		return nil
	case err := <-served:
		srv.Close()
		if err == nil {
			err = errors.New("server stopped unexpectedly")
		}
		return err
	}
}
