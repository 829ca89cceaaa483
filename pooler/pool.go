package pooler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/xlgo/xlgo/pgerr"
	"github.com/xlgo/xlgo/rawconn"
)

// Key names one pool: connections to one datanode as one user in one database.
type Key struct {
	Node, Database, User string
}

// Conn is a pooled backend connection to a datanode.
type Conn struct {
	*pgconn.PgConn
	Key Key
	// Host and Port are the address the backend was reached at (its
	// node's address then; a failover moves the node, not the backend).
	Host string
	Port int
	// Settings names the session settings applied on this backend (the
	// caller's own digest of its SET statements; "" for none), so that a
	// session finds a backend already set as it needs.
	Settings string
	// prepared maps statement text to the name (and parameter types) it is
	// prepared under on this backend, so a statement sent with parameters is
	// parsed once per backend.
	prepared map[string]preparedAs
	// PreparedGen is the catalog generation its prepared statements belong to.
	PreparedGen uint64
	idleAt      time.Time
	connectedAt time.Time
	notice      func(*pgconn.Notice)
	mu          sync.Mutex
	// CancelRequests on their way to the backend (CancelAsync).
	cancelling atomic.Int32
	cancelled  sync.WaitGroup
}

// Prepared returns the description of a statement (text and parameter
// types) as prepared on this backend, preparing it the first time; nil when
// it is not to be prepared (the text prepared already with other types, or
// enough statements prepared).
func (c *Conn) Prepared(ctx context.Context, sql string, oids []uint32) (*pgconn.StatementDescription, error) {
	if ps, ok := c.prepared[sql]; ok {
		if !slices.Equal(ps.oids, oids) {
			return nil, nil
		}
		return ps.sd, nil
	}
	if c.prepared == nil {
		c.prepared = map[string]preparedAs{}
	}
	if len(c.prepared) >= 500 {
		return nil, nil // enough: the rest go unnamed
	}
	name := "xlgo_" + strconv.Itoa(len(c.prepared)+1)
	sd, err := c.Prepare(ctx, name, sql, oids)
	if err != nil {
		return nil, err
	}
	c.prepared[sql] = preparedAs{sd: sd, oids: slices.Clone(oids)}
	return sd, nil
}

// preparedAs is a statement prepared on a backend: its description
// (name, parameter and result types) and the parameter types asked for.
type preparedAs struct {
	sd   *pgconn.StatementDescription
	oids []uint32
}

// CancelAsync sends the backend a CancelRequest from another goroutine;
// Put keeps the backend out of the pool until it has been delivered. done,
// if not nil, is called after.
func (c *Conn) CancelAsync(done func()) {
	c.cancelling.Add(1)
	c.cancelled.Add(1)
	go func() {
		defer c.cancelled.Done()
		defer c.cancelling.Add(-1)
		c.CancelRequest(context.Background())
		if done != nil {
			done()
		}
	}()
}

// ConnectedAt is when the connection was opened.
func (c *Conn) ConnectedAt() time.Time { return c.connectedAt }

// ForgetPrepared drops what Prepared knows (after DISCARD ALL or DEALLOCATE ALL).
func (c *Conn) ForgetPrepared() { c.prepared = nil }

// HasPrepared tells whether statements are prepared on the backend.
func (c *Conn) HasPrepared() bool { return len(c.prepared) > 0 }

// SetNoticeHandler routes the backend's notices to fn (nil drops them).
func (c *Conn) SetNoticeHandler(fn func(*pgconn.Notice)) {
	c.mu.Lock()
	c.notice = fn
	c.mu.Unlock()
}

func (c *Conn) onNotice(n *pgconn.Notice) {
	c.mu.Lock()
	fn := c.notice
	c.mu.Unlock()
	if fn != nil {
		fn(n)
	}
}

// Resolver gives a datanode's address; ok is false for an unknown node.
type Resolver func(node string) (host string, port int, ok bool)

