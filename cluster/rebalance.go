package cluster

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xlgo/xlgo/distribution"
)

// RebalanceOptions says what xlctl rebalance does.
type RebalanceOptions struct {
	Table  string // only this table (schema.name or name)
	Resume bool   // finish the moves cut short
	Abort  bool   // stop the moves cut short where they are
	Drain  string // move every table off this datanode (xlctl remove datanode)
	// Rate bounds the rows per second a move copies (0: no bound), so
	// that the clients' throughput dips less while it runs.
	Rate int
	// Progress hears how each table's move goes; nil prints lines.
	Progress Progress
}

// MoveProgress is how one table's move goes, as the coordinator reports it.
type MoveProgress struct {
	Phase        string
	BucketsDone  int
	BucketsTotal int
	Rows         int64
	MB           float64
	RowsPerSec   float64
}

// Progress hears a table's move progress; done is set once it is over.
type Progress func(table string, p MoveProgress, done bool)

// moveNotice is the coordinator's NOTICE of a move's progress.
var moveNotice = regexp.MustCompile(`^(.*): ([^;]*); (\d+)/(\d+) buckets switched, (\d+) rows \(([\d.]+) MB\) copied, (\d+) rows/s$`)

func parseMoveNotice(msg string) (string, MoveProgress, bool) {
	m := moveNotice.FindStringSubmatch(msg)
	if m == nil {
		return "", MoveProgress{}, false
	}
	var p MoveProgress
	p.Phase = m[2]
	p.BucketsDone, _ = strconv.Atoi(m[3])
	p.BucketsTotal, _ = strconv.Atoi(m[4])
	p.Rows, _ = strconv.ParseInt(m[5], 10, 64)
	p.MB, _ = strconv.ParseFloat(m[6], 64)
	rate, _ := strconv.ParseInt(m[7], 10, 64)
	p.RowsPerSec = float64(rate)
	return m[1], p, true
}

// Rebalance evens every hash table's buckets over the nodes of its group
// (the default group is every datanode; a table made TO NODE or TO GROUP
// keeps its nodes) and brings tables of other distributions of the default
// group to every datanode, through the first coordinator: ALTER TABLE ...
// TO NODE for each table that needs it. Hash tables move online; the others
// are rewritten, which blocks them while it runs.
func (c *Cluster) Rebalance(ctx context.Context, o RebalanceOptions) error {
	if len(c.Config.Coordinators) == 0 {
		return fmt.Errorf("rebalance: no coordinator in the config")
	}
	co := c.Config.Coordinators[0]
	if c.remote(co) {
		args := []string{rebalanceArg(o)}
		_, err := c.onHost(ctx, co, "rebalance", args...)
		return err
	}
	if o.Progress == nil {
		o.Progress = c.printProgress
	}
	conn, err := c.coordinatorConn(ctx, co, "postgres", nil)
	if err != nil {
		return err
	}
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datallowconn AND datname NOT IN ('template0', 'template1') ORDER BY datname")
	if err != nil {
		conn.Close(context.Background())
		return err
	}
	dbs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	conn.Close(context.Background())
	if err != nil {
		return err
	}
	var all []string
	for _, d := range c.Config.Datanodes {
		if !d.Fenced {
			all = append(all, d.Name)
		}
	}
	for _, db := range dbs {
		if err := c.rebalanceDB(ctx, co, db, all, o); err != nil {
			return fmt.Errorf("database %s: %w", db, err)
		}
	}
	return nil
}

// rebalanceArg and parseRebalanceArg carry the options to another host.
func rebalanceArg(o RebalanceOptions) string {
	return fmt.Sprintf("table=%s,resume=%t,abort=%t,drain=%s,rate=%d", o.Table, o.Resume, o.Abort, o.Drain, o.Rate)
}

