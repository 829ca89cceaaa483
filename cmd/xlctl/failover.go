package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/xlgo/xlgo/cluster"
)

// newFailoverCmd is `xlctl failover gtm` and `xlctl failover datanode NAME`
// (pgxc_ctl's "failover gtm" and "failover datanode").
func newFailoverCmd(open func(bool) (*cluster.Cluster, error), stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "failover gtm | failover datanode NAME",
		Short: "Promote the gtm_standby, or a datanode's standby, in place of the one that failed",
		Long: `failover gtm stops the old gtm if it still runs on this host, promotes the gtm_standby of the
config (it serves at once; coordinators reconnect to it by themselves) and rewrites the config with
gtm and gtm_standby swapped: xlctl start then starts the old gtm as a standby of the new one.

failover datanode NAME stops datanode NAME where it can be reached, promotes its standby, repoints
every coordinator to it (ALTER NODE, pgxc_pool_reload) and rewrites the config with the standby as
datanode NAME, without a standby (xlctl add standby makes a new one). The prepared transactions of the
old datanode are on the standby; the coordinators finish them by the gtm's decisions.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := open(false)
			if err != nil {
				return err
			}
			switch {
			case args[0] == "gtm" && len(args) == 1:
				return c.FailoverGTM(cmd.Context())
			case args[0] == "datanode" && len(args) == 2:
				return c.FailoverDatanode(cmd.Context(), args[1])
			}
			return fmt.Errorf("failover %v: want failover gtm, or failover datanode NAME", args)
		},
	}
}

// newAddCmd is `xlctl add standby DATANODE ...` (pgxc_ctl's "add datanode slave").
func newAddCmd(open func(bool) (*cluster.Cluster, error)) *cobra.Command {
	add := &cobra.Command{Use: "add", Short: "Add a node to the running cluster"}
	var n cluster.Node
	sb := &cobra.Command{
		Use:   "standby DATANODE --host H --port P [--name NAME] [--dir DIR]",
		Short: "Make a synchronous streaming standby of a datanode (pg_basebackup) and add it to the config",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := open(false)
			if err != nil {
				return err
			}
			n.Of = args[0]
			if n.Name == "" {
				n.Name = args[0] + "_standby"
			}
			return c.AddStandby(cmd.Context(), n)
		},
	}
	f := sb.Flags()
	f.StringVar(&n.Name, "name", "", "the standby's name (default DATANODE_standby)")
	f.StringVar(&n.Host, "host", "", "the standby's host")
	f.IntVar(&n.Port, "port", 0, "the standby's port")
	f.StringVar(&n.Dir, "dir", "", "its data directory on its host (default HOME/NAME)")
	sb.MarkFlagRequired("host")
	sb.MarkFlagRequired("port")
	add.AddCommand(sb)

	var co cluster.Node
	coCmd := &cobra.Command{
		Use:   "coordinator NAME --host H --port P [--dir DIR]",
		Short: "Start a new coordinator with every node registered on it, and register it on the others",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := open(false)
			if err != nil {
				return err
			}
			co.Name = args[0]
			return c.AddCoordinator(cmd.Context(), co)
		},
	}
	cf := coCmd.Flags()
	cf.StringVar(&co.Host, "host", "", "the coordinator's host (its clients connect there)")
	cf.IntVar(&co.Port, "port", 0, "the coordinator's port")
	cf.StringVar(&co.Dir, "dir", "", "its data directory on its host (default HOME/NAME)")
	coCmd.MarkFlagRequired("host")
	coCmd.MarkFlagRequired("port")
	add.AddCommand(coCmd)
	add.AddCommand(addDatanodeCmd(open))
	return add
}

// newRejoinCmd is `xlctl rejoin datanode NAME`.
func newRejoinCmd(open func(bool) (*cluster.Cluster, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "rejoin datanode NAME",
		Short: "Make the former datanode NAME lost to its standby (kept fenced in the config) its standby",
		Long: `After a failover the config keeps the old datanode as NAME_fenced: it is not started and no
coordinator reaches it. rejoin stops it if it runs, rewinds it with pg_rewind from the datanode that
replaced it (or, when pg_rewind cannot, clones it anew with pg_basebackup), starts it as that
datanode's synchronous standby under the name NAME_standby, and registers it on every coordinator.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "datanode" {
				return fmt.Errorf("rejoin %s: only a datanode rejoins (xlctl rejoin datanode NAME)", args[0])
			}
			c, err := open(false)
			if err != nil {
				return err
			}
			return c.RejoinDatanode(cmd.Context(), args[1])
		},
	}
}