// Options tune a Pool.
type Options struct {
	MaxPerKey      int           // open connections per key, busy or idle (default 100)
	MaxIdlePerKey  int           // idle connections kept per key (default 16)
	IdleTimeout    time.Duration // idle connections older than this are closed (default 5 min)
	ConnectTimeout time.Duration // default 10 s
	WaitTimeout    time.Duration // how long Get waits for a free connection (default 30 s)
	AppName        string        // application_name the datanodes see
	Logger         *slog.Logger
	// Password, when set, gives the password for a connection to host:port
	// for key ("" for none).
	Password func(key Key, host string, port int) string
	// Failover, when set, is asked when a datanode cannot be reached at
	// host:port: it may wait (bounded, and within ctx) for the node to fail
	// over, and reports whether the node's address changed meanwhile; the
	// connection is then tried again at the new address.
	Failover func(ctx context.Context, node, host string, port int) bool
}

// Pool is the set of pools of one coordinator.
type Pool struct {
	resolve  Resolver
	opts     Options
	mu       sync.Mutex
	idle     map[Key][]*Conn
	open     map[Key]int           // connections per key, busy and idle
	wait     map[Key]chan struct{} // closed when a connection of the key is freed
	closed   bool
	dropping map[string]int // databases being dropped: their connections are not kept
	counts   map[Key]*keyCounts
}

// keyCounts are a key's figures beyond its open and idle connections.
type keyCounts struct {
	waitStarts            []time.Time // when the callers of Get waiting now began to
	gets, waits, connects uint64
	waitTime              time.Duration
}

// countsLocked is key k's figures, made on first use (p.mu held).
func (p *Pool) countsLocked(k Key) *keyCounts {
	kc := p.counts[k]
	if kc == nil {
		kc = &keyCounts{}
		p.counts[k] = kc
	}
	return kc
}

// The pool's default sizes and timeouts.
const (
	DefaultMaxPerKey     = 100
	DefaultMaxIdlePerKey = 16
	DefaultIdleTimeout   = 5 * time.Minute
	DefaultWaitTimeout   = 30 * time.Second
)

// New makes a pool that finds datanodes with resolve.
func New(resolve Resolver, opts Options) *Pool {
	if opts.MaxIdlePerKey == 0 {
		opts.MaxIdlePerKey = DefaultMaxIdlePerKey
	}
	if opts.MaxPerKey == 0 {
		opts.MaxPerKey = DefaultMaxPerKey
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.WaitTimeout == 0 {
		opts.WaitTimeout = DefaultWaitTimeout
	}
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	p := &Pool{resolve: resolve, opts: opts, idle: map[Key][]*Conn{}, open: map[Key]int{}, wait: map[Key]chan struct{}{},
		counts: map[Key]*keyCounts{}}
	go p.reap(opts.IdleTimeout / 4)
	return p
}

// reap closes connections idle for longer than the idle timeout, looking
// every so often (a quarter of the idle timeout the pool started with).
func (p *Pool) reap(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		var old []*Conn
		for k, list := range p.idle {
			keep := list[:0]
			for _, c := range list {
				if time.Since(c.idleAt) > p.opts.IdleTimeout {
					old = append(old, c)
					p.open[k]--
				} else {
					keep = append(keep, c)
				}
			}
			p.idle[k] = keep
			p.signalLocked(k)
		}
		p.mu.Unlock()
		for _, c := range old {
			c.Close(context.Background())
		}
	}
}

// signalLocked wakes those waiting for a connection of key k.
func (p *Pool) signalLocked(k Key) {
	if ch, ok := p.wait[k]; ok {
		close(ch)
		delete(p.wait, k)
	}
}

// Stats counts the connections of the pool.
type Stats struct{ Open, Idle int }

// Stats tells how many connections are open and idle.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	var st Stats
	for _, n := range p.open {
		st.Open += n
	}
	for _, l := range p.idle {
		st.Idle += len(l)
	}
	return st
}