func parseRebalanceArg(s string) RebalanceOptions {
	var o RebalanceOptions
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "table":
			o.Table = v
		case "resume":
			o.Resume = v == "true"
		case "abort":
			o.Abort = v == "true"
		case "drain":
			o.Drain = v
		case "rate":
			o.Rate, _ = strconv.Atoi(v)
		}
	}
	return o
}

// coordinatorConn connects to coordinator co's database db; notices go to
// onNotice.
func (c *Cluster) coordinatorConn(ctx context.Context, co Node, db string, onNotice func(*pgconn.Notice)) (*pgx.Conn, error) {
	cc, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable connect_timeout=10",
		c.connHost(co, RoleCoordinator), co.Port, c.ClientUser(), db))
	if err != nil {
		return nil, err
	}
	cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	cc.RuntimeParams["application_name"] = "xlctl"
	if onNotice != nil {
		cc.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { onNotice(n) }
	}
	return pgx.ConnectConfig(ctx, cc)
}

type tablePlacement struct {
	name, kind, group string
	nodes, target     []string
	bucketMap         string
}

func (c *Cluster) rebalanceDB(ctx context.Context, co Node, db string, all []string, o RebalanceOptions) error {
	var current string
	conn, err := c.coordinatorConn(ctx, co, db, func(n *pgconn.Notice) {
		if table, p, ok := parseMoveNotice(n.Message); ok {
			o.Progress(table, p, p.Phase == "done")
			return
		}
		c.say("%s: %s", current, n.Message)
	})
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if o.Rate > 0 {
		if _, err := conn.Exec(ctx, fmt.Sprintf("SET xlgo.rebalance_rate = %d", o.Rate)); err != nil {
			return err
		}
	}
	var ready bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('pgxc.pgxc_class') IS NOT NULL").Scan(&ready); err != nil || !ready {
		return err
	}
	rows, err := conn.Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname), p.pclocatortype::text, coalesce(to_jsonb(p)->>'pcgroup', ''),
		array_to_string(p.pcnodenames, ','), CASE WHEN jsonb_typeof(to_jsonb(p)->'pctarget') = 'array' THEN (SELECT string_agg(x, ',') FROM jsonb_array_elements_text(to_jsonb(p)->'pctarget') x) ELSE '' END,
		coalesce(array_to_string(p.pcbucketmap, ','), '')
		FROM pgxc.pgxc_class p JOIN pg_class c ON c.oid = p.pcrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname NOT LIKE 'pg\_temp\_%' ORDER BY 1`)
	if err != nil {
		return err
	}
	var tables []tablePlacement
	for rows.Next() {
		var t tablePlacement
		var nodes, target string
		if err := rows.Scan(&t.name, &t.kind, &t.group, &nodes, &target, &t.bucketMap); err != nil {
			rows.Close()
			return err
		}
		t.nodes = strings.Split(nodes, ",")
		if target != "" {
			t.target = strings.Split(target, ",")
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range tables {
		if o.Table != "" && o.Table != t.name && o.Table != strings.TrimPrefix(t.name, "public.") {
			continue
		}
		sql, err := rebalanceStatement(t, all, o)
		if err != nil {
			return err
		}
		if sql == "" {
			continue
		}
		current = t.name
		c.say("%s", sql)
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
	}
	return nil
}

// rebalanceStatement is what a table needs, or "".
func rebalanceStatement(t tablePlacement, all []string, o RebalanceOptions) (string, error) {
	nodeList := func(ns []string) string {
		var q []string
		for _, n := range ns {
			q = append(q, sqlIdent(n))
		}
		return "(" + strings.Join(q, ", ") + ")"
	}
	switch {
	case o.Abort:
		if t.target == nil {
			return "", nil
		}
		return "SELECT pgxc_rebalance_abort(" + sqlString(t.name) + ")", nil
	case o.Resume:
		if t.target == nil {
			return "", nil
		}
		return "ALTER TABLE " + t.name + " TO NODE " + nodeList(t.target), nil
	case t.target != nil:
		return "", fmt.Errorf("the move of %s to %v was cut short: xlctl rebalance --resume, or --abort", t.name, t.target)
	case o.Drain != "":
		if !slices.Contains(t.nodes, o.Drain) {
			return "", nil
		}
		if len(t.nodes) == 1 {
			return "", fmt.Errorf("%s lives on %s alone: move it first (ALTER TABLE %s TO NODE (...))", t.name, o.Drain, t.name)
		}
		return "ALTER TABLE " + t.name + " DELETE NODE (" + sqlIdent(o.Drain) + ")", nil
	}
	target := t.nodes
	if t.group == "" {
		target = all
	}
	if !sameNodes(t.nodes, target) || t.kind == "H" && !evenMap(t.bucketMap, len(t.nodes)) {
		return "ALTER TABLE " + t.name + " TO NODE " + nodeList(target), nil
	}
	return "", nil
}

func sameNodes(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// evenMap tells whether a bucket map (text, "" for the default) gives each
// of n nodes NumBuckets/n buckets or one more.
func evenMap(m string, n int) bool {
	if m == "" {
		return true
	}
	counts := make([]int, n)
	for _, p := range strings.Split(m, ",") {
		i, err := strconv.Atoi(p)
		if err != nil || i < 0 || i >= n {
			return false
		}
		counts[i]++
	}
	lo, hi := distribution.NumBuckets/n, (distribution.NumBuckets+n-1)/n
	for _, k := range counts {
		if k < lo || k > hi {
			return false
		}
	}
	return true
}

// printProgress writes a table's progress as plain lines.
func (c *Cluster) printProgress(table string, p MoveProgress, done bool) {
	c.say("%s: %s, %d/%d buckets, %d rows (%.1f MB), %.0f rows/s", table, p.Phase, p.BucketsDone, p.BucketsTotal, p.Rows, p.MB, p.RowsPerSec)
}

// Move is a redistribution in progress, as a coordinator's
// pgxc_rebalance_status shows it.
type Move struct {
	Database, Table, Target, Phase, Pair string
	BucketsDone, BucketsTotal            int
	Rows                                 int64
	Coordinator                          string
}

// Moves lists the moves in progress or cut short in every database, asked
// of every coordinator that runs on this host (a move runs on one); nil
// when none can be asked.
func (c *Cluster) Moves(ctx context.Context) []Move {
	var out []Move
	seen := map[string]bool{}
	for _, co := range c.Config.Coordinators {
		if c.remote(co) {
			continue
		}
		conn, err := c.coordinatorConn(ctx, co, "postgres", nil)
		if err != nil {
			continue
		}
		rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datallowconn AND datname NOT IN ('template0', 'template1') ORDER BY datname")
		var dbs []string
		if err == nil {
			dbs, _ = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		conn.Close(context.Background())
		for _, db := range dbs {
			dc, err := c.coordinatorConn(ctx, co, db, nil)
			if err != nil {
				continue
			}
			rows, err := dc.Query(ctx, `SELECT coalesce(coordinator, ''), table_name, coalesce(target_nodes, ''), phase, coalesce(source_node || ' -> ' || dest_node, ''),
				coalesce(buckets_done, 0), coalesce(buckets_total, 0), coalesce(rows_copied, 0) FROM pgxc_rebalance_status`)
			if err == nil {
				for rows.Next() {
					m := Move{Database: db}
					if rows.Scan(&m.Coordinator, &m.Table, &m.Target, &m.Phase, &m.Pair, &m.BucketsDone, &m.BucketsTotal, &m.Rows) != nil {
						continue
					}
					key := db + "." + m.Table
					if m.Coordinator == "" && seen[key] {
						continue // the coordinator that runs it said more
					}
					if m.Coordinator != "" {
						out = slices.DeleteFunc(out, func(x Move) bool { return x.Database+"."+x.Table == key })
					}
					seen[key] = true
					out = append(out, m)
				}
				rows.Close()
			}
			dc.Close(context.Background())
		}
	}
	return out
}
