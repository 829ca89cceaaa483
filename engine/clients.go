package engine

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/server"
)

// adminState is what the admin console keeps of the coordinator's clients.
type adminState struct {
	clients sync.Map // session id -> *client
	pause   pauseGate
	stats   statsByDB
}

// DefaultQueryWait bounds how long a transaction waits at a PAUSE when its
// session has no statement_timeout.
const DefaultQueryWait = 120 * time.Second

// Client states, as SHOW CLIENTS names them.
const (
	clientIdle int32 = iota
	clientActive
	clientWaiting // at a PAUSE
)

// client is a session as its connection sees it: the session itself, and
// what the admin console shows of it or does to it. Its methods run on the
// connection's goroutine, but Cancel and the atomics.
type client struct {
	*session
	addr      net.Addr
	appName   string
	connected time.Time
	terminate func()
	stats     *dbStats

	state   atomic.Int32
	inTx    atomic.Bool  // a transaction is open: a PAUSE waits for its end
	request atomic.Int64 // when the last message came (Unix nanoseconds)
	txStart time.Time

	waitMu   sync.Mutex
	stopWait context.CancelFunc // ends a wait at a PAUSE (a CancelRequest)

	cw countingWriter
}

// newClient wraps a session that has just started.
func (c *Coordinator) newClient(s *session, st server.Startup) *client {
	cl := &client{session: s, addr: st.RemoteAddr, appName: st.Params["application_name"], connected: time.Now(),
		terminate: st.Terminate, stats: c.admin.stats.of(s.db)}
	cl.cw.stats = cl.stats
	c.admin.clients.Store(s.id, cl)
	return cl
}

// txOpen tells whether the session's transaction (an explicit block, or an
// extended-protocol batch before its Sync) is still open.
func (c *client) txOpen() bool { return c.session.tx.active || c.session.inBatch }

// begin starts the handling of a message that may start a transaction: a
// new one waits while the session's database is paused.
func (c *client) begin(ctx context.Context) error {
	c.request.Store(time.Now().UnixNano())
	if !c.inTx.Load() {
		if err := c.enter(ctx); err != nil {
			return err
		}
		c.txStart = time.Now()
	}
	c.state.Store(clientActive)
	return nil
}

// finish ends the handling of a message; a query's time counts.
func (c *client) finish(start time.Time, query bool) {
	now := time.Now()
	if query {
		c.stats.queries.Add(1)
		c.stats.queryTime.Add(micros(now.Sub(start)))
	}
	if n := c.cw.take(); n > 0 {
		c.stats.sent.Add(n)
	}
	if c.inTx.Load() && !c.txOpen() {
		c.inTx.Store(false)
		c.stats.xacts.Add(1)
		c.stats.xactTime.Add(micros(now.Sub(c.txStart)))
	}
	c.state.Store(clientIdle)
}

// enter marks a transaction open, unless the session's database is paused:
// it then waits for RESUME, bounded by the session's statement_timeout (or
// DefaultQueryWait). The mark comes before the look at the pause and a PAUSE
// sets its pause before it looks at the marks: either this transaction
// waits, or the PAUSE waits for it.
func (c *client) enter(ctx context.Context) error {
	g := &c.co.admin.pause
	var timer *time.Timer
	var wctx context.Context
	var start time.Time
	defer func() {
		if timer == nil {
			return
		}
		timer.Stop()
		c.waitMu.Lock()
		c.stopWait()
		c.stopWait = nil
		c.waitMu.Unlock()
		c.stats.waitTime.Add(micros(time.Since(start)))
		c.state.Store(clientIdle)
	}()
	for {
		c.inTx.Store(true)
		if !g.on.Load() {
			return nil
		}
		paused, resumed := g.paused(c.db)
		if !paused {
			return nil
		}
		c.inTx.Store(false)
		if timer == nil {
			start = time.Now()
			d := DefaultQueryWait
			if c.session.timeoutKnown && c.session.timeout > 0 {
				d = c.session.timeout
			}
			timer = time.NewTimer(d)
			c.waitMu.Lock()
			wctx, c.stopWait = context.WithCancel(ctx)
			c.waitMu.Unlock()
			c.state.Store(clientWaiting)
		}
		select {
		case <-resumed:
		case <-timer.C:
			return pgerr.New(pgerr.QueryCanceled, "query_wait_timeout")
		case <-wctx.Done():
			if err := ctx.Err(); err != nil {
				return err
			}
			return pgerr.New(pgerr.QueryCanceled, "canceling statement due to user request")
		}
	}
}

// SimpleQuery implements server.Session.
func (c *client) SimpleQuery(ctx context.Context, sql string, w server.ResultWriter) error {
	if err := c.begin(ctx); err != nil {
		return err
	}
	start := time.Now()
	c.stats.received.Add(int64(len(sql)))
	c.cw.ResultWriter = w
	defer c.finish(start, true)
	return c.session.SimpleQuery(ctx, sql, &c.cw)
}

// Parse implements server.ExtendedSession.
func (c *client) Parse(ctx context.Context, name, sql string, paramOIDs []uint32) error {
	if err := c.begin(ctx); err != nil {
		return err
	}
	c.stats.received.Add(int64(len(sql)))
	defer c.finish(time.Time{}, false)
	return c.session.Parse(ctx, name, sql, paramOIDs)
}