// KeyStats are one key's figures: connections open (Active of them lent
// out, Idle kept), callers waiting for one now, and since the start the
// connections lent (Gets), the lendings that had to wait (Waits) and how
// long they waited in all, the connections opened. MaxWait is the longest
// wait of those waiting now (pgbouncer's maxwait).
type KeyStats struct {
	Key
	Open, Idle, Active, Waiting int
	Gets, Waits, Connects       uint64
	WaitTime, MaxWait           time.Duration
}

// KeyStats lists the figures of every key that has had a connection.
func (p *Pool) KeyStats() []KeyStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []KeyStats
	for k, kc := range p.counts {
		st := KeyStats{Key: k, Open: p.open[k], Idle: len(p.idle[k]), Waiting: len(kc.waitStarts), Gets: kc.gets, Waits: kc.waits,
			Connects: kc.connects, WaitTime: kc.waitTime}
		st.Active = st.Open - st.Idle
		if len(kc.waitStarts) > 0 {
			st.MaxWait = time.Since(slices.MinFunc(kc.waitStarts, func(a, b time.Time) int { return a.Compare(b) }))
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b KeyStats) int {
		return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.Database, b.Database), cmp.Compare(a.User, b.User))
	})
	return out
}

// IdleConn is a connection kept idle in the pool.
type IdleConn struct {
	Key
	PID                  uint32
	Connected, IdleSince time.Time
}

// IdleConns lists the idle connections, by key and then oldest idle first.
func (p *Pool) IdleConns() []IdleConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []IdleConn
	for k, list := range p.idle {
		for _, c := range list {
			out = append(out, IdleConn{Key: k, PID: c.PID(), Connected: c.connectedAt, IdleSince: c.idleAt})
		}
	}
	slices.SortFunc(out, func(a, b IdleConn) int {
		return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.Database, b.Database), cmp.Compare(a.User, b.User),
			a.IdleSince.Compare(b.IdleSince))
	})
	return out
}

// Limits are the pool's sizes and timeouts that SetLimits may change.
type Limits struct {
	MaxPerKey, MaxIdlePerKey int
	IdleTimeout, WaitTimeout time.Duration
}

// Limits tells the pool's present sizes and timeouts.
func (p *Pool) Limits() Limits {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Limits{MaxPerKey: p.opts.MaxPerKey, MaxIdlePerKey: p.opts.MaxIdlePerKey, IdleTimeout: p.opts.IdleTimeout, WaitTimeout: p.opts.WaitTimeout}
}

// SetLimits changes the pool's sizes and timeouts (a reload); zero fields
// keep theirs. Connections beyond a smaller size close as they come back.
func (p *Pool) SetLimits(l Limits) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l.MaxPerKey > 0 {
		p.opts.MaxPerKey = l.MaxPerKey
	}
	if l.MaxIdlePerKey > 0 {
		p.opts.MaxIdlePerKey = l.MaxIdlePerKey
	}
	if l.IdleTimeout > 0 {
		p.opts.IdleTimeout = l.IdleTimeout
	}
	if l.WaitTimeout > 0 {
		p.opts.WaitTimeout = l.WaitTimeout
	}
	for k := range p.wait {
		p.signalLocked(k) // a larger size lets waiters in
	}
}

// SetPassword sets Options.Password; call it before the pool is used.
func (p *Pool) SetPassword(fn func(key Key, host string, port int) string) { p.opts.Password = fn }

// SetFailover sets Options.Failover; call it before the pool is used.
func (p *Pool) SetFailover(fn func(ctx context.Context, node, host string, port int) bool) {
	p.opts.Failover = fn
}

// Get borrows a connection for key, preferring an idle one whose settings
// are the ones asked for; it opens one when none is idle, and waits when
// the key already has MaxPerKey connections. The caller brings a backend
// with other Settings to its own (and sets Settings).
func (p *Pool) Get(ctx context.Context, key Key, settings string) (*Conn, error) {
	return p.get(ctx, key, settings, true)
}

