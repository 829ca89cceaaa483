package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/xlgo/xlgo/cluster"
	"github.com/xlgo/xlgo/resolver"
)

// newResolveCmd is `xlctl resolve`: finish in-doubt transactions now (as
// pgxc_clean did for Postgres-XL), or one gid by hand.
func newResolveCmd(open func(bool) (*cluster.Cluster, error), stdout io.Writer) *cobra.Command {
	var gid string
	var commit, abort, force bool
	cmd := &cobra.Command{
		Use:   "resolve",
		Short: "Finish in-doubt two-phase transactions by the GTM's decision log (or one --gid by hand)",
		Long: `Without --gid: commit or roll back every prepared transaction of the cluster on every datanode
by the GTM's decision; an undecided one is aborted at once (no grace period), so run it when no
coordinator is in the middle of committing, or let the coordinators' own resolvers do it.
With --gid G --commit or --abort: finish that transaction on every datanode holding it; refused
when the GTM's decision says otherwise, unless --force.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if gid == "" && (commit || abort || force) {
				return errors.New("--commit, --abort and --force go with --gid")
			}
			if gid != "" && commit == abort {
				return errors.New("--gid needs exactly one of --commit and --abort")
			}
			c, err := open(false)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if host := c.TrustedHost(); host != "" { // the datanodes trust their coordinators' hosts
				args := []string{"resolve"}
				if gid != "" {
					args = append(args, "--gid", gid, fmt.Sprintf("--commit=%t", commit), fmt.Sprintf("--abort=%t", abort), fmt.Sprintf("--force=%t", force))
				}
				return c.RunXlctl(ctx, host, stdout, args...)
			}
			r, closeFn, gtmErr := c.Resolver(ctx)
			defer closeFn()
			if gtmErr != nil && !(gid != "" && force) {
				return fmt.Errorf("resolving needs the gtm's decisions: %w", gtmErr)
			}
			var rep resolver.Report
			if gid != "" {
				rep, err = r.Resolve(ctx, gid, commit, force)
			} else {
				r.Grace = 0
				rep, err = r.RunOnce(ctx)
			}
			printReport(stdout, rep)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&gid, "gid", "", "the one prepared transaction to finish")
	f.BoolVar(&commit, "commit", false, "commit --gid")
	f.BoolVar(&abort, "abort", false, "roll back --gid")
	f.BoolVar(&force, "force", false, "act even against the GTM's decision (or without the GTM)")
	return cmd
}

func printReport(w io.Writer, rep resolver.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(rep.Actions) > 0 {
		fmt.Fprintln(tw, "GID\tNODE\tDATABASE\tAGE\tDECISION\tDONE")
		for _, a := range rep.Actions {
			did := string(a.Outcome)
			if a.LoggedAbort {
				did += " (abort decision logged)"
			}
			if a.Err != nil {
				did += ": " + a.Err.Error()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.GID, a.Node, a.Database, age(a.Age), a.Decision, did)
		}
	}
	tw.Flush()
	for _, g := range rep.Forgotten {
		fmt.Fprintf(w, "Decision for %s forgotten at the gtm.\n", g)
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "Problem: %v\n", p)
	}
	if len(rep.Actions) == 0 {
		fmt.Fprintln(w, "No in-doubt transactions.")
	}
}

// printInDoubt is the in-doubt part of `xlctl status`, shown when a datanode runs
// (and all of `xlctl status --in-doubt`).
func printInDoubt(ctx context.Context, w io.Writer, c *cluster.Cluster) error {
	list, problems := c.InDoubt(ctx)
	fmt.Fprintln(w)
	if len(list) == 0 {
		fmt.Fprintln(w, "No in-doubt transactions.")
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "IN-DOUBT GID\tNODE\tDATABASE\tAGE\tGTM DECISION")
		for _, d := range list {
			dec := d.Decision.String()
			if d.DecisionErr != nil {
				dec = "? (gtm unreachable)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.GID, d.Node, d.Database, age(d.Age), dec)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, p := range problems {
		fmt.Fprintf(w, "Problem: %v\n", p)
	}
	return nil
}

func age(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
