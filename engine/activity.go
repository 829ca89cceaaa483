package engine

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xlgo/xlgo/executor"
	"github.com/xlgo/xlgo/planner"
	"github.com/xlgo/xlgo/pooler"
)

// StatActivityWait bounds the gathering of pgxc_stat_activity's rows.
const StatActivityWait = 10 * time.Second

// statActivityQuery reads a datanode's backends but the one asking; times
// are ISO 8601 in UTC, whatever the backend's DateStyle and TimeZone.
const statActivityQuery = `SELECT pid, datname, usename, application_name, state, query,
	pg_catalog.to_char(backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
	pg_catalog.to_char(xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
	pg_catalog.to_char(query_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
	wait_event_type, wait_event, backend_type
	FROM pg_catalog.pg_stat_activity WHERE pid <> pg_catalog.pg_backend_pid() ORDER BY pid`

// statActivity gathers the rows of pgxc_stat_activity: every datanode's
// backends, read at once through the pool as the session's user in its
// database, with the session of this coordinator that holds each. A
// backend's coordinator is the one its application_name names, else this
// one for a backend one of its sessions holds (else unknown: the backends
// of other coordinators' sessions carry their clients' application_name).
func (s *session) statActivity(ctx context.Context) ([]planner.BackendActivity, error) {
	ctx, cancel := context.WithTimeout(ctx, StatActivityWait)
	defer cancel()
	nodes := s.datanodeNames()
	rows := make([][]planner.BackendActivity, len(nodes))
	errs := make([]error, len(nodes))
	// A session holding the snapshot gate must not wait for a backend that
	// someone waiting for the gate holds.
	noWait := s.gate != nil
	var wg sync.WaitGroup
	for i, node := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows[i], errs[i] = s.co.nodeActivity(ctx, pooler.Key{Node: node, Database: s.db, User: s.user}, noWait)
		}()
	}
	wg.Wait()
	held := map[nodePID]uint64{}
	for _, b := range s.co.Backends() {
		held[nodePID{b.Node, b.PID}] = b.Session
	}
	var out []planner.BackendActivity
	for i := range nodes {
		if errs[i] != nil {
			return nil, errs[i]
		}
		for _, r := range rows[i] {
			r.SessionID = held[nodePID{r.Node, uint32(r.PID)}]
			if r.SessionID != 0 && r.Coordinator == nil {
				// A session's backend takes its client's application_name.
				r.Coordinator = &s.co.Name
			}
			out = append(out, r)
		}
	}
	return out, nil
}

type nodePID struct {
	node string
	pid  uint32
}

// nodeActivity reads one datanode's pg_stat_activity.
func (c *Coordinator) nodeActivity(ctx context.Context, key pooler.Key, noWait bool) ([]planner.BackendActivity, error) {
	get := c.Pool.Get
	if noWait {
		get = c.Pool.GetNoWait
	}
	conn, err := get(ctx, key, "")
	if err != nil {
		return nil, executor.NodeError(key.Node, err)
	}
	res := conn.ExecParams(ctx, statActivityQuery, nil, nil, nil, nil).Read()
	if res.Err != nil {
		c.Pool.Discard(conn)
		return nil, executor.NodeError(key.Node, res.Err)
	}
	c.Pool.Put(conn)
	str := func(b []byte) *string {
		if b == nil {
			return nil
		}
		v := string(b)
		return &v
	}
	out := make([]planner.BackendActivity, 0, len(res.Rows))
	for _, r := range res.Rows {
		a := planner.BackendActivity{Node: key.Node, Database: str(r[1]), User: str(r[2]), ApplicationName: str(r[3]),
			State: str(r[4]), Query: str(r[5]), BackendStart: str(r[6]), XactStart: str(r[7]), QueryStart: str(r[8]),
			WaitEventType: str(r[9]), WaitEvent: str(r[10]), BackendType: str(r[11])}
		if pid, err := strconv.ParseInt(string(r[0]), 10, 32); err == nil {
			a.PID = int32(pid)
		}
		if a.ApplicationName != nil {
			a.Coordinator = coordinatorOf(*a.ApplicationName)
		}
		out = append(out, a)
	}
	return out, nil
}

// coordinatorOf is the coordinator named in a backend's application_name
// ("xlgo NAME", perhaps followed by more), or nil.
func coordinatorOf(app string) *string {
	f := strings.Fields(app)
	if len(f) < 2 || f[0] != "xlgo" {
		return nil
	}
	return &f[1]
}