// GetNoWait is Get for a caller that must not wait for another borrower to
// give a connection back (it holds something they may wait for): when the
// key has MaxPerKey connections and none is idle, it fails at once.
func (p *Pool) GetNoWait(ctx context.Context, key Key, settings string) (*Conn, error) {
	return p.get(ctx, key, settings, false)
}

// TryIdle returns an idle connection of key already set as settings, or
// nil: it neither connects nor waits (no context, no timer: the common case
// of a busy pool costs a lock).
func (p *Pool) TryIdle(key Key, settings string) *Conn {
	for {
		p.mu.Lock()
		list := p.idle[key]
		pick := pickIdle(list, settings)
		if pick < 0 {
			p.mu.Unlock()
			return nil
		}
		c := list[pick]
		p.idle[key] = append(list[:pick], list[pick+1:]...)
		p.countsLocked(key).gets++
		if p.claim(c, key) {
			return c
		}
	}
}

// pickIdle is the index of the most recently idle connection of list set
// as settings, or -1.
func pickIdle(list []*Conn, settings string) int {
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Settings == settings {
			return i
		}
	}
	return -1
}

// claim hands c, just taken off its idle list with p.mu held, to a caller;
// it unlocks p.mu. It reports false, and drops c, when c is closed or its
// backend ended while it was idle (the datanode was shut down or
// restarted: a statement sent on it would only read that backend's FATAL).
func (p *Pool) claim(c *Conn, key Key) bool {
	if c.IsClosed() {
		p.open[key]--
		p.mu.Unlock()
		return false
	}
	p.mu.Unlock()
	if p.moved(c) || time.Since(c.idleAt) >= quietCheckAfter && !quiet(c) {
		c.PgConn.Conn().Close()
		p.mu.Lock()
		p.open[key]--
		p.signalLocked(key)
		p.mu.Unlock()
		return false
	}
	return true
}

func (p *Pool) get(ctx context.Context, key Key, settings string, wait bool) (*Conn, error) {
	var deadline *time.Timer // made once Get has to wait
	var waitStart time.Time
	// done records the end of a wait (p.mu held).
	done := func(kc *keyCounts) {
		if !waitStart.IsZero() {
			kc.waitTime += time.Since(waitStart)
			if i := slices.IndexFunc(kc.waitStarts, waitStart.Equal); i >= 0 {
				kc.waitStarts = slices.Delete(kc.waitStarts, i, i+1)
			}
			waitStart = time.Time{}
		}
	}
	defer func() {
		if deadline != nil {
			deadline.Stop()
		}
		if !waitStart.IsZero() {
			p.mu.Lock()
			done(p.countsLocked(key))
			p.mu.Unlock()
		}
	}()
	for {
		p.mu.Lock()
		kc := p.countsLocked(key)
		list := p.idle[key]
		pick := pickIdle(list, settings)
		if pick < 0 && len(list) > 0 && p.open[key] >= p.opts.MaxPerKey {
			pick = 0 // the oldest, to be reset by the caller
		}
		if pick >= 0 {
			c := list[pick]
			p.idle[key] = append(list[:pick], list[pick+1:]...)
			done(kc)
			kc.gets++
			if !p.claim(c, key) {
				continue
			}
			return c, nil
		}
		if p.open[key] < p.opts.MaxPerKey {
			p.open[key]++
			done(kc)
			kc.gets++
			kc.connects++
			p.mu.Unlock()
			c, err := p.connect(ctx, key)
			if err != nil {
				p.mu.Lock()
				p.open[key]--
				p.signalLocked(key)
				p.mu.Unlock()
				return nil, err
			}
			return c, nil
		}
		maxPerKey, waitTimeout := p.opts.MaxPerKey, p.opts.WaitTimeout
		if !wait {
			p.mu.Unlock()
			return nil, &pgconn.PgError{Severity: "ERROR", Code: pgerr.TooManyConnections,
				Message: fmt.Sprintf("no free connection to datanode %s: %d are in use", key.Node, maxPerKey)}
		}
		if waitStart.IsZero() {
			waitStart = time.Now()
			kc.waitStarts = append(kc.waitStarts, waitStart)
			kc.waits++
		}
		ch, ok := p.wait[key]
		if !ok {
			ch = make(chan struct{})
			p.wait[key] = ch
		}
		p.mu.Unlock()
		if deadline == nil {
			deadline = time.NewTimer(waitTimeout)
		}
		select {
		case <-ch:
			continue
		case <-ctx.Done():
			return nil, &pgconn.PgError{Severity: "ERROR", Code: pgerr.QueryCanceled, Message: "canceling statement due to user request"}
		case <-deadline.C:
		}
		return nil, &pgconn.PgError{Severity: "ERROR", Code: pgerr.TooManyConnections,
			Message: fmt.Sprintf("no free connection to datanode %s: %d are in use", key.Node, maxPerKey)}
	}
}

