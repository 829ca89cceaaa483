package deadlock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Node is a coordinator or a datanode the detector asks.
type Node struct {
	Name string
	Host string
	Port int
}

// Detector finds and breaks distributed deadlocks, one round per interval.
// The detectors of several coordinators may run at once: they pick the same
// victims, and with Self set each cancels only its own coordinator's, so no
// victim is cancelled twice. Each confirms a cycle before it cancels anything.
type Detector struct {
	// Self, when set, is the name of the detector's coordinator: the detector
	// then cancels only victims that are sessions of Self, and leaves the
	// others to their coordinators' detectors.
	Self string
	// Coordinators and Datanodes list the nodes to ask (each round).
	Coordinators func() []Node
	Datanodes    func() []Node
	// User is the role to connect as, to database postgres.
	User string
	// Password, when set, gives the password for a connection.
	Password func(host string, port int, database, user string) string
	// Timeout bounds each connection attempt and query (default 5s).
	Timeout time.Duration
	Logger  *slog.Logger

	mu     sync.Mutex
	conns  map[string]*pgconn.PgConn // "C name" / "D name" -> open connection
	failed map[string]bool           // nodes whose last query failed (logged once)
}

// waitsQuery lists the backends of a datanode that wait for a lock and the
// backends they wait for (pg_stat_activity covers every database).
const waitsQuery = "SELECT pid, pg_blocking_pids(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"

// Run runs a round every interval until ctx ends.
func (d *Detector) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	defer d.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := d.RunOnce(ctx); err != nil && ctx.Err() == nil {
			d.logger().Warn("deadlock detection round failed", "err", err)
		}
	}
}

// Close closes the detector's connections.
func (d *Detector) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, c := range d.conns {
		c.Close(context.Background())
		delete(d.conns, k)
	}
}

// RunOnce looks for distributed deadlocks and cancels one victim per cycle. It
// returns the cycles whose victims it asked to cancel.
func (d *Detector) RunOnce(ctx context.Context) ([]Cycle, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cycles, err := d.collect(ctx)
	if err != nil || len(cycles) == 0 {
		return nil, err
	}
	// The waits and the session list are not one snapshot: a backend may have
	// changed hands in between. Look again and act only on victims of cycles
	// seen both times.
	first := map[TxID]bool{}
	for _, c := range cycles {
		first[c.Victim] = true
	}
	again, err := d.collect(ctx)
	if err != nil {
		return nil, err
	}
	var done []Cycle
	for _, c := range again {
		if !first[c.Victim] {
			continue
		}
		if d.Self != "" && c.Victim.Coordinator != d.Self {
			d.logger().Debug("distributed deadlock left to the victim's coordinator", "cycle", c.String(), "victim", c.Victim.String())
			continue
		}
		ok, err := d.cancel(ctx, c.Victim)
		d.logger().Warn("distributed deadlock detected", "cycle", c.String(), "datanodes", strings.Join(c.Nodes, ","),
			"victim", c.Victim.String(), "cancelled", ok, "err", err)
		if err == nil {
			done = append(done, c)
		}
	}
	return done, nil
}

// collect reads the lock waits of every datanode and, when they could form a
// distributed cycle, the backends of every coordinator's sessions; it returns
// the distributed cycles of the resulting graph.
func (d *Detector) collect(ctx context.Context) ([]Cycle, error) {
	var waits []Wait
	waitingNodes := map[string]bool{}
	for _, n := range d.datanodes() {
		rows, err := d.query(ctx, "D", n, waitsQuery)
		if err != nil {
			continue
		}
		for _, r := range rows {
			if len(r) != 2 {
				continue
			}
			pid, err := strconv.Atoi(r[0])
			if err != nil {
				continue
			}
			blockers, err := parsePIDArray(r[1])
			if err != nil || len(blockers) == 0 {
				continue
			}
			waits = append(waits, Wait{Node: n.Name, PID: pid, BlockedBy: blockers})
			waitingNodes[n.Name] = true
		}
	}
	if len(waitingNodes) < 2 {
		return nil, nil // a distributed cycle waits on two datanodes at least
	}
	var backends []Backend
	for _, n := range d.coordinators() {
		rows, err := d.query(ctx, "C", n, "SELECT pgxc_backends()")
		if err != nil {
			continue
		}
		for _, r := range rows {
			if len(r) != 1 {
				continue
			}
			b, err := parseBackend(n.Name, r[0])
			if err != nil {
				d.logger().Warn("deadlock detector: bad pgxc_backends row", "coordinator", n.Name, "row", r[0], "err", err)
				continue
			}
			backends = append(backends, b)
		}
	}
	return FindCycles(BuildGraph(backends, waits)), nil
}

