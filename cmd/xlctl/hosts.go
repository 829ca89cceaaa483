package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/xlgo/xlgo/cluster"
)

// newDeployCmd is `xlctl deploy`: pgxc_ctl's "deploy all".
func newDeployCmd(open func(bool) (*cluster.Cluster, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "deploy",
		Short: "Copy xlctl, gtm and coordinator to the config's bin_dir on every other host that lacks them",
		Long: `deploy copies the xlgo binaries (xlctl, gtm and coordinator, from --bin) over ssh to bin_dir
(default HOME/bin) on every host of the config that is not this one, where they are missing or
differ. init does it too. PostgreSQL itself must be installed on the datanodes' hosts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := open(false)
			if err != nil {
				return err
			}
			return c.Deploy(cmd.Context())
		},
	}
}

// newNodeCmd is `xlctl node VERB NAME`: what xlctl runs over ssh on the host
// of a node of another host's cluster.
func newNodeCmd(open func(bool) (*cluster.Cluster, error), stdout io.Writer) *cobra.Command {
	var client string
	cmd := &cobra.Command{
		Use:   "node VERB NAME [ARG]",
		Short: "Work on one node of the config on this host (what xlctl runs over ssh on the nodes' hosts)",
		Long: fmt.Sprintf(`node does one step for one node of the config, on this host, as xlctl on another host asks
for it over ssh (usually with --config - and the config on standard input). VERB is one of
%s; ARG is the stop mode, or the database createdb makes.`, strings.Join(cluster.NodeVerbs, ", ")),
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := open(false)
			if err != nil {
				return err
			}
			c.ClientRole = client
			arg := ""
			if len(args) == 3 {
				arg = args[2]
			}
			return c.NodeVerb(cmd.Context(), stdout, args[0], args[1], arg)
		},
	}
	cmd.Flags().StringVar(&client, "client-user", "", "the role xlctl connects to the cluster as")
	return cmd
}

// printStandbys is the standby part of xlctl status: how each datanode
// standby streams, as its datanode sees it.
func printStandbys(ctx context.Context, w io.Writer, c *cluster.Cluster) {
	list := c.Standbys(ctx)
	if len(list) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STANDBY\tOF\tSTATE\tSYNC\tREPLAY LAG\tBYTES BEHIND")
	for _, s := range list {
		state, sync, lag, behind := "not streaming", "-", "-", "-"
		switch {
		case s.Err != nil:
			state = "unknown: " + s.Err.Error()
		case s.State != "":
			state, sync, lag, behind = s.State, s.SyncState, s.ReplayLag, strconv.FormatInt(s.Behind, 10)
			if lag == "" {
				lag = "0"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Of, state, sync, lag, behind)
	}
	tw.Flush()
}

// printMoves shows the redistributions in progress (xlctl status).
func printMoves(ctx context.Context, w io.Writer, c *cluster.Cluster) {
	list := c.Moves(ctx)
	if len(list) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MOVING TABLE\tDATABASE\tTO NODES\tCOORDINATOR\tPHASE\tPAIR\tBUCKETS\tROWS COPIED")
	for _, m := range list {
		coord, pair, buckets, rows := m.Coordinator, m.Pair, fmt.Sprintf("%d/%d", m.BucketsDone, m.BucketsTotal), strconv.FormatInt(m.Rows, 10)
		if coord == "" {
			coord = "-"
		}
		if m.BucketsTotal == 0 {
			buckets, rows = "-", "-"
		}
		if pair == "" {
			pair = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Table, m.Database, m.Target, coord, m.Phase, pair, buckets, rows)
	}
	tw.Flush()
	if slices.ContainsFunc(list, func(m cluster.Move) bool { return m.Coordinator == "" || strings.Contains(m.Phase, "cut short") }) {
		fmt.Fprintln(w, "A move with no coordinator runs elsewhere or was cut short: xlctl rebalance --resume (or --abort) finishes it.")
	}
}

// printHosts lists the nodes of each host (xlctl status), with how many of
// them run.
func printHosts(w io.Writer, c *cluster.Cluster, st []cluster.ProcessStatus) {
	type host struct {
		nodes   []string
		running int
	}
	hosts := map[string]*host{}
	var order []string
	for _, p := range st {
		h, _, err := net.SplitHostPort(p.Addr)
		if err != nil {
			h = p.Addr
		}
		if hosts[h] == nil {
			hosts[h] = &host{}
			order = append(order, h)
		}
		hosts[h].nodes = append(hosts[h].nodes, p.Name+" ("+p.Role+")")
		if p.Running {
			hosts[h].running++
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tRUNNING\tNODES")
	for _, h := range order {
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\n", h, hosts[h].running, len(hosts[h].nodes), strings.Join(hosts[h].nodes, ", "))
	}
	tw.Flush()
}

// printGTMStandby shows how far the gtm standby is behind (its metrics).
func printGTMStandby(ctx context.Context, w io.Writer, c *cluster.Cluster) {
	l := c.GTMStandby(ctx)
	if !l.HasStandby {
		return
	}
	switch {
	case l.Err != nil:
		fmt.Fprintf(w, "\nGTM standby %s: lag unknown (%v)\n", l.StandbyName, l.Err)
	case !l.Connected:
		fmt.Fprintf(w, "\nGTM standby %s: not connected to the gtm\n", l.StandbyName)
	default:
		fmt.Fprintf(w, "\nGTM standby %s: connected, %d bytes behind (%.3f s)\n", l.StandbyName, l.Bytes, l.Seconds)
	}
}

// printPools shows each coordinator's clients and datanode backends
// (active/idle/waiting), read from its metrics.
func printPools(ctx context.Context, w io.Writer, c *cluster.Cluster) {
	pools := c.Pools(ctx)
	if len(pools) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "COORDINATOR\tCLIENTS"
	for _, dn := range c.Config.Datanodes {
		head += "\t" + strings.ToUpper(dn.Name) + " A/I/W"
	}
	fmt.Fprintln(tw, head)
	for _, p := range pools {
		if p.Err != nil {
			fmt.Fprintf(tw, "%s\tunknown: %v\n", p.Name, p.Err)
			continue
		}
		line := fmt.Sprintf("%s\t%d", p.Name, p.Clients)
		for _, dn := range c.Config.Datanodes {
			b := p.Backends[dn.Name]
			line += fmt.Sprintf("\t%d/%d/%d", b[0], b[1], b[2])
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
}