// connect opens a connection for key; when the datanode cannot be reached
// and Failover reports a new address, at that address.
func (p *Pool) connect(ctx context.Context, key Key) (*Conn, error) {
	for {
		c, host, port, err := p.connectOnce(ctx, key)
		if _, refused := unwrapPgError(err); err == nil || refused || p.opts.Failover == nil || ctx.Err() != nil ||
			!p.opts.Failover(ctx, key.Node, host, port) {
			return c, p.connectError(key, host, port, err)
		}
	}
}

// connectError is what a statement that needed the connection gets.
func (p *Pool) connectError(key Key, host string, port int, err error) error {
	if err == nil {
		return nil
	}
	if pe, ok := unwrapPgError(err); ok {
		// The datanode refused us (no such database, role, starting
		// up...): its words, as an ERROR of the statement that needed
		// the backend, not the end of the client's session.
		c := *pe
		if c.Severity == "FATAL" || c.Severity == "PANIC" {
			c.Severity, c.SeverityUnlocalized = "ERROR", "ERROR"
		}
		if c.Where == "" {
			c.Where = "datanode " + key.Node
		}
		return &c
	}
	return &pgconn.PgError{
		Severity: "ERROR", Code: pgerr.SqlclientUnableToEstablishSqlconnection,
		Message: fmt.Sprintf("could not connect to datanode %s (%s): %v", key.Node, net.JoinHostPort(host, strconv.Itoa(port)), rootCause(err)),
	}
}

func (p *Pool) connectOnce(ctx context.Context, key Key) (*Conn, string, int, error) {
	host, port, ok := p.resolve(key.Node)
	if !ok {
		return nil, "", 0, &pgconn.PgError{Severity: "ERROR", Code: pgerr.UndefinedObject, Message: fmt.Sprintf("PGXC Node %s: object not defined", key.Node)}
	}
	cfg, err := pgconn.ParseConfig("sslmode=disable")
	if err != nil {
		return nil, host, port, err
	}
	cfg.Host = host
	cfg.Port = uint16(port)
	cfg.User = key.User
	cfg.Database = key.Database
	cfg.ConnectTimeout = p.opts.ConnectTimeout
	if p.opts.Password != nil {
		cfg.Password = p.opts.Password(key, host, port)
	}
	cfg.RuntimeParams = map[string]string{}
	if p.opts.AppName != "" {
		cfg.RuntimeParams["application_name"] = p.opts.AppName
	}
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{KeepAlive: 5 * time.Minute}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return rawconn.Wrap(nc), nil
	}
	c := &Conn{Key: key, Host: host, Port: port}
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { c.onNotice(n) }
	// A statement whose context ends (its client went, or cancelled) is
	// cancelled on the datanode too, not only abandoned there.
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: time.Second}
	}
	pc, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, host, port, err
	}
	c.PgConn = pc
	c.connectedAt = time.Now()
	return c, host, port, nil
}

