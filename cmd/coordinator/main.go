// Command coordinator runs an xlgo coordinator: the PostgreSQL-protocol
// front end that plans statements over the datanodes of the cluster.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/xlgo/xlgo/auth"
	"github.com/xlgo/xlgo/catalog"
	"github.com/xlgo/xlgo/dialect"
	"github.com/xlgo/xlgo/engine"
	"github.com/xlgo/xlgo/executor"
	"github.com/xlgo/xlgo/gtmclient"
	"github.com/xlgo/xlgo/internal/logging"
	"github.com/xlgo/xlgo/internal/metrics"
	"github.com/xlgo/xlgo/pooler"
	"github.com/xlgo/xlgo/resolver"
	"github.com/xlgo/xlgo/server"
	"github.com/xlgo/xlgo/txn"
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
	failoverAfter, failoverWait, gtmFailoverAfter                    time.Duration
	resolveUser                                                      string
	deadlockInterval                                                 time.Duration
	readGateWait, commitGateWait, commitPreparedWait, gtmWait        time.Duration
	hbaFile, authFile, authUser, datanodePassfile                    string
	sslCert, sslKey, sslCA                                           string
	maxClientConn                                                    int
	authTimeout                                                      time.Duration
	maxGatherBytes                                                   int64
	metricsListen, logFormat                                         string
	pprof                                                            bool
	level                                                            *slog.LevelVar
	configFile                                                       string
	logMinDuration, poolIdleTimeout, poolWaitTimeout, shutdownWait   time.Duration
	poolSize, poolMaxIdle                                            int
	reload                                                           *reloader
	adminUsers                                                       string
	settings                                                         func() [][2]string
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
			o.reload = newReloader(&o, cmd.Flags())
			if err := o.reload.read(); err != nil {
				return err
			}
			lv, err := logging.ParseLevel(o.logLevel)
			if err != nil {
				return err
			}
			o.level = new(slog.LevelVar)
			o.level.Set(lv)
			if o.name == "" {
				return errors.New("--name is required")
			}
			if o.maxClientConn < 1 || o.maxGatherBytes < 1 || o.authTimeout <= 0 || o.shutdownWait <= 0 {
				return errors.New("--max-client-conn, --max-gather-bytes, --authentication-timeout and --shutdown-wait must be positive")
			}
			if o.dataDir == "" {
				return errors.New("--data-dir is required")
			}
			handler, err := logging.Handler(os.Stderr, o.logFormat, o.level)
			if err != nil {
				return err
			}
			o.settings = o.reload.locked(flagSettings(cmd.Flags()))
			return run(slog.New(handler).With("node", o.name), o)
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
	f.StringVar(&o.logFormat, "log-format", "text", "text (key=value) or json, one object a line")
	f.StringVar(&o.metricsListen, "metrics-listen", "", "host:port to serve Prometheus metrics on at /metrics ('' for none)")
	f.BoolVar(&o.pprof, "pprof", false, "serve pprof's profiles at /debug/pprof/ on the --metrics-listen address")
	f.StringVar(&o.configFile, "config", "", "YAML file of the settings a reload (SIGHUP) changes, named as their flags ("+strings.Join(reloadable, ", ")+"); it wins over the flags")
	f.DurationVar(&o.logMinDuration, "log-min-duration-statement", -1, "log each statement that runs at least this long, with its duration (0: every statement; -1: none)")
	f.IntVar(&o.poolSize, "pool-size", pooler.DefaultMaxPerKey, "backends per datanode, database and user at most (busy or idle)")
	f.IntVar(&o.poolMaxIdle, "pool-max-idle", pooler.DefaultMaxIdlePerKey, "idle backends kept per datanode, database and user")
	f.DurationVar(&o.poolIdleTimeout, "pool-idle-timeout", pooler.DefaultIdleTimeout, "idle backends older than this are closed")
	f.DurationVar(&o.poolWaitTimeout, "pool-wait-timeout", pooler.DefaultWaitTimeout, "how long a statement waits for a free backend before it fails with 53300")
	f.DurationVar(&o.shutdownWait, "shutdown-wait", defaultShutdownWait, "how long SIGTERM lets running transactions finish before it closes their connections")
	f.DurationVar(&o.resolveInterval, "resolve-interval", 30*time.Second, "how often to resolve in-doubt transactions (also once at start; 0: only at start)")
	f.DurationVar(&o.resolveGrace, "resolve-grace", resolver.DefaultGrace, "age after which an undecided prepared transaction is aborted")
	f.DurationVar(&o.failoverAfter, "failover-after", 5*time.Second, "promote a datanode's standby when the datanode has not answered this long (0: no automatic failover)")
	f.DurationVar(&o.gtmFailoverAfter, "gtm-failover-after", 0, "the gtms' failover time (their --failover-after): hold a lease at the primary gtm and vote for its standby when no primary answered this long (0: off)")
	f.DurationVar(&o.failoverWait, "failover-wait", 30*time.Second, "how long a statement waits for a lost datanode to fail over before it fails")
	f.StringVar(&o.resolveUser, "resolve-user", "", "role the resolver connects to datanodes as (default $PGUSER, else the OS user)")
	f.DurationVar(&o.deadlockInterval, "deadlock-interval", defaultDeadlockInterval, "how often to look for deadlocks across datanodes (0: never)")
	f.DurationVar(&o.readGateWait, "read-gate-wait", engine.DefaultReadGateWait, "how long a read of several datanodes waits for the snapshot gate at most (its statement_timeout may end the wait sooner)")
	f.DurationVar(&o.commitGateWait, "commit-gate-wait", engine.DefaultCommitGateWait, "how long a decided distributed commit waits for the snapshot gate before it leaves its COMMIT PREPAREDs to the resolver")
	f.DurationVar(&o.commitPreparedWait, "commit-prepared-wait", engine.DefaultCommitPreparedWait, "how long a distributed commit waits for its COMMIT PREPAREDs before it leaves them to the resolver (also bounds a one-node COMMIT and the PREPAREs)")
	f.DurationVar(&o.gtmWait, "gtm-wait", txn.DefaultGTMWait, "how long a distributed commit waits for each answer of the GTM (a global transaction id, its decision)")
	f.StringVar(&o.hbaFile, "hba-file", "", "client authentication rules in pg_hba.conf syntax (default: trust on the Unix socket and loopback, scram-sha-256 elsewhere)")
	f.StringVar(&o.authFile, "auth-file", "", "userlist file (\"user\" \"password-or-verifier\" per line, mode 0600) to check passwords against instead of the datanodes' pg_authid")
	f.StringVar(&o.authUser, "auth-user", "", "superuser that reads pg_authid on the preferred datanode (default $PGUSER, else the OS user)")
	f.StringVar(&o.datanodePassfile, "datanode-passfile", "", "pgpass-style file (mode 0600) of passwords for connections to datanodes")
	f.StringVar(&o.sslCert, "ssl-cert-file", "", "server certificate (PEM) for TLS with clients")
	f.StringVar(&o.sslKey, "ssl-key-file", "", "private key (PEM, mode 0600) of --ssl-cert-file")
	f.StringVar(&o.sslCA, "ssl-ca-file", "", "CAs (PEM) that client certificates are checked against, when a client sends one")
	f.IntVar(&o.maxClientConn, "max-client-conn", server.DefaultMaxConnections, "client connections served at once; one more gets 53300 sorry, too many clients already")
	f.DurationVar(&o.authTimeout, "authentication-timeout", server.DefaultStartupTimeout, "how long a new client may take to send its startup packet and authenticate")
	f.StringVar(&o.adminUsers, "admin-users", "", "comma-separated roles that may use the admin console (database xlgo) besides superusers")
	f.Int64Var(&o.maxGatherBytes, "max-gather-bytes", executor.MaxGatherBytes, "the coordinator's memory budget for the rows of one statement (sorts, joins, aggregates it runs itself); past it the statement fails with 54000")
	return cmd
}

