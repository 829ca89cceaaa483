// Command xlctl is the cluster tool of xlgo (the pgxc_ctl of Postgres-XL):
// init, start, stop, status, clean and register for a cluster described by
// one config file in a home directory.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unsafe"

	"github.com/spf13/cobra"

	"github.com/xlgo/xlgo/cluster"
)

type globals struct {
	home   string
	config string
	bin    string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot(os.Stdin, os.Stdout).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "xlctl:", err)
		os.Exit(1)
	}
}

func defaultHome() string {
	if h := os.Getenv("XLGO_HOME"); h != "" {
		return h
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, "xlgo")
	}
	return "xlgo"
}

func defaultBin() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return filepath.Dir(exe)
}

func newRoot(stdin io.Reader, stdout io.Writer) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "xlctl",
		Short:         "Set up and run an xlgo cluster: gtm, coordinators and PostgreSQL datanodes",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.home, "home", defaultHome(), "cluster home directory (env XLGO_HOME)")
	pf.StringVar(&g.config, "config", "", "config file (default HOME/"+cluster.ConfigFileName+"; - reads it from standard input)")
	pf.StringVar(&g.bin, "bin", defaultBin(), "directory of the gtm and coordinator binaries")

	// open builds the Cluster; withDefault lets init fall back to the reference topology.
	open := func(withDefault bool) (*cluster.Cluster, error) {
		home, err := filepath.Abs(g.home)
		if err != nil {
			return nil, err
		}
		c := &cluster.Cluster{Home: home, BinDir: g.bin, Out: stdout}
		path := g.config
		if path == "-" { // xlctl on another host sends it (xlctl node)
			data, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("read the config from standard input: %w", err)
			}
			if c.Config, err = cluster.ParseConfig(data); err != nil {
				return nil, fmt.Errorf("config from standard input: %w", err)
			}
			return c, nil
		}
		if path == "" {
			path = c.ConfigPath()
			if _, err := os.Stat(path); err != nil {
				if !withDefault {
					return nil, fmt.Errorf("no cluster config at %s: run xlctl init, or pass --home or --config", path)
				}
				c.Config = cluster.DefaultConfig()
				return c, nil
			}
		}
		if c.Config, err = cluster.LoadConfig(path); err != nil {
			return nil, err
		}
		if c.ConfigFile, err = filepath.Abs(path); err != nil {
			return nil, err
		}
		return c, nil
	}

	var initTLS, initMonitoring bool
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Create the cluster (config, initdb of every datanode), start it and register the nodes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := open(true)
			if err != nil {
				return err
			}
			c.TLS = initTLS
			c.ClientDatabase = true
			if initMonitoring && c.Config.Metrics.PrometheusPort == 0 {
				c.Config.Metrics.PrometheusPort = cluster.DefaultPrometheusPort
			}
			bar, out := newStepBar(stdout)
			if bar != nil {
				c.Out, c.Steps = out, bar.step
			}
			err = c.Init(cmd.Context())
			bar.finish()
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Cluster %s is up in %s.\n", c.Config.ClusterName, c.Home)
			printConnect(stdout, c)
			if initTLS {
				fmt.Fprintf(stdout, "TLS: sslmode=verify-full works with sslrootcert=%s\n", c.CACertPath())
			}
			if addr := c.PrometheusAddr(); addr != "" {
				fmt.Fprintf(stdout, "Prometheus: http://%s (targets: http://%s/targets)\n", addr, addr)
			}
			return nil
		},
	}
	initCmd.Flags().BoolVar(&initMonitoring, "monitoring", false, "also run Prometheus (Debian's prometheus package) on 127.0.0.1:9090, scraping every gtm and coordinator (config: metrics.prometheus_port)")
	initCmd.Flags().BoolVar(&initTLS, "tls", false, "make a self-signed CA and server certificate in HOME/tls and offer TLS to clients")
	root.AddCommand(initCmd)

	root.AddCommand(&cobra.Command{
		Use:   "start",
		Short: "Start the datanodes, the gtm and the coordinators (running ones are left alone)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := open(false)
			if err != nil {
				return err
			}
			if err := c.Start(cmd.Context()); err != nil {
				return err
			}
			printConnect(stdout, c)
			return nil
		},
	})

	var mode string
	stopCmd := &cobra.Command{
		Use:   "stop",
		Short: "Stop the coordinators, the gtm and the datanodes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := open(false)
			if err != nil {
				return err
			}
			return c.Stop(cmd.Context(), mode)
		},
	}
	stopCmd.Flags().StringVarP(&mode, "mode", "m", "fast", "shutdown mode: smart (coordinators let open transactions finish), fast (they roll back) or immediate")
	root.AddCommand(stopCmd)

	root.AddCommand(&cobra.Command{
		Use:   "reload",
		Short: "Put coordinator_settings and the auth section of the config in force on every coordinator, without dropping clients (SIGHUP)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := open(false)
			if err != nil {
				return err
			}
			return c.Reload(cmd.Context())
		},
	})

	var inDoubtOnly bool
	statusCmd := &cobra.Command{
		Use:   "status",
		Short: "The topology: each process (role, address, state), the hosts, standbys and their lag, the coordinators' pools, moves and in-doubt transactions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := open(false)
			if err != nil {
				return err
			}
			if inDoubtOnly {
				return printInDoubt(cmd.Context(), stdout, c)
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tADDRESS\tPID\tSTATE\tLOG")
			var unknown []string
			running := false
			for _, p := range st {
				pid, state := "-", "stopped"
				switch {
				case p.Err != "":
					state = "unknown"
					unknown = append(unknown, p.Name+": "+p.Err)
				case p.Running:
					pid, state = strconv.Itoa(p.Pid), "running"
					running = running || p.Role == cluster.RoleDatanode
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Role, p.Addr, pid, state, p.Log)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, u := range unknown {
				fmt.Fprintln(stdout, u)
			}
			printHosts(stdout, c, st)
			printStandbys(cmd.Context(), stdout, c)
			if running {
				printGTMStandby(cmd.Context(), stdout, c)
				printPools(cmd.Context(), stdout, c)
				printMoves(cmd.Context(), stdout, c)
			}
			if !running {
				return nil
			}
			if host := c.TrustedHost(); host != "" {
				return c.RunXlctl(cmd.Context(), host, stdout, "status", "--in-doubt")
			}
			return printInDoubt(cmd.Context(), stdout, c)
		},
	}
	statusCmd.Flags().BoolVar(&inDoubtOnly, "in-doubt", false, "show only the in-doubt transactions")
	root.AddCommand(statusCmd)

	var yes bool
	cleanCmd := &cobra.Command{
		Use:   "clean",
		Short: "Stop the cluster and remove its data directories, logs and pid files (the config stays)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := open(false)
			if err != nil {
				return err
			}
			if !yes {
				if !isTerminal(stdin) {
					return errors.New("clean removes all data of the cluster; pass --yes to confirm when not on a terminal")
				}
				fmt.Fprintf(stdout, "Remove all data, logs and pid files of the cluster in %s? [y/N] ", c.Home)
				answer, _ := bufio.NewReader(stdin).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
					return errors.New("clean cancelled")
				}
			}
			return c.Clean(cmd.Context())
		},
	}
	cleanCmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	root.AddCommand(cleanCmd)

	var wait time.Duration
	regCmd := &cobra.Command{
		Use:   "register",
		Short: "Only register the nodes (CREATE NODE ...; SELECT pgxc_pool_reload()) on every coordinator of the config",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := open(false)
			if err != nil {
				return err
			}
			c.ReadyTimeout = wait
			if err := c.WaitCoordinators(cmd.Context()); err != nil {
				return err
			}
			return c.Register(cmd.Context())
		},
	}
	regCmd.Flags().DurationVar(&wait, "wait", 60*time.Second, "how long to wait for the coordinators to answer")
	root.AddCommand(regCmd)
	root.AddCommand(newDeployCmd(open))
	root.AddCommand(newAddCmd(open))
	root.AddCommand(newRemoveCmd(open, stdout))
	root.AddCommand(newRebalanceCmd(open, stdout))
	root.AddCommand(newRejoinCmd(open))
	root.AddCommand(newNodeCmd(open, stdout))
	root.AddCommand(newResolveCmd(open, stdout))
	root.AddCommand(newFailoverCmd(open, stdout))
	return root
}

func printConnect(w io.Writer, c *cluster.Cluster) {
	fmt.Fprintf(w, "Connect with: %s\n", c.ConnectHint())
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	var t syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return errno == 0
}