// quietCheckAfter is how long a connection sits idle before Get checks that
// its backend did not end meanwhile (a system call): a connection reused at
// once, as under load, is not checked; one whose backend ended in that
// moment fails its statement with an ERROR naming the datanode.
const quietCheckAfter = 100 * time.Millisecond

// quiet reports whether an idle connection has received nothing since it
// was put back (see rawconn.Conn.Quiet); a connection that cannot tell is
// taken as quiet.
func quiet(c *Conn) bool {
	if q, ok := c.PgConn.Conn().(interface{ Quiet() bool }); ok {
		return q.Quiet()
	}
	return true
}

func unwrapPgError(err error) (*pgconn.PgError, bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe, true
	}
	return nil, false
}

func rootCause(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

// Put returns a connection. A broken one, or one inside a transaction,
// is closed instead.
func (p *Pool) Put(c *Conn) {
	if c == nil || c.PgConn == nil {
		return
	}
	c.SetNoticeHandler(nil)
	if c.cancelling.Load() > 0 {
		// A CancelRequest on its way could stop the next borrower's
		// statement: the backend goes back once it has been delivered (a
		// backend told to cancel while idle forgets it).
		go func() {
			c.cancelled.Wait()
			p.put(c)
		}()
		return
	}
	p.put(c)
}

func (p *Pool) put(c *Conn) {
	moved := p.moved(c)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || moved || c.IsClosed() || c.IsBusy() || c.TxStatus() != 'I' || p.dropping[c.Key.Database] > 0 ||
		len(p.idle[c.Key]) >= p.opts.MaxIdlePerKey {
		p.open[c.Key]--
		p.signalLocked(c.Key)
		go c.Close(context.Background())
		return
	}
	c.idleAt = time.Now()
	p.idle[c.Key] = append(p.idle[c.Key], c)
	p.signalLocked(c.Key)
}

// moved tells whether c's datanode is no longer at the address c reached
// it at (failed over, or altered): a backend of the old address is never
// lent again, lest a session read a fenced old primary.
func (p *Pool) moved(c *Conn) bool {
	if c.Host == "" {
		return false
	}
	host, port, ok := p.resolve(c.Key.Node)
	return !ok || host != c.Host || port != c.Port
}

// Discard closes a connection that must not be reused.
func (p *Pool) Discard(c *Conn) {
	if c == nil || c.PgConn == nil {
		return
	}
	p.mu.Lock()
	p.open[c.Key]--
	p.signalLocked(c.Key)
	p.mu.Unlock()
	go c.Close(context.Background())
}

// CloseIdle closes the idle connections whose key matches (nil matches all)
// and tells how many it closed (pgxc_pool_reload, CLEAN CONNECTION).
func (p *Pool) CloseIdle(match func(Key) bool) int {
	p.mu.Lock()
	var victims []*Conn
	for k, list := range p.idle {
		if match == nil || match(k) {
			victims = append(victims, list...)
			p.open[k] -= len(list)
			delete(p.idle, k)
			p.signalLocked(k)
		}
	}
	p.mu.Unlock()
	for _, c := range victims {
		c.Close(context.Background())
	}
	return len(victims)
}

// Dropping stops pooling connections to a database and closes its idle
// ones, until the returned function is called (DROP DATABASE).
func (p *Pool) Dropping(db string) (done func()) {
	p.mu.Lock()
	if p.dropping == nil {
		p.dropping = map[string]int{}
	}
	p.dropping[db]++
	p.mu.Unlock()
	p.CloseIdle(func(k Key) bool { return k.Database == db })
	return func() {
		p.mu.Lock()
		p.dropping[db]--
		p.mu.Unlock()
	}
}

// IdleCount is the number of idle connections held.
func (p *Pool) IdleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.idle {
		n += len(l)
	}
	return n
}

// Close closes every idle connection and stops pooling.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.CloseIdle(nil)
}