// cancel asks the victim's coordinator to cancel its running statement.
func (d *Detector) cancel(ctx context.Context, victim TxID) (bool, error) {
	for _, n := range d.coordinators() {
		if n.Name != victim.Coordinator {
			continue
		}
		rows, err := d.query(ctx, "C", n, fmt.Sprintf("SELECT pgxc_cancel_for_deadlock(%d)", victim.Session))
		if err != nil {
			return false, err
		}
		return len(rows) == 1 && len(rows[0]) == 1 && rows[0][0] == "t", nil
	}
	return false, fmt.Errorf("coordinator %s is not in the node list", victim.Coordinator)
}

// query runs sql on a node with the simple protocol and returns its rows as
// text. A failure is logged the first time in a row and drops the connection.
func (d *Detector) query(ctx context.Context, kind string, n Node, sql string) ([][]string, error) {
	key := kind + " " + n.Name
	rows, err := d.queryConn(ctx, key, n, sql)
	if err != nil {
		if c := d.conns[key]; c != nil {
			c.Close(context.Background())
			delete(d.conns, key)
		}
		if !d.failed[key] && ctx.Err() == nil {
			d.logger().Warn("deadlock detector cannot query a node", "node", n.Name, "err", err)
		}
		if d.failed == nil {
			d.failed = map[string]bool{}
		}
		d.failed[key] = true
		return nil, err
	}
	if d.failed[key] {
		d.logger().Info("deadlock detector reaches the node again", "node", n.Name)
		delete(d.failed, key)
	}
	return rows, nil
}

func (d *Detector) queryConn(ctx context.Context, key string, n Node, sql string) ([][]string, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout())
	defer cancel()
	c := d.conns[key]
	if c == nil || c.IsClosed() {
		var err error
		if c, err = d.connect(ctx, n); err != nil {
			return nil, err
		}
		if d.conns == nil {
			d.conns = map[string]*pgconn.PgConn{}
		}
		d.conns[key] = c
	}
	results, err := c.Exec(ctx, sql).ReadAll()
	if err != nil {
		return nil, err
	}
	var out [][]string
	for _, r := range results {
		if r.Err != nil {
			return nil, r.Err
		}
		for _, row := range r.Rows {
			vals := make([]string, len(row))
			for i, v := range row {
				vals[i] = string(v)
			}
			out = append(out, vals)
		}
	}
	return out, nil
}

func (d *Detector) connect(ctx context.Context, n Node) (*pgconn.PgConn, error) {
	dsn := fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=disable application_name=%s",
		connValue(n.Host), n.Port, connValue(d.User), connValue("xlgo deadlock detector"))
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if d.Password != nil {
		cfg.Password = d.Password(n.Host, n.Port, "postgres", d.User)
	}
	c, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", n.Name, err)
	}
	return c, nil
}

func (d *Detector) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return 5 * time.Second
}

func (d *Detector) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

func (d *Detector) coordinators() []Node {
	if d.Coordinators == nil {
		return nil
	}
	ns := d.Coordinators()
	slices.SortFunc(ns, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	return ns
}

func (d *Detector) datanodes() []Node {
	if d.Datanodes == nil {
		return nil
	}
	return d.Datanodes()
}

// parseBackend reads a pgxc_backends() row, "session node pid", of coordinator coord.
func parseBackend(coord, line string) (Backend, error) {
	f := strings.Fields(line)
	if len(f) != 3 {
		return Backend{}, errors.New("want session, node and pid")
	}
	s, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return Backend{}, err
	}
	pid, err := strconv.Atoi(f[2])
	if err != nil {
		return Backend{}, err
	}
	return Backend{Tx: TxID{Coordinator: coord, Session: s}, Node: f[1], PID: pid}, nil
}

// parsePIDArray reads the text form of an int[] ("{1,2}").
func parsePIDArray(s string) ([]int, error) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("pid array %q: %w", s, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// connValue quotes a keyword/value connection string value.
func connValue(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
