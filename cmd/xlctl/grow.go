package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/xlgo/xlgo/cluster"
)

// addDatanodeCmd is `xlctl add datanode NAME --host H --port P` (pgxc_ctl's "add datanode master").
func addDatanodeCmd(open func(bool) (*cluster.Cluster, error)) *cobra.Command {
	var n, sb cluster.Node
	cmd := &cobra.Command{
		Use:   "datanode NAME --host H --port P [--dir DIR] [--standby-host H --standby-port P]",
		Short: "Make and start a new datanode with the cluster's roles, databases and schemas, and register it on every coordinator",
		Long: `Make and start a new datanode with the cluster's roles, databases and schemas, and register it on every coordinator.
New tables use it at once; existing tables stay where they are until moved (xlctl rebalance).
Run no DDL while it is added.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := open(false)
			if err != nil {
				return err
			}
			n.Name = args[0]
			var standby *cluster.Node
			if sb.Host != "" || sb.Port != 0 {
				if sb.Host == "" || sb.Port == 0 {
					return fmt.Errorf("--standby-host and --standby-port go together")
				}
				standby = &sb
			}
			return c.AddDatanode(cmd.Context(), n, standby)
		},
	}
	f := cmd.Flags()
	f.StringVar(&n.Host, "host", "", "the datanode's host")
	f.IntVar(&n.Port, "port", 0, "the datanode's port")
	f.StringVar(&n.Dir, "dir", "", "its data directory on its host (default HOME/NAME)")
	f.StringVar(&sb.Host, "standby-host", "", "also make a synchronous standby on this host")
	f.IntVar(&sb.Port, "standby-port", 0, "the standby's port")
	f.StringVar(&sb.Dir, "standby-dir", "", "the standby's data directory")
	cmd.MarkFlagRequired("host")
	cmd.MarkFlagRequired("port")
	return cmd
}

// newRemoveCmd is `xlctl remove datanode NAME`.
func newRemoveCmd(open func(bool) (*cluster.Cluster, error), stdout io.Writer) *cobra.Command {
	rm := &cobra.Command{Use: "remove", Short: "Take a node out of the running cluster"}
	var rate int
	dn := &cobra.Command{
		Use:   "datanode NAME",
		Short: "Move every table's rows off a datanode (online for hash tables), unregister it and stop it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := open(false)
			if err != nil {
				return err
			}
			bar := newProgressBar(stdout)
			defer bar.finish()
			return c.RemoveDatanode(cmd.Context(), args[0], bar.update, rate)
		},
	}
	dn.Flags().IntVar(&rate, "rate", 0, "rows per second a move copies at most (0: no bound)")
	rm.AddCommand(dn)
	return rm
}

// newRebalanceCmd is `xlctl rebalance`.
func newRebalanceCmd(open func(bool) (*cluster.Cluster, error), stdout io.Writer) *cobra.Command {
	var o cluster.RebalanceOptions
	cmd := &cobra.Command{
		Use:   "rebalance [--table T] [--resume | --abort]",
		Short: "Even each table's buckets over the nodes of its group (every datanode, unless made TO NODE or TO GROUP)",
		Long: `Even each hash table's buckets over the nodes of its group, online, and bring tables of other
distributions in the default group to every datanode (those are rewritten, which blocks them while it runs).
A move cut short (a crash of its coordinator or a datanode) is finished with --resume or stopped where it
is with --abort; either leaves every row on exactly one node.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Resume && o.Abort {
				return fmt.Errorf("--resume and --abort exclude each other")
			}
			c, err := open(false)
			if err != nil {
				return err
			}
			bar := newProgressBar(stdout)
			defer bar.finish()
			o.Progress = bar.update
			return c.Rebalance(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Table, "table", "", "only this table")
	f.BoolVar(&o.Resume, "resume", false, "finish the moves cut short")
	f.BoolVar(&o.Abort, "abort", false, "stop the moves cut short where they are")
	f.IntVar(&o.Rate, "rate", 0, "rows per second a move copies at most, so that clients feel it less (0: no bound)")
	return cmd
}

// progressBar draws a move's progress: a bar redrawn in place on a
// terminal, a line every few seconds elsewhere.
type progressBar struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	last     time.Time
	drawn    bool
	start    time.Time
	table    string
	lastLine string
}

func newProgressBar(w io.Writer) *progressBar {
	b := &progressBar{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			b.tty = true
		}
	}
	return b
}

func (b *progressBar) update(table string, p cluster.MoveProgress, done bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if table != b.table {
		b.table, b.start = table, time.Now()
	}
	frac := 0.0
	if p.BucketsTotal > 0 {
		frac = float64(p.BucketsDone) / float64(p.BucketsTotal)
	}
	if done {
		frac = 1
	}
	eta := "-"
	if el := time.Since(b.start); frac > 0 && frac < 1 {
		eta = (time.Duration(float64(el) * (1 - frac) / frac)).Round(time.Second).String()
	}
	const width = 24
	fill := int(frac * width)
	line := fmt.Sprintf("%s [%s%s] %3.0f%% %d/%d buckets, %d rows, %.1f MB, %.0f rows/s, ETA %s (%s)",
		table, strings.Repeat("#", fill), strings.Repeat("-", width-fill), frac*100, p.BucketsDone, p.BucketsTotal, p.Rows, p.MB, p.RowsPerSec, eta, p.Phase)
	if b.tty {
		fmt.Fprintf(b.w, "\r\033[K%s", line)
		b.drawn = true
		if done {
			fmt.Fprintln(b.w)
			b.drawn = false
		}
		return
	}
	if done || time.Since(b.last) >= 5*time.Second || strings.HasPrefix(p.Phase, "switched") && b.lastLine == "" {
		fmt.Fprintln(b.w, line)
		b.last, b.lastLine = time.Now(), line
	}
}

func (b *progressBar) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
}

// stepBar shows the steps of a long verb (init) as a bar at the bottom of a
// terminal, under the verb's own lines; elsewhere it adds nothing to them.
type stepBar struct {
	mu    sync.Mutex
	w     io.Writer
	line  string // the bar drawn now, "" for none
	start time.Time
}

// newStepBar returns the bar and the writer the verb's lines go through,
// or nil and w when w is not a terminal.
func newStepBar(w io.Writer) (*stepBar, io.Writer) {
	if !newProgressBar(w).tty {
		return nil, w
	}
	b := &stepBar{w: w, start: time.Now()}
	return b, b
}

// Write prints the verb's lines above the bar.
func (b *stepBar) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.line != "" {
		fmt.Fprint(b.w, "\r\033[K")
	}
	n, err := b.w.Write(p)
	if b.line != "" {
		fmt.Fprint(b.w, b.line)
	}
	return n, err
}

// step is Cluster.Steps.
func (b *stepBar) step(name string, i, total int, done bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := i - 1
	if done {
		n = i
	}
	const width = 24
	fill := n * width / max(total, 1)
	b.line = fmt.Sprintf("[%s%s] %d/%d %s (%s)", strings.Repeat("#", fill), strings.Repeat("-", width-fill), n, total, name,
		time.Since(b.start).Round(100*time.Millisecond))
	fmt.Fprint(b.w, "\r\033[K"+b.line)
	if done && i == total {
		fmt.Fprintln(b.w)
		b.line = ""
	}
}

// finish ends the bar's line.
func (b *stepBar) finish() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.line != "" {
		fmt.Fprintln(b.w)
		b.line = ""
	}
}
