package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/xlgo/xlgo/cluster"
)

// newFailoverCmd is `xlctl failover gtm`: promote the GTM standby (pgxc_ctl's
// "failover gtm").
func newFailoverCmd(open func(bool) (*cluster.Cluster, error), stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "failover gtm",
		Short: "Promote the gtm_standby to be the gtm; the old gtm becomes its standby in the config",
		Long: `failover gtm stops the old gtm if it still runs on this host, promotes the gtm_standby of the
config (it serves at once; coordinators reconnect to it by themselves) and rewrites the config with
gtm and gtm_standby swapped: xlctl start then starts the old gtm as a standby of the new one.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "gtm" {
				return fmt.Errorf("failover %s: only the gtm can fail over (xlctl failover gtm)", args[0])
			}
			c, err := open(false)
			if err != nil {
				return err
			}
			return c.FailoverGTM(cmd.Context())
		},
	}
}
