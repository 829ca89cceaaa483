package executor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/xlgo/xlgo/planner"
	"github.com/xlgo/xlgo/pooler"
)

// ExplainOptions say what EXPLAIN shows.
type ExplainOptions struct {
	Analyze bool     // run the plan and show what happened
	Verbose bool     // show every datanode's own plan of its remote SQL
	Options []string // the EXPLAIN options for the datanodes ("COSTS false" ...)
	// NoTiming leaves the coordinator's times out (TIMING false), so that
	// the output is the same from run to run.
	NoTiming bool
}

// took says how long since start, unless timing is off.
func (o ExplainOptions) took(start time.Time) string {
	if o.NoTiming {
		return ""
	}
	return fmt.Sprintf(" in %.3f ms", float64(time.Since(start).Microseconds())/1000)
}

// Explain prints a distributed plan: its primitives, the nodes and remote
// SQL of each, and beneath them the datanodes' own plans (the first node's,
// or every node's when Verbose). With Analyze it runs the plan: remote
// statements under EXPLAIN ANALYZE on their nodes, and the coordinator's
// steps timed.
func Explain(ctx context.Context, p planner.Plan, b Backends, o ExplainOptions) ([]string, error) {
	more, err := explainRun(ctx, p, b, o, nil)
	if err != nil {
		return nil, err
	}
	return append(strings.Split(planner.Explain(p), "\n"), more...), nil
}

// explainRun gives the lines that follow a plan's own in EXPLAIN: the
// datanodes' plans and, with Analyze, what running it did. bd, when set, is
// the parameters its statements are sent.
func explainRun(ctx context.Context, p planner.Plan, b Backends, o ExplainOptions, bd *binding) ([]string, error) {
	var lines []string
	prefix := func(analyze bool) string {
		opts := append([]string(nil), o.Options...)
		if analyze {
			opts = append(opts, "ANALYZE true")
		}
		if len(opts) == 0 {
			return "EXPLAIN "
		}
		return "EXPLAIN (" + strings.Join(opts, ", ") + ") "
	}
	nodePlan := func(node, sql string, write bool, analyze bool, params [][]byte, oids []uint32) ([]string, error) {
		c, err := b.Conn(ctx, node, write)
		if err != nil {
			return nil, err
		}
		if bd != nil {
			params, oids = bd.forNode(node)
		}
		return explainOn(ctx, c, node, prefix(analyze)+sql, params, oids)
	}
	indent := func(ls []string, by string) []string {
		out := make([]string, len(ls))
		for i, l := range ls {
			out[i] = by + l
		}
		return out
	}
	switch p := p.(type) {
	case *planner.RemoteQuery:
		nodes := p.Nodes
		if !o.Verbose && !o.Analyze {
			nodes = nodes[:min(1, len(nodes))]
		}
		for _, n := range nodes {
			if o.Verbose || o.Analyze {
				lines = append(lines, "        datanode "+n+":")
			}
			ls, err := nodePlan(n, p.SQL[n], p.Write, o.Analyze, p.Params, p.ParamOIDs)
			if err != nil {
				return nil, err
			}
			lines = append(lines, indent(ls, "          ")...)
		}
	case *planner.GatherEval:
		if !o.Analyze {
			if o.Verbose {
				for _, in := range p.Inputs {
					for _, n := range in.Nodes {
						c, err := b.Conn(ctx, n, false)
						if err != nil {
							return nil, err
						}
						ls, err := explainOn(ctx, c, n, prefix(false)+in.SQL[n], nil, nil)
						if err != nil {
							return nil, err
						}
						lines = append(lines, "        "+in.Table+" on datanode "+n+":")
						lines = append(lines, indent(ls, "          ")...)
					}
				}
			}
			break
		}
		start := time.Now()
		arrays, counts, sql, err := pull(ctx, p, b)
		if err != nil {
			return nil, err
		}
		params, oids, err := finalParams(p, bd, arrays)
		if err != nil {
			return nil, err
		}
		for i, in := range p.Inputs {
			lines = append(lines, fmt.Sprintf("        %s: %d rows pulled from %s", in.Table, counts[i], strings.Join(in.Nodes, ",")))
		}
		lines = append(lines, fmt.Sprintf("        rows pulled%s; the coordinator's query on datanode %s:", o.took(start), p.Node))
		c, err := b.Conn(ctx, p.Node, false)
		if err != nil {
			return nil, err
		}
		ls, err := explainOn(ctx, c, p.Node, prefix(true)+sql, params, oids)
		if err != nil {
			return nil, err
		}
		lines = append(lines, indent(ls, "          ")...)
	case *planner.InsertRows:
		if o.Analyze {
			start := time.Now()
			tag, err := Run(ctx, p, b, nil)
			if err != nil {
				return nil, err
			}
			lines = append(lines, fmt.Sprintf("        %s%s", tag, o.took(start)))
		}
	case *planner.SubPlan:
		if !o.Analyze {
			break
		}
		start := time.Now()
		main, sbd, rows, err := runSubPlan(ctx, p, b)
		if err != nil {
			return nil, err
		}
		lines = append(lines, fmt.Sprintf("        subquery: %d rows%s; the statement ran with its value on (%s):", rows, o.took(start),
			strings.Join(planNodes(main), ",")))
		more, err := explainRun(ctx, main, b, o, sbd)
		if err != nil {
			return nil, err
		}
		lines = append(lines, indent(more, "  ")...)
	default:
		if o.Analyze {
			start := time.Now()
			op, t, err := openTree(ctx, p, b, bd)
			if err != nil {
				return nil, err
			}
			n := 0
			for {
				row, err := op.Next(ctx)
				if err != nil {
					op.Close()
					return nil, err
				}
				if row == nil {
					break
				}
				n++
			}
			if err := op.Close(); err != nil {
				return nil, err
			}
			lines = append(lines, fmt.Sprintf("        %d rows returned%s", n, o.took(start)))
			for _, s := range t.scans {
				lines = append(lines, fmt.Sprintf("        %s: %d rows from datanode %s", s.label, s.rows, s.node))
			}
		}
		if !o.Verbose {
			break
		}
		var scans []*planner.RemoteScan
		planner.WalkPlan(p, func(x planner.Plan) {
			if s, ok := x.(*planner.RemoteScan); ok {
				scans = append(scans, s)
			}
		})
		for _, s := range scans {
			for _, n := range s.Nodes {
				ls, err := nodePlan(n, s.SQL[n], false, o.Analyze, s.Params, s.ParamOIDs)
				if err != nil {
					return nil, err
				}
				lines = append(lines, "        "+s.Label+" on datanode "+n+":")
				lines = append(lines, indent(ls, "          ")...)
			}
		}
	}
	return lines, nil
}

// explainOn runs an EXPLAIN on one node and returns its lines.
func explainOn(ctx context.Context, c *pooler.Conn, node, sql string, params [][]byte, oids []uint32) ([]string, error) {
	col := &collector{}
	var err error
	if params != nil {
		rr := c.ExecParams(ctx, sql, params, oids, nil, nil)
		_, _, err = consume(&oneResult{rr: rr}, true, node, col, false, false)
	} else {
		_, _, err = exec(ctx, c, node, sql, col, false, false)
	}
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(col.rows))
	for _, r := range col.rows {
		out = append(out, string(r[0]))
	}
	return out, nil
}