// Bind implements server.ExtendedSession.
func (c *client) Bind(ctx context.Context, portal, stmt string, paramFormats []int16, params [][]byte, resultFormats []int16) error {
	n := 0
	for _, p := range params {
		n += len(p)
	}
	c.stats.received.Add(int64(n))
	return c.session.Bind(ctx, portal, stmt, paramFormats, params, resultFormats)
}

// Execute implements server.ExtendedSession.
func (c *client) Execute(ctx context.Context, portal string, maxRows uint32, w server.ResultWriter) (bool, error) {
	if err := c.begin(ctx); err != nil {
		return false, err
	}
	start := time.Now()
	c.cw.ResultWriter = w
	defer c.finish(start, true)
	return c.session.Execute(ctx, portal, maxRows, &c.cw)
}

// Sync implements server.ExtendedSession.
func (c *client) Sync(ctx context.Context) error {
	defer c.finish(time.Time{}, false)
	return c.session.Sync(ctx)
}

// Cancel implements server.Session: a wait at a PAUSE ends too.
func (c *client) Cancel() {
	c.waitMu.Lock()
	if c.stopWait != nil {
		c.stopWait()
	}
	c.waitMu.Unlock()
	c.session.Cancel()
}

// Close implements server.Session.
func (c *client) Close() {
	c.session.Close()
	c.inTx.Store(false)
	c.co.admin.clients.Delete(c.id)
}

// clientList is the coordinator's clients by id.
func (c *Coordinator) clientList() []*client {
	var out []*client
	c.admin.clients.Range(func(_, v any) bool {
		out = append(out, v.(*client))
		return true
	})
	slices.SortFunc(out, func(a, b *client) int { return compareUint(a.id, b.id) })
	return out
}

func compareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// stateName is the client's state as SHOW CLIENTS prints it.
func (c *client) stateName() string {
	switch c.state.Load() {
	case clientActive:
		return "active"
	case clientWaiting:
		return "waiting"
	}
	if c.inTx.Load() {
		return "idle in transaction"
	}
	return "idle"
}

// heldNodes are the datanodes the client holds backends on, by name.
func (c *client) heldNodes() []string {
	c.session.mu.Lock()
	defer c.session.mu.Unlock()
	out := make([]string, 0, len(c.session.conns))
	for n := range c.session.conns {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// pauseGate holds new transactions back while the coordinator, or some of
// its databases, are paused.
type pauseGate struct {
	on      atomic.Bool // something is paused: a transaction looks closer
	mu      sync.Mutex
	all     bool
	dbs     map[string]bool
	resumed chan struct{} // closed by the next RESUME
}

// paused tells whether db is paused, and gives the channel RESUME closes.
func (g *pauseGate) paused(db string) (bool, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.all || g.dbs[db], g.resumed
}

// pause pauses db, or everything when db is "".
func (g *pauseGate) pause(db string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if db == "" {
		g.all = true
	} else {
		if g.dbs == nil {
			g.dbs = map[string]bool{}
		}
		g.dbs[db] = true
	}
	if g.resumed == nil {
		g.resumed = make(chan struct{})
	}
	g.on.Store(true)
}

// errResumeOne is RESUME db while everything is paused.
var errResumeOne = errors.New("everything is paused")

// resume lets the transactions of db, or of every database when db is "",
// go on at once.
func (g *pauseGate) resume(db string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if db == "" {
		g.all = false
		clear(g.dbs)
	} else {
		if g.all {
			return errResumeOne
		}
		delete(g.dbs, db)
	}
	if g.resumed != nil {
		close(g.resumed)
		g.resumed = make(chan struct{})
	}
	g.on.Store(g.all || len(g.dbs) > 0)
	return nil
}

// pausedNames are what is paused: "*" for everything, else database names.
func (g *pauseGate) pausedNames() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.all {
		return []string{"*"}
	}
	var out []string
	for db := range g.dbs {
		out = append(out, db)
	}
	slices.Sort(out)
	return out
}

// runningTx are the clients of db (of any database when db is "") with a
// transaction open.
func (c *Coordinator) runningTx(db string) []*client {
	var out []*client
	for _, cl := range c.clientList() {
		if cl.inTx.Load() && (db == "" || cl.db == db) {
			out = append(out, cl)
		}
	}
	return out
}

// countingWriter counts the bytes of row values and COPY data a client is
// sent, and of the COPY data it sends.
type countingWriter struct {
	server.ResultWriter
	sent  int64
	stats *dbStats
}

func (w *countingWriter) take() int64 {
	n := w.sent
	w.sent = 0
	return n
}

func (w *countingWriter) DataRow(values [][]byte) error {
	for _, v := range values {
		w.sent += int64(len(v))
	}
	return w.ResultWriter.DataRow(values)
}

func (w *countingWriter) CopyData(data []byte) error {
	w.sent += int64(len(data))
	return w.ResultWriter.CopyData(data)
}

func (w *countingWriter) ReceiveCopyData() ([]byte, error) {
	b, err := w.ResultWriter.ReceiveCopyData()
	if w.stats != nil {
		w.stats.received.Add(int64(len(b)))
	}
	return b, err
}