func run(logger *slog.Logger, o options) error {
	// SIGTERM: a graceful shutdown (transactions finish, bounded); SIGINT:
	// a fast one; SIGHUP: a reload. ctx ends the coordinator's background
	// work once the clients are gone.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
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
	co := engine.NewCoordinator(o.name, o.clusterName, nodes, gtm, logger)
	co.ReadGateWait, co.CommitGateWait, co.CommitPreparedWait = o.readGateWait, o.commitGateWait, o.commitPreparedWait
	co.GTMWait = o.gtmWait
	co.AdminUsers, co.Config = splitList(o.adminUsers), o.settings
	defer co.Pool.Close()
	if o.metricsListen != "" {
		if _, err := metrics.Serve(ctx, o.metricsListen, co.Metrics.Registry, o.pprof, logger); err != nil {
			return fmt.Errorf("metrics: cannot listen on %s: %w", o.metricsListen, err)
		}
	}
	authOpts, err := authOptions(o, co)
	if err != nil {
		return err
	}
	if gtm != nil {
		res := resolver.New(gtm, func() []resolver.Datanode {
			var out []resolver.Datanode
			for _, n := range nodes.Datanodes() {
				out = append(out, resolver.Datanode{Name: n.Name, Host: n.Host, Port: n.Port})
			}
			return out
		}, o.clusterName, o.resolveUser, logger.With("component", "resolver"))
		res.Grace = o.resolveGrace
		res.OnReport = co.Metrics.ResolverReport
		co.ResolveSoon = res.Kick
		co.ApplyCommit = res.CommitPrepared
		go res.Run(ctx, o.resolveInterval)
		co.StartFailover(ctx, engine.FailoverOptions{After: o.failoverAfter, Wait: o.failoverWait, User: o.resolveUser})
		go gtm.KeepLease(ctx, o.name, func() int {
			n := 0
			for _, x := range nodes.Nodes() {
				if !x.IsDatanode() {
					n++
				}
			}
			return n
		}, o.gtmFailoverAfter, func() {
			// The gtm answers again (a promoted standby): the prepared
			// transactions of commits its loss cut short are looked at
			// now, and once more when the undecided ones are past their grace.
			res.Kick()
			time.AfterFunc(o.resolveGrace/2, res.Kick)
			time.AfterFunc(o.resolveGrace+time.Second, res.Kick)
		}, logger.With("component", "gtm-lease"))
	}
	if err := startDeadlockDetector(ctx, o, nodes, logger.With("component", "deadlock")); err != nil {
		return err
	}
	var addrs []string
	for _, a := range strings.Split(o.listen, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	executor.MaxGatherBytes = o.maxGatherBytes
	dialect.MaxNesting = maxNesting(logger)
	srv := server.NewServer(co, server.Options{ListenAddrs: addrs, Port: o.port, UnixSocketDir: o.socketDir, Logger: logger,
		HBA: authOpts.HBA, Passwords: authOpts.Passwords, TLS: authOpts.TLS,
		MaxConnections: o.maxClientConn, StartupTimeout: o.authTimeout, Observer: co.Metrics})
	o.reload.logger, o.reload.srv, o.reload.co = logger, srv, co
	if sr, lv, err := o.reload.settings(); err != nil {
		return err
	} else {
		o.reload.apply(sr, lv)
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	logger.Info("coordinator listening", "port", o.port, "socket", srv.UnixSocketPath(), "gtm", o.gtmAddr,
		"hba", authOpts.HBA.Source, "tls", authOpts.TLS != nil)
	stopped := make(chan struct{})
	var stopOnce sync.Once
	shutdown := func(graceful bool) {
		stopOnce.Do(func() {
			go func() {
				defer close(stopped)
				if graceful {
					logger.Info("shutting down: no new clients; running transactions may finish", "within", o.shutdownWait)
					dctx, cancel := context.WithTimeout(context.Background(), o.shutdownWait)
					srv.Drain(dctx)
					cancel()
				} else {
					logger.Info("shutting down fast: open transactions roll back")
					srv.Close()
				}
			}()
		})
	}
	co.Shutdown = shutdown
	co.Reload = o.reload.reload
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()
	for {
		select {
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				logger.Info("SIGHUP: reloading the configuration")
				o.reload.reload()
			case syscall.SIGTERM:
				shutdown(true)
			default:
				shutdown(false)
			}
			continue
		case err := <-served:
			if err != nil {
				srv.Close()
				return err
			}
			shutdown(true) // the listeners closed: a shutdown runs already

		}
		break
	}
	<-stopped
	logger.Info("coordinator stopped")
	return nil
}

// maxNesting is how deep a statement may nest with the stack the threads
// that run PostgreSQL's parser get: glibc gives them the soft RLIMIT_STACK
// (2 MB when it is unlimited), and a level of the parser's recursion takes
// up to about 2 KB of it; a quarter of the stack is used at most.
func maxNesting(logger *slog.Logger) int {
	stack := uint64(2 << 20)
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_STACK, &rl); err == nil && rl.Cur != ^uint64(0) {
		stack = rl.Cur
	}
	n := min(dialect.MaxNesting, int(stack/8192))
	if n < dialect.MaxNesting {
		logger.Info("statements may nest less deep than usual: the thread stack is small", "stack_kb", stack>>10, "max_nesting", n)
	}
	return max(n, 16)
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

// authOptions loads the client authentication rules, the password source,
// the TLS certificate and the datanode passwords the flags name.
func authOptions(o options, co *engine.Coordinator) (server.Options, error) {
	var so server.Options
	var err error
	if o.hbaFile != "" {
		if so.HBA, err = auth.LoadHBA(o.hbaFile); err != nil {
			return so, err
		}
	} else {
		so.HBA = auth.DefaultHBA()
	}
	if o.authFile != "" {
		users, err := auth.LoadUserlist(o.authFile)
		if err != nil {
			return so, err
		}
		so.Passwords = server.UserlistSource{Users: users}
	} else {
		u := o.authUser
		if u == "" {
			u = resolver.DefaultUser()
		}
		so.Passwords = &engine.AuthidSource{Co: co, User: u}
	}
	switch {
	case o.sslCert != "" && o.sslKey != "":
		if so.TLS, err = auth.LoadServerTLS(o.sslCert, o.sslKey, o.sslCA); err != nil {
			return so, err
		}
	case o.sslCert != "" || o.sslKey != "" || o.sslCA != "":
		return so, errors.New("--ssl-cert-file and --ssl-key-file go together (and --ssl-ca-file needs them)")
	}
	if o.datanodePassfile != "" {
		pf, err := auth.LoadPassfile(o.datanodePassfile)
		if err != nil {
			return so, err
		}
		co.Pool.SetPassword(func(k pooler.Key, host string, port int) string {
			pw, _ := pf.Lookup(host, port, k.Database, k.User)
			return pw
		})
	}
	return so, nil
}
